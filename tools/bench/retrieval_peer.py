#!/usr/bin/env python3
"""The peer side of `tutor bench retrieval`: rank_bm25 on the same corpus and queries.

    swift build -c release --product tutor
    .build/release/tutor bench retrieval --out /tmp/tutor-bench-retrieval
    .venv-ref/bin/pip install -r tools/bench/requirements-retrieval.txt
    .venv-ref/bin/python tools/bench/retrieval_peer.py /tmp/tutor-bench-retrieval

Tokenization mirrors SQLite FTS5's `porter unicode61 remove_diacritics 2`: case folding, diacritics
removed, split at anything that is not a letter or digit, original Porter stemmer. Documents keep
their stop words (FTS5 indexes them, so document lengths agree); queries use the terms tutor
searched for. BM25Okapi(k1=1.2, b=0.75, epsilon=0) matches FTS5's bm25() on one column, so the top-10
overlap with tutor's plain (body-only, unexpanded) ranking shows how close the two BM25s are.
"""

import json
import re
import statistics
import sys
import time
import unicodedata

import Stemmer
from rank_bm25 import BM25Okapi

stem = Stemmer.Stemmer("porter").stemWord
word = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text):
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return [stem(w) for w in word.findall(text)]


def main(folder):
    corpus = [json.loads(line) for line in open(f"{folder}/corpus.jsonl")]
    queries = [json.loads(line) for line in open(f"{folder}/queries.jsonl")]
    ours = json.load(open(f"{folder}/ours.json"))
    ids = [d["id"] for d in corpus]

    t = time.perf_counter()
    bm25 = BM25Okapi([tokens(d["text"]) for d in corpus], k1=1.2, b=0.75, epsilon=0)
    build = time.perf_counter() - t

    latencies, overlaps, gaps = [], [], []
    position = {i: n for n, i in enumerate(ids)}
    for q in queries:
        # An OR query names each term once in FTS5, so a repeated word counts once here too.
        terms = list(dict.fromkeys(stem(w) for w in q["terms"]))
        t = time.perf_counter()
        scores = bm25.get_scores(terms)
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:10]
        latencies.append((time.perf_counter() - t) * 1000)
        theirs = [ids[i] for i in top if scores[i] > 0]
        mine = q["ours"]
        if theirs or mine:
            overlaps.append(len(set(theirs) & set(mine)) / max(len(theirs), len(mine)))
            # How far below rank_bm25's 10th score are the documents only we ranked? (Near-ties
            # mean the two BM25s agree up to rounding and document-length bookkeeping.)
            if len(top) == 10:
                tenth = scores[top[-1]]
                gaps.extend((tenth - scores[position[i]]) / tenth for i in set(mine) - set(theirs) if tenth > 0)

    print(f"{ours['lessons']} lessons, {ours['snippets']} snippets, {len(queries)} queries")
    print(f"{'':34}{'tutor':>16}{'rank_bm25':>16}{'ratio':>10}")
    print(
        f"{'index build (s)':34}{ours['index_build_seconds']:>16.2f}{build:>16.2f}{build / ours['index_build_seconds']:>9.1f}x"
    )
    pm = statistics.median(latencies)
    print(
        f"{'query, plain BM25, median (ms)':34}{ours['query_plain_ms_median']:>16.2f}{pm:>16.2f}{pm / ours['query_plain_ms_median']:>9.1f}x"
    )
    print(f"{'query, production, median (ms)':34}{ours['query_ms_median']:>16.2f}{'':>16}")
    print(f"{'query, production, p90 (ms)':34}{ours['query_ms_p90']:>16.2f}{'':>16}")
    print(f"{'query, one curriculum (ms)':34}{ours['query_filtered_ms_median']:>16.2f}{'':>16}")
    print(f"top-10 overlap with rank_bm25 (plain ranking): {statistics.mean(overlaps):.3f}")
    if gaps:
        print(
            f"  snippets only tutor ranked: {len(gaps)}, their rank_bm25 score below its 10th by "
            f"median {statistics.median(gaps):.1%}, at most {max(gaps):.1%}"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tutor-bench-retrieval")
