#!/usr/bin/env python3
"""Evaluate a tutor model against an untrained (random) model of the same shape.

Measures, for the trained model and for a seeded random initialisation of its config:

- perplexity of the held-out curriculum's lesson text (the Markdown bodies under
  curricula/<held-out>/lessons, front matter removed), scored in windows of the model's context;
- answer perplexity: the reference answers of the held-out tutoring questions given their prompts
  (what the training loss measures, on questions never trained on);
- on the held-out tutoring questions (the `split: held-out` lines of `tutor curriculum
  training-data --hold-out ...`), a greedy answer of at most --new-tokens tokens, cut at the
  stop sequence the data names (the server's), and:
  - ROUGE-L F1 (word-level longest common subsequence, lowercased) against the reference answer,
    which is the text of the snippet that answers the question;
  - grounding: the share of the answer's words that occur, in order, in the prompt's notes
    (ROUGE-L precision against the notes);
  - on topic: the share of answers that are at least four words long, repeat no word trigram,
    share a content word with the question or its reference answer, and whose content words
    mostly (at least 60%) come from the notes in the prompt.

Greedy decoding keeps the numbers reproducible; the server samples at the curriculum's
temperature. Writes a JSON report (and the generated answers) and prints a Markdown table.

    .venv-ref/bin/python tools/train/evaluate.py --model models/tutor \\
        --data .build/eval-heldout.jsonl --curricula tools/train/heldout --hold-out water-cycle \\
        --out .build/eval.json

Repeat --hold-out to score several curricula at once (with --no-random and --min-questions to
score the model on curricula it was trained on, for comparison).

With --fixture FILE it also writes greedy reference tokens for the first prompts (transformers,
float16 weights upcast to float32), which Tests/EngineTests checks the engine against.
"""

import argparse
import glob
import json
import math
import os
import re
import time

import torch
from safetensors.torch import load_file
from train import gpt2_tokenizer
from transformers import GPTNeoConfig, GPTNeoForCausalLM

