#!/usr/bin/env python3
"""transformers' greedy generate on a checkpoint, printed like `tutor generate --json`, with timings.

    .venv-ref/bin/python tools/reference/generate_reference.py --model DIR --prompt TEXT [--max-new-tokens N]

Used to compare the Swift engine with PyTorch token for token and side by side in speed.
"""

import argparse
import json
import time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import GPTNeoForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--prompt", required=True)
ap.add_argument("--max-new-tokens", type=int, default=64)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)

tok = Tokenizer(models.BPE.from_file(f"{args.model}/vocab.json", f"{args.model}/merges.txt"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
model = GPTNeoForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
ids = tok.encode(args.prompt).ids
x = torch.tensor([ids])
with torch.no_grad():
    t0 = time.perf_counter()
    model(x)  # prefill alone, for the prompt time
    t1 = time.perf_counter()
    out = model.generate(
        x,
        attention_mask=torch.ones_like(x),
        do_sample=False,
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.max_new_tokens,
        pad_token_id=model.config.eos_token_id,
    )
    t2 = time.perf_counter()
new = out[0, len(ids) :].tolist()
decode_seconds = (t2 - t1) - (t1 - t0)
print(
    json.dumps(
        dict(
            prompt_token_ids=ids,
            token_ids=new,
            text=tok.decode(new),
            prompt_seconds=t1 - t0,
            generation_seconds=decode_seconds,
            tokens_per_second=(len(new) - 1) / decode_seconds,
        )
    )
)
