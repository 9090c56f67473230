#!/usr/bin/env python3
"""The engines a user could pick instead of ours, measured on the same GPT-Neo checkpoint and the
same synthetic prompts as `tutor bench engine`: Hugging Face transformers on PyTorch, ONNX Runtime
(optimum-onnx export, KV cache) and OpenVINO (optimum-intel export).

    .venv-peers/bin/python tools/reference/bench_peers.py --model /tmp/neo-125M --threads 2 --json

Prompts: session s, position i -> (1000 + 7919*i + 104729*s) % 50000 (as in BenchEngine.swift).
Per engine: prefill of --prefill-tokens (logits of the last position only where the engine allows),
batch-1 decode and batch-B decode (B sessions of the same prompt length, greedy, no EOS stop),
each the median of --runs. Decode rate = (new tokens - 1) x batch / (t(N tokens) - t(1 token)), so
the prefill is excluded as in ours. An engine that fails to install or export is reported as
skipped with its error, never silently dropped. Greedy ids of session 0 are printed for the
agreement check.
"""

import argparse
import json
import os
import statistics
import sys
import time
import traceback


def prompt_ids(session, count):
    return [(1000 + 7919 * i + 104729 * session) % 50000 for i in range(count)]


def timed(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def measure(name, model, torch, args, prefill_fn):
    out = {"engine": name}
    batch1 = torch.tensor([prompt_ids(0, args.prompt_tokens)])
    batchB = torch.tensor([prompt_ids(s, args.prompt_tokens) for s in range(args.batch)])

    def gen(ids, n):
        return model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=50256,
        )

    gen(batch1, 4)  # warm-up
    t1, _ = timed(lambda: gen(batch1, 1), args.runs)
    tn, ids = timed(lambda: gen(batch1, args.new_tokens), args.runs)
    out["decode_tokens_per_second"] = (args.new_tokens - 1) / (tn - t1)
    out["greedy_token_ids"] = ids[0, args.prompt_tokens :].tolist()
    tb1, _ = timed(lambda: gen(batchB, 1), args.runs)
    tbn, _ = timed(lambda: gen(batchB, args.new_tokens), args.runs)
    out[f"decode_tokens_per_second_batch{args.batch}"] = args.batch * (args.new_tokens - 1) / (tbn - tb1)
    long_ids = torch.tensor([prompt_ids(0, args.prefill_tokens)])
    prefill_fn(long_ids)  # warm-up
    tp, _ = timed(lambda: prefill_fn(long_ids), args.runs)
    out["prefill_tokens_per_second"] = args.prefill_tokens / tp
    return out


def first_token(model, torch):
    """Prefill for the exported engines, which have no logits_to_keep: generate one token."""

    def prefill(ids):
        return model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=1, do_sample=False, pad_token_id=50256
        )

    return prefill


def pytorch(args):
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()

    def prefill(ids):
        with torch.inference_mode():
            return model(input_ids=ids, logits_to_keep=1).logits

    with torch.inference_mode():
        result = measure("pytorch", model, torch, args, prefill)
    result["version"] = f"torch {torch.__version__}, transformers {__import__('transformers').__version__}"
    return result


def onnxruntime(args):
    import onnxruntime as ort
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM

    export = args.model.rstrip("/") + "-onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    if os.path.exists(os.path.join(export, "model.onnx")):
        model = ORTModelForCausalLM.from_pretrained(export, session_options=options, use_cache=True)
    else:
        model = ORTModelForCausalLM.from_pretrained(args.model, export=True, use_cache=True, session_options=options)
        model.save_pretrained(export)

    result = measure("onnxruntime", model, torch, args, first_token(model, torch))
    result["version"] = f"onnxruntime {ort.__version__}"
    return result


def openvino(args):
    import openvino
    import torch
    from optimum.intel import OVModelForCausalLM

    export = args.model.rstrip("/") + "-openvino"
    # float32 arithmetic, as every other engine here: on CPUs with AMX or AVX512_BF16 OpenVINO
    # otherwise computes in bfloat16 (then its greedy tokens no longer match PyTorch's float32 ones).
    config = {
        "INFERENCE_NUM_THREADS": str(args.threads),
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    if os.path.exists(os.path.join(export, "openvino_model.xml")):
        model = OVModelForCausalLM.from_pretrained(export, ov_config=config)
    else:
        model = OVModelForCausalLM.from_pretrained(args.model, export=True, ov_config=config, load_in_8bit=False)
        model.save_pretrained(export)

    result = measure("openvino", model, torch, args, first_token(model, torch))
    result["version"] = f"openvino {openvino.__version__}"
    return result


ENGINES = {"pytorch": pytorch, "onnxruntime": onnxruntime, "openvino": openvino}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prefill-tokens", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for name in args.engines.split(","):
        try:
            results.append(ENGINES[name](args))
        except Exception as error:  # reported, never dropped
            results.append({"engine": name, "skipped": f"{type(error).__name__}: {error}"})
            traceback.print_exc(file=sys.stderr)
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(r)
