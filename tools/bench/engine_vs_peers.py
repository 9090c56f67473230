#!/usr/bin/env python3
"""Ours against PyTorch, ONNX Runtime and OpenVINO, in one run on one machine, as ratios.

    swift build -c release --product tutor
    python3 -m venv .venv-peers && .venv-peers/bin/pip install -r tools/bench/requirements-peers.txt
    .venv-peers/bin/python tools/bench/engine_vs_peers.py [--model /tmp/neo-125M] [--rounds 3]

Builds the 125M-shaped random checkpoint if it is missing (tools/reference/make_random_checkpoint.py,
in .venv-ref), then for each round runs `tutor bench engine --json` (float32, float16, int8; batch 1
and 8 sessions) and tools/reference/bench_peers.py on the same model, prompts and thread count,
and prints the median of the rounds with ratios to PyTorch and whether greedy tokens agree.
Rounds interleave the engines so that a noisy neighbour hurts them alike. A last table is memory:
ours with float32 weights serving 8 sessions of 1024-token contexts (960-token prompts, 64 new
tokens), for each KV-cache format, as peak resident memory over the weight file's size.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

KV_FORMATS = ("float32", "float16", "int8")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_json(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/neo-125M")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3, help="repetitions inside each measure (medians)")
    ap.add_argument("--tutor", default=os.path.join(ROOT, ".build-release/release/tutor"))
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.model, "config.json")):
        subprocess.run(
            [
                os.path.join(ROOT, ".venv-ref/bin/python"),
                "tools/reference/make_random_checkpoint.py",
                "--shape",
                "125M",
                "--out",
                args.model,
            ],
            check=True,
            cwd=ROOT,
        )
    ours = {}
    peers = {}
    memory = {}
    for _ in range(args.rounds):
        for weights in ("float32", "float16", "int8"):
            for concurrency in (1, 8):
                r = run_json(
                    [
                        args.tutor,
                        "bench",
                        "engine",
                        "--model",
                        args.model,
                        "--weights",
                        weights,
                        "--threads",
                        str(args.threads),
                        "--concurrency",
                        str(concurrency),
                        "--runs",
                        str(args.runs),
                        "--json",
                    ]
                )
                ours.setdefault((weights, concurrency), []).append(r)
        for kv in KV_FORMATS:
            r = run_json(
                [
                    args.tutor,
                    "bench",
                    "engine",
                    "--model",
                    args.model,
                    "--weights",
                    "float32",
                    "--kv-cache",
                    kv,
                    "--threads",
                    str(args.threads),
                    "--concurrency",
                    "8",
                    "--prompt-tokens",
                    "960",
                    "--new-tokens",
                    "64",
                    "--runs",
                    "1",
                    "--json",
                ]
            )
            memory.setdefault(kv, []).append(r)
        for r in run_json(
            [
                sys.executable,
                "tools/reference/bench_peers.py",
                "--model",
                args.model,
                "--threads",
                str(args.threads),
                "--runs",
                str(args.runs),
                "--json",
            ]
        ):
            peers.setdefault(r["engine"], []).append(r)

    def med(rows, key):
        values = [r[key] for r in rows if key in r]
        return statistics.median(values) if values else float("nan")

    torch_rows = peers.get("pytorch", [])
    base1 = med(torch_rows, "decode_tokens_per_second")
    base8 = med(torch_rows, "decode_tokens_per_second_batch8")
    basep = med(torch_rows, "prefill_tokens_per_second")
    print(
        f"\nGPT-Neo 125M shape (random weights), {args.threads} threads, 16-token prompts, 64 greedy tokens, "
        f"prefill 512; medians of {args.rounds} rounds x {args.runs} runs\n"
    )
    print(
        "| engine | batch-1 decode tok/s | x PyTorch | 8 sessions, tok/s in all | x PyTorch | prefill 512 tok/s | x PyTorch | greedy tokens = PyTorch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    reference = torch_rows[0].get("greedy_token_ids") if torch_rows else None

    def line(name, d1, d8, p, ids):
        agree = "—" if reference is None or ids is None else ("yes" if ids == reference else "NO")
        print(
            f"| {name} | {d1:.1f} | {d1 / base1:.2f} | {d8:.1f} | {d8 / base8:.2f} | {p:.0f} | {p / basep:.2f} | {agree} |"
        )

    for engine, rows in peers.items():
        if "skipped" in rows[0]:
            print(f"| {engine} | skipped: {rows[0]['skipped'][:80]} | | | | | | |")
            continue
        line(
            engine + f" ({rows[0].get('version', '')})",
            med(rows, "decode_tokens_per_second"),
            med(rows, "decode_tokens_per_second_batch8"),
            med(rows, "prefill_tokens_per_second"),
            rows[0].get("greedy_token_ids"),
        )
    for weights in ("float32", "float16", "int8"):
        one, eight = ours[(weights, 1)], ours[(weights, 8)]
        line(
            f"tutor, {weights} weights",
            med(one, "decode_tokens_per_second"),
            med(eight, "decode_tokens_per_second"),
            med(one, "prefill_tokens_per_second"),
            one[0]["greedy_token_ids"],
        )
    f32 = ours[("float32", 1)]
    print(
        f"\nmemory read bandwidth {med(f32, 'bandwidth_bytes_per_second') / 1e9:.1f} GB/s -> float32 batch-1 bound "
        f"{med(f32, 'batch1_decode_bound_tokens_per_second'):.1f} tok/s; ours reaches "
        f"{med(f32, 'decode_tokens_per_second') / med(f32, 'batch1_decode_bound_tokens_per_second') * 100:.0f}%"
    )
    for weights in ("float32", "float16", "int8"):
        r = ours[(weights, 8)]
        print(
            f"tutor {weights}, 8 sessions: time to first token p50 {med(r, 'time_to_first_token_ms_p50'):.0f} ms, "
            f"inter-token p50 {med(r, 'inter_token_ms_p50'):.1f} ms / p95 {med(r, 'inter_token_ms_p95'):.1f} ms, "
            f"peak RSS {med(r, 'peak_rss_bytes') / 1e6:.0f} MB (weights {r[0]['weight_bytes'] / 1e6:.0f} MB)"
        )

    print("\nfloat32 weights, 8 sessions x 1024-token contexts (960-token prompts + 64 greedy tokens each):\n")
    print(
        "| KV cache | peak RSS MB | x weight file | decode tok/s in all | time to first token p50 ms | session 0: greedy tokens before the first that differs from the float32 cache's |"
    )
    print("|---|---|---|---|---|---|")
    exact = memory["float32"][0]["greedy_token_ids"]
    for kv in KV_FORMATS:
        r = memory[kv]
        ids = r[0]["greedy_token_ids"]
        same = next((i for i, (a, b) in enumerate(zip(ids, exact, strict=False)) if a != b), min(len(ids), len(exact)))
        print(
            f"| {kv} | {med(r, 'peak_rss_bytes') / 1e6:.0f} | {med(r, 'peak_rss_to_weight_file'):.3f} | "
            f"{med(r, 'decode_tokens_per_second'):.1f} | {med(r, 'time_to_first_token_ms_p50'):.0f} | "
            f"{same}/{len(exact)} |"
        )


if __name__ == "__main__":
    main()
