#!/usr/bin/env python3
"""Dense-retrieval variants measured with sentence-transformers, to decide what the engine builds.

    .venv-ref/bin/python tools/eval/dense_variants.py [--sets retrieval-questions.yaml ...]

Ranks each labelled question's curriculum's notes by the all-MiniLM-L6-v2 embedding alone (no
BM25, no boosts) in several ways and prints recall@3 per labelled set:

- note: the note's heading, lesson title and text as one vector (what `SnippetIndex` does);
- sent / sent+heading: the note's best sentence (plain, or prefixed with its heading);
- avg: mean of note and best sentence; rrf: reciprocal-rank fusion of the two rankings;
- key terms / objectives: the lesson's key terms or objectives added to the note's text;
- heading: heading and lesson title alone; note+heading: note plus half the heading's cosine;
- prf b/k: the question's vector moved b towards the mean of its top k notes (Rocchio);
- asked: the best cosine with the section's `student_questions:` (how students ask about it);
  max(note, asked), note+.5 asked, note+asked, rrf(note, asked): that combined with the note's.

Run on the tuning sets only: a variant is adopted when it wins there (2026-12-02: none did; see
docs/retrieval.md). Reads curricula/ and models/all-MiniLM-L6-v2 (tools/fetch-models.sh).
"""

import argparse
import glob
import os
import re

import numpy as np
import yaml
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests/CurriculumTests/Fixtures")


def slug(heading):
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def load_notes():
    notes, lessons = [], {}
    for path in sorted(glob.glob(os.path.join(ROOT, "curricula/*/lessons/*.md"))):
        curriculum, lesson = path.split("/")[-3], os.path.basename(path)[:-3]
        front, body = open(path).read().split("\n---\n", 1)
        meta = yaml.safe_load(front.lstrip("-\n"))
        lessons[f"{curriculum}/{lesson}"] = meta
        for section in re.split(r"\n(?=## )", "\n" + body):
            section = section.strip()
            if not section.startswith("## "):
                continue
            heading, _, text = section.partition("\n")
            heading = heading[3:].strip()
            notes.append(
                dict(
                    curriculum=curriculum,
                    lesson=f"{curriculum}/{lesson}",
                    id=f"{curriculum}/{lesson}#{slug(heading)}",
                    heading=heading,
                    title=meta["title"],
                    text=text.strip(),
                )
            )
    return notes, lessons


def sentences(text):
    text = " ".join(re.sub(r"```.*?```", "", text, flags=re.S).split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`(])", text)
    return [s.strip() for s in parts if len(s.strip()) >= 12 and " " in s]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["retrieval-questions.yaml", "retrieval-questions-tuning.yaml"])
    args = parser.parse_args()
    model = SentenceTransformer(os.path.join(ROOT, "models/all-MiniLM-L6-v2"), device="cpu")

    def embed(texts):
        return model.encode(texts, normalize_embeddings=True)

    notes, lessons = load_notes()
    head = [f"{n['heading']} — {n['title']}" for n in notes]
    note = embed([f"{h}\n{n['text']}" for h, n in zip(head, notes, strict=False)])
    key_terms = embed(
        [
            f"{h} ({', '.join(lessons[n['lesson']].get('key_terms', []))})\n{n['text']}"
            for h, n in zip(head, notes, strict=False)
        ]
    )
    objectives = embed(
        [
            f"{h}\n{n['text']}\n" + " ".join(o["text"] for o in lessons[n["lesson"]].get("objectives", []))
            for h, n in zip(head, notes, strict=False)
        ]
    )
    heading = embed(head)
    owner, plain, prefixed = [], [], []
    for i, n in enumerate(notes):
        for s in sentences(n["text"]):
            owner.append(i)
            plain.append(s)
            prefixed.append(f"{n['heading']}: {s}")
    owner = np.array(owner)
    plain, prefixed = embed(plain), embed(prefixed)
    # The lessons' `student_questions:`: how students ask about each section.
    asker, asked = [], []
    for i, n in enumerate(notes):
        for q in (lessons[n["lesson"]].get("student_questions") or {}).get(n["id"].split("#")[1], []):
            asker.append(i)
            asked.append(q)
    asker = np.array(asker)
    asked = embed(asked) if asked else np.zeros((0, note.shape[1]))

    def best_asked(q, rows):
        s = asked @ q
        return np.array([s[asker == i].max() if (asker == i).any() else -1.0 for i in rows])

    def best_sentence(matrix, q, rows):
        s = matrix @ q
        return np.array([s[owner == i].max() if (owner == i).any() else -1.0 for i in rows])

    def rrf(*scores):
        fused = np.zeros(len(scores[0]))
        for sc in scores:
            for rank, j in enumerate(np.argsort(-sc)):
                fused[j] += 1 / (60 + rank + 1)
        return fused

    def prf(beta, k):
        def score(q, rows):
            s = note[rows] @ q
            moved = q + beta * note[rows][np.argsort(-s)[:k]].mean(0)
            return note[rows] @ (moved / np.linalg.norm(moved))

        return score

    variants = {
        "note": lambda q, r: note[r] @ q,
        "sent": lambda q, r: best_sentence(plain, q, r),
        "sent+heading": lambda q, r: best_sentence(prefixed, q, r),
        "avg": lambda q, r: (note[r] @ q + best_sentence(plain, q, r)) / 2,
        "rrf": lambda q, r: rrf(note[r] @ q, best_sentence(plain, q, r)),
        "key terms": lambda q, r: key_terms[r] @ q,
        "objectives": lambda q, r: objectives[r] @ q,
        "heading": lambda q, r: heading[r] @ q,
        "note+heading": lambda q, r: note[r] @ q + 0.5 * (heading[r] @ q),
        "prf .3/1": prf(0.3, 1),
        "prf .5/3": prf(0.5, 3),
        "asked": best_asked,
        "max(note, asked)": lambda q, r: np.maximum(note[r] @ q, best_asked(q, r)),
        "note+.5 asked": lambda q, r: note[r] @ q + 0.5 * best_asked(q, r),
        "note+asked": lambda q, r: note[r] @ q + best_asked(q, r),
        "rrf(note, asked)": lambda q, r: rrf(note[r] @ q, best_asked(q, r)),
        "note+max(note, asked)": lambda q, r: note[r] @ q + np.maximum(note[r] @ q, best_asked(q, r)),
        "note+1.5 asked": lambda q, r: note[r] @ q + 1.5 * best_asked(q, r),
        "note+2 asked": lambda q, r: note[r] @ q + 2 * best_asked(q, r),
        "note+.75 asked": lambda q, r: note[r] @ q + 0.75 * best_asked(q, r),
    }
    for name in args.sets:
        questions = yaml.safe_load(open(os.path.join(FIXTURES, name)))
        vectors = embed([q["question"] for q in questions])
        row = {}
        for variant, score in variants.items():
            total = 0.0
            for q, v in zip(questions, vectors, strict=False):
                rows = [i for i, n in enumerate(notes) if n["curriculum"] == q["curriculum"]]
                top = {notes[rows[j]]["id"] for j in np.argsort(-score(v, rows))[:3]}
                total += len(top & set(q["relevant"])) / min(len(q["relevant"]), 3)
            row[variant] = round(total / len(questions), 3)
        print(name, row)


if __name__ == "__main__":
    main()