STOPWORDS = set(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my no nor
    not now of off on once only or other our out over own same she should so some such than that the
    their them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours can't don't it's i'm let's
    explain tell know mean meant define understand help please simply again main idea go""".split()
)


def words(text):
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def content(text):
    return [w for w in words(text) if w not in STOPWORDS and not w.isdigit() and len(w) > 2]


def lcs(a, b):
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate, reference):
    c, r = words(candidate), words(reference)
    n = lcs(c, r)
    if n == 0:
        return 0.0, 0.0, 0.0
    p, rec = n / len(c), n / len(r)
    return p, rec, 2 * p * rec / (p + rec)


def on_topic(answer, question, reference, notes):
    ws = words(answer)
    if len(ws) < 4:
        return False
    trigrams = list(zip(ws, ws[1:], ws[2:], strict=False))
    if len(trigrams) != len(set(trigrams)):
        return False
    cs = content(answer)
    if not cs:
        return False
    anchor = set(content(question)) | set(content(reference))
    if not anchor & set(cs):
        return False
    known = set(content(notes))
    return sum(w in known for w in cs) / len(cs) >= 0.6


def load(directory, random_init, seed):
    config = GPTNeoConfig.from_pretrained(directory)
    torch.manual_seed(seed)
    model = GPTNeoForCausalLM(config)
    if not random_init:
        state = load_file(os.path.join(directory, "model.safetensors"))
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        # Only the LM head may be absent: it is the token embedding (tied), stored once.
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise SystemExit(f"{directory}: unexpected {unexpected}, missing {missing}")
        model.tie_weights()
    return model.float().eval()


@torch.no_grad()
def text_perplexity(model, ids, context):
    """Negative log-likelihood of every token after the first, scored in windows of `context`
    tokens that advance by half a context, so each token past the first window is scored with at
    least context/2 tokens before it. Returns (total, tokens scored)."""
    nll, scored, end = 0.0, 1, min(context, len(ids))
    while True:
        window = ids[max(0, end - context) : end]
        logits = model(torch.tensor([window])).logits[0, :-1].float()
        losses = torch.nn.functional.cross_entropy(logits, torch.tensor(window[1:]), reduction="none")
        fresh = end - scored
        nll += float(losses[-fresh:].sum())
        scored = end
        if end >= len(ids):
            return nll, scored - 1
        end = min(end + context // 2, len(ids))


@torch.no_grad()
def answer_nll(model, prompt_ids, answer_ids, context):
    ids = (prompt_ids + answer_ids)[-context:]
    n = min(len(answer_ids), len(ids) - 1)
    logits = model(torch.tensor([ids])).logits[0, -n - 1 : -1].float()
    return float(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[-n:]), reduction="sum")), n


@torch.no_grad()
def greedy(model, prompt_ids, new_tokens, tokenizer, eos, stop=None):
    """Greedy tokens with the KV cache, and the smallest top-1/top-2 logit margin seen."""
    out, margin, cache = [], float("inf"), None
    ids = torch.tensor([prompt_ids])
    for _ in range(new_tokens):
        result = model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
        cache = result.cache
        logits = result.logits[0, -1].float()
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        token = int(torch.argmax(logits))
        if token == eos:
            break
        out.append(token)
        if stop and stop in tokenizer.decode(out):
            break
        ids = torch.tensor([[token]])
    return out, margin


def lesson_text(curricula, held_out):
    texts = []
    for path in sorted(glob.glob(os.path.join(curricula, held_out, "lessons", "*.md"))):
        body = open(path, encoding="utf-8").read()
        if body.startswith("---"):
            body = body.split("\n---", 1)[1].split("\n", 1)[1]
        texts.append(body.strip())
    return "\n\n".join(texts)


def evaluate(model, name, rows, tokenizer, eos, context, new_tokens, text_ids):
    started = time.time()
    nll, n = text_perplexity(model, text_ids, context)
    a_nll, a_n = 0.0, 0
    answers = []
    scores = {"rouge_l_f1": [], "grounding": [], "on_topic": []}
    for row in rows:
        prompt_ids = tokenizer.encode(row["prompt"]).ids
        reference = row["completion"][: -len(row["stop"])].strip()
        x, k = answer_nll(model, prompt_ids, tokenizer.encode(row["completion"]).ids, context)
        a_nll += x
        a_n += k
        room = max(1, min(new_tokens, context - len(prompt_ids)))
        tokens, _ = greedy(model, prompt_ids, room, tokenizer, eos, stop=row["stop"])
        answer = tokenizer.decode(tokens).split(row["stop"])[0].strip()
        notes = "\n".join(row["notes"])
        _, _, f1 = rouge_l(answer, reference)
        grounding, _, _ = rouge_l(answer, notes)
        topical = on_topic(answer, row["question"], reference, notes)
        scores["rouge_l_f1"].append(f1)
        scores["grounding"].append(grounding)
        scores["on_topic"].append(1.0 if topical else 0.0)
        answers.append(
            {
                "question": row["question"],
                "answer": answer,
                "reference": reference,
                "rouge_l_f1": round(f1, 4),
                "grounding": round(grounding, 4),
                "on_topic": topical,
            }
        )

    def mean(xs):
        return sum(xs) / len(xs) if xs else float("nan")

    return {
        "model": name,
        "lesson_text_perplexity": math.exp(nll / n),
        "lesson_text_tokens": n,
        "answer_perplexity": math.exp(a_nll / a_n),
        "questions": len(rows),
        "rouge_l_f1": mean(scores["rouge_l_f1"]),
        "grounding": mean(scores["grounding"]),
        "on_topic_share": mean(scores["on_topic"]),
        "seconds": round(time.time() - started, 1),
        "answers": answers,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="training-data JSON Lines with held-out lines")
    ap.add_argument("--curricula", default="curricula")
    ap.add_argument(
        "--hold-out",
        required=True,
        action="append",
        help="the held-out curriculum id (repeat to score several curricula together)",
    )
    ap.add_argument("--tokenizer", help="vocab.json + merges.txt folder (default: the model's)")
    ap.add_argument("--questions", type=int, default=0, help="at most this many questions (0: all)")
    ap.add_argument("--new-tokens", type=int, default=80)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True, help="JSON report")
    ap.add_argument("--fixture", help="also write greedy reference tokens for the engine test here")
    ap.add_argument("--fixture-prompts", type=int, default=4)
    ap.add_argument("--min-questions", type=int, default=40)
    ap.add_argument("--no-random", action="store_true", help="score the trained model only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = gpt2_tokenizer(args.tokenizer or args.model)
    eos = tokenizer.token_to_id("<|endoftext|>")
    rows = [json.loads(line) for line in open(args.data)]
    rows = [r for r in rows if r["split"] == "held-out" and r["curriculum"] in args.hold_out]
    if args.questions:
        rows = rows[: args.questions]
    if len(rows) < args.min_questions:
        raise SystemExit(
            f"{args.data}: only {len(rows)} held-out questions for {args.hold_out}; need {args.min_questions}"
        )
    text_ids = tokenizer.encode("\n\n".join(lesson_text(args.curricula, c) for c in args.hold_out)).ids
    config = GPTNeoConfig.from_pretrained(args.model)
    context = config.max_position_embeddings

    trained = load(args.model, False, args.seed)
    results = [evaluate(trained, "trained", rows, tokenizer, eos, context, args.new_tokens, text_ids)]
    if not args.no_random:
        results.append(
            evaluate(
                load(args.model, True, args.seed), "random", rows, tokenizer, eos, context, args.new_tokens, text_ids
            )
        )
    report = {
        "model": args.model,
        "held_out_curriculum": args.hold_out,
        "new_tokens": args.new_tokens,
        "parameters": sum(p.numel() for p in trained.parameters()),
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print("| model | lesson-text perplexity | answer perplexity | ROUGE-L F1 | grounding | on topic | questions |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['lesson_text_perplexity']:.1f} | {r['answer_perplexity']:.1f} | "
            f"{r['rouge_l_f1']:.3f} | {r['grounding']:.3f} | {r['on_topic_share']:.0%} | {r['questions']} |"
        )

    if args.fixture:
        greedy_refs = []
        for row in rows[: args.fixture_prompts]:
            ids = tokenizer.encode(row["prompt"]).ids
            tokens, margin = greedy(trained, ids, 48, tokenizer, eos)
            greedy_refs.append(
                {
                    "prompt": row["prompt"],
                    "prompt_token_ids": ids,
                    "token_ids": tokens,
                    "text": tokenizer.decode(tokens),
                    "min_margin": margin,
                }
            )
        with open(args.fixture, "w") as f:
            json.dump({"model": "models/tutor", "greedy": greedy_refs}, f)
        print(
            f"wrote {args.fixture}: {len(greedy_refs)} greedy references, smallest margin "
            f"{min(g['min_margin'] for g in greedy_refs):.4f}"
        )


if __name__ == "__main__":
    main()
