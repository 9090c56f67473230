#!/usr/bin/env python3
"""Writes a random-initialised GPT-Neo checkpoint of a published shape, for benchmarks.

    .venv-ref/bin/python tools/reference/make_random_checkpoint.py --shape 125M --dtype float32 --out /tmp/neo-125M

The weights are transformers' own initialisation (seeded); the tokenizer files are GPT-2's from
Tests/EngineTests/Fixtures/gpt2-vocab. Nothing here is committed: checkpoints are hundreds of MB.
"""

import argparse
import os
import shutil

import torch
from transformers import GPTNeoConfig, GPTNeoForCausalLM

SHAPES = {
    "125M": dict(hidden_size=768, num_layers=12, num_heads=12, attention_types=[[["global", "local"], 6]]),
    "1.3B": dict(hidden_size=2048, num_layers=24, num_heads=16, attention_types=[[["global", "local"], 12]]),
    "2.7B": dict(hidden_size=2560, num_layers=32, num_heads=20, attention_types=[[["global", "local"], 16]]),
}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, default="125M")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    config = GPTNeoConfig(vocab_size=50257, max_position_embeddings=2048, window_size=256, **SHAPES[args.shape])
    model = GPTNeoForCausalLM(config).eval().to(getattr(torch, args.dtype))
    model.save_pretrained(args.out, safe_serialization=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(
            os.path.join(ROOT, "Tests", "EngineTests", "Fixtures", "gpt2-vocab", f), os.path.join(args.out, f)
        )
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters())} parameters, {args.dtype}")
