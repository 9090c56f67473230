"""Each block of a GPT-Neo checkpoint, as our engine runs it, against a float64 reference.

    T=.build-release/release/tutor
    $T residual-stream --model DIR --weights float16 --prompt "..." --out /tmp/s.f32 > /tmp/s.json
    .venv-ref/bin/python tools/reference/layer_reference.py --model DIR --stream /tmp/s.json

Deep stacks of random weights amplify rounding from layer to layer, so two whole passes (ours in
float32, a reference in float64) drift apart on random checkpoints however exact each step is.
Instead each block is checked on its own: it is fed our residual stream before it, upcast to
float64, and its float64 output is compared with ours after it — the error that block adds. The
embeddings and the final LayerNorm are checked the same way. Printed per block: the largest
absolute error, and the error's norm relative to the norm of the block's update (output − input).

The reference is written out here in float64 from the checkpoint's tensors (loaded layer by layer,
so a 2.7B checkpoint needs ~1 GB at a time): LayerNorm; attention without scaling, causal, and
for local layers limited to the last `window_size` positions; out_proj; LayerNorm; the MLP with
the configured activation. `--self-check` first compares that chain, fed its own outputs, with
transformers' GPTNeoModel in float64 (small checkpoints only). They cannot agree to float64's
precision: transformers casts GPT-Neo's queries and keys to float32 before the scores
(modeling_gpt_neo.py, `_attn`), even in a float64 model, so the check allows 1e-5.
"""

import argparse
import json
import math
import pathlib

import numpy as np
import torch
from safetensors import safe_open

ACTIVATIONS = {
    "gelu_new": lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "relu": torch.relu,
}


class Checkpoint:
    """The checkpoint's tensors by name, read on demand in float64."""

    def __init__(self, directory):
        self.files = {}
        for path in sorted(pathlib.Path(directory).glob("*.safetensors")):
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    self.files[key] = path
        self.prefix = "transformer." if any(k.startswith("transformer.") for k in self.files) else ""

    def __call__(self, name):
        key = self.prefix + name
        with safe_open(str(self.files[key]), framework="pt") as f:
            return f.get_tensor(key).to(torch.float64)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def block(x, tensors, layer, config, kind):
    """One GPT-Neo block in float64: x [T, H] → [T, H]."""
    eps = config["layer_norm_epsilon"]
    heads = config["num_heads"]
    t, h = x.shape
    d = h // heads
    p = f"h.{layer}."
    a = layer_norm(x, tensors(p + "ln_1.weight"), tensors(p + "ln_1.bias"), eps)
    q = a @ tensors(p + "attn.attention.q_proj.weight").T
    k = a @ tensors(p + "attn.attention.k_proj.weight").T
    v = a @ tensors(p + "attn.attention.v_proj.weight").T
    q, k, v = (m.reshape(t, heads, d).transpose(0, 1) for m in (q, k, v))
    scores = q @ k.transpose(1, 2)  # GPT-Neo does not scale by 1/sqrt(d)
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    allowed = j <= i
    if kind == "local":
        allowed &= j > i - config["window_size"]
    scores = scores.masked_fill(~allowed, float("-inf"))
    attention = torch.softmax(scores, dim=-1) @ v
    attention = attention.transpose(0, 1).reshape(t, h)
    out = attention @ tensors(p + "attn.attention.out_proj.weight").T + tensors(p + "attn.attention.out_proj.bias")
    x = x + out
    m = layer_norm(x, tensors(p + "ln_2.weight"), tensors(p + "ln_2.bias"), eps)
    m = m @ tensors(p + "mlp.c_fc.weight").T + tensors(p + "mlp.c_fc.bias")
    m = ACTIVATIONS[config.get("activation_function", "gelu_new")](m)
    m = m @ tensors(p + "mlp.c_proj.weight").T + tensors(p + "mlp.c_proj.bias")
    return x + m


def attention_kinds(config):
    kinds = []
    for pattern, repeat in config["attention_types"]:
        kinds += pattern * repeat
    return kinds[: config["num_layers"]]


def self_check(directory, config, tensors, tokens):
    from transformers import GPTNeoModel

    model = GPTNeoModel.from_pretrained(directory, torch_dtype=torch.float64).eval()
    with torch.no_grad():
        hf = model(torch.tensor([tokens]), output_hidden_states=True).hidden_states
    x = tensors("wte.weight")[tokens] + tensors("wpe.weight")[: len(tokens)]
    worst = 0.0
    for layer, kind in enumerate(attention_kinds(config)):
        x = block(x, tensors, layer, config, kind)
        if layer + 1 < len(hf) - 1:
            worst = max(worst, float((x - hf[layer + 1][0]).abs().max()))
    final = layer_norm(x, tensors("ln_f.weight"), tensors("ln_f.bias"), config["layer_norm_epsilon"])
    worst = max(worst, float((final - hf[-1][0]).abs().max()))
    print(f"self-check against transformers (float64): largest difference {worst:.3g}")
    return worst


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--stream", required=True, help="the JSON that `tutor residual-stream` printed")
    parser.add_argument("--self-check", action="store_true")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest relative error of a block's update")
    args = parser.parse_args()
    config = json.loads((pathlib.Path(args.model) / "config.json").read_text())
    header = json.loads(pathlib.Path(args.stream).read_text())
    tokens, h = header["tokens"], header["hidden_size"]
    stream = np.fromfile(header["file"], dtype="<f4").reshape(header["arrays"], len(tokens), h)
    ours = torch.from_numpy(stream.astype(np.float64))
    tensors = Checkpoint(args.model)
    if args.self_check and self_check(args.model, config, tensors, tokens) > 1e-5:
        raise SystemExit("the float64 reference disagrees with transformers")

    rows = []
    embedded = tensors("wte.weight")[tokens] + tensors("wpe.weight")[: len(tokens)]
    error = ours[0] - embedded
    rows.append(("embeddings", float(error.abs().max()), float(error.norm() / embedded.norm())))
    for layer, kind in enumerate(attention_kinds(config)):
        reference = block(ours[layer], tensors, layer, config, kind)
        error = ours[layer + 1] - reference
        update = reference - ours[layer]
        rows.append((f"block {layer} ({kind})", float(error.abs().max()), float(error.norm() / update.norm())))
    final = layer_norm(ours[-2], tensors("ln_f.weight"), tensors("ln_f.bias"), config["layer_norm_epsilon"])
    error = ours[-1] - final
    rows.append(("final LayerNorm", float(error.abs().max()), float(error.norm() / final.norm())))

    print(f"{args.model}: {len(tokens)} tokens, weights {header['weights']}")
    print("| part | largest absolute error | error / update (L2) |")
    print("|---|---|---|")
    for name, worst, relative in rows:
        print(f"| {name} | {worst:.3g} | {relative:.3g} |")
    worst_relative = max(r for _, _, r in rows)
    verdict = "within" if worst_relative <= args.tolerance else "OUTSIDE"
    print(f"worst relative error {worst_relative:.3g}: {verdict} the tolerance {args.tolerance:g}")
    if worst_relative > args.tolerance:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
