#!/usr/bin/env python3
"""Builds the reference fixtures that the Swift GPT-Neo engine is tested against.

Uses Hugging Face `transformers` + `torch` (the reference implementation) and `tokenizers`.
Run from the repository root:

    python3 -m venv .venv-ref && .venv-ref/bin/pip install -r tools/reference/requirements.txt
    .venv-ref/bin/python tools/reference/make_fixtures.py

It writes Tests/EngineTests/Fixtures/: small random-initialised GPT-Neo checkpoints that exercise
the real architecture (local and global layers with a window shorter than the prompts, both layer
orders, non-trivial layer-norm parameters, float32 / float16 / bfloat16, a sharded checkpoint, one
model with the full GPT-2 vocabulary), each with `reference.json` (prompts, greedy continuations,
processed sampling distributions, perplexities) and `logits.bin` (float32 logits at every position).
Everything is seeded: running it again gives the same files.
"""

import json
import math
import os
import random
import shutil
import sys

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import GPTNeoConfig, GPTNeoForCausalLM
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "EngineTests", "Fixtures")
# The GPT-2 vocabulary: ../shared/gpt2-tokenizer (see its README for provenance), else the copy
# already in the fixtures.
GPT2 = os.path.join(os.path.dirname(ROOT), "shared", "gpt2-tokenizer")
if not os.path.exists(os.path.join(GPT2, "vocab.json")):
    GPT2 = os.path.join(OUT, "gpt2-vocab")
NEW_TOKENS = 64

torch.set_num_threads(2)


def gpt2_tokenizer(vocab_path, merges_path):
    tok = Tokenizer(models.BPE.from_file(vocab_path, merges_path))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    return tok


def randomise(model, seed, scale):
    """Random weights with enough spread that greedy choices are far from ties."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or "ln_f" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "wte" in name:
                p.copy_(scale * 4 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g))


def processed_distributions(logits, input_ids):
    """HF's logits processors applied to one logits row, as `generate(do_sample=True)` does."""
    settings = [
        dict(temperature=1.0),
        dict(temperature=0.7),
        dict(temperature=1.3, top_k=20),
        dict(temperature=0.9, top_p=0.8),
        dict(temperature=1.0, top_k=40, top_p=0.95, repetition_penalty=1.3),
        dict(temperature=0.5, repetition_penalty=0.8),
        dict(temperature=1.0, top_p=0.05),
    ]
    out = []
    ids = torch.tensor([input_ids])
    for s in settings:
        procs = LogitsProcessorList()
        if s.get("repetition_penalty", 1.0) != 1.0:
            procs.append(RepetitionPenaltyLogitsProcessor(s["repetition_penalty"]))
        if s.get("temperature", 1.0) != 1.0:
            procs.append(TemperatureLogitsWarper(s["temperature"]))
        if s.get("top_k"):
            procs.append(TopKLogitsWarper(s["top_k"]))
        if s.get("top_p"):
            procs.append(TopPLogitsWarper(s["top_p"]))
        scores = procs(ids, logits.clone().unsqueeze(0))
        probs = torch.softmax(scores.float(), dim=-1)[0]
        out.append(dict(settings=s, probabilities=[round(float(x), 8) for x in probs]))
    return out


def perplexity(model, ids, bos):
    """Sliding-window perplexity, the definition the engine implements.

    The text's tokens are prefixed with <|endoftext|> so that every text token is scored. Windows of
    max_position_embeddings tokens advance by half a window; each token is scored once, in the first
    window that holds it with the most context before it.
    """
    tokens = [bos] + ids
    n = len(tokens)
    max_len = model.config.max_position_embeddings
    stride = max(1, max_len // 2)
    nll, count, scored_to, begin = 0.0, 0, 1, 0
    while scored_to < n:
        end = min(begin + max_len, n)
        window = torch.tensor([tokens[begin:end]])
        with torch.no_grad():
            logp = torch.log_softmax(model(window).logits[0].double(), dim=-1)
        for pos in range(scored_to, end):
            nll -= float(logp[pos - 1 - begin, tokens[pos]])
            count += 1
        scored_to = end
        begin += stride
    return math.exp(nll / count), count


def build(
    name,
    config_kwargs,
    dtype,
    seed,
    scale,
    prompts,
    ppl_ids,
    shards=1,
    drop_attention_types=False,
    tokenizer=None,
    logits_prompt=0,
):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    torch.manual_seed(seed)
    config = GPTNeoConfig(**config_kwargs)
    model = GPTNeoForCausalLM(config).eval()
    randomise(model, seed, scale)

    # Store in the requested dtype; the reference runs the stored weights upcast to float32.
    state = {
        k: v.detach().to(dtype).contiguous()
        for k, v in model.state_dict().items()
        if not k.endswith("attn.attention.bias") and not k.endswith("masked_bias") and k != "lm_head.weight"
    }
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    model.tie_weights()
    if shards == 1:
        save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    else:
        names = sorted(state)
        per = math.ceil(len(names) / shards)
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {k: state[k] for k in names[s * per : (s + 1) * per]}
            save_file(part, os.path.join(d, fname), metadata={"format": "pt"})
            weight_map.update({k: fname for k in part})
        total = sum(v.numel() * v.element_size() for v in state.values())
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    config.save_pretrained(d)
    if drop_attention_types:
        with open(os.path.join(d, "config.json")) as f:
            cj = json.load(f)
        cj.pop("attention_types", None)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cj, f, indent=2)

    ref = dict(name=name, dtype=str(dtype).replace("torch.", ""), prompts=[], greedy=[], perplexity=None)
    for p in prompts:
        ref["prompts"].append(
            dict(text=p if isinstance(p, str) else None, token_ids=tokenizer.encode(p).ids if isinstance(p, str) else p)
        )

    # Logits at every position of one prompt, float32 little-endian, [positions, vocab].
    ids = ref["prompts"][logits_prompt]["token_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logits.numpy().astype("<f4").tofile(os.path.join(d, "logits.bin"))
    ref["logits"] = dict(prompt=logits_prompt, shape=list(logits.shape))
    if config.vocab_size <= 1024:  # full-vocabulary distributions would make the fixture megabytes
        ref["sampling"] = dict(
            prompt=logits_prompt, input_ids=ids, distributions=processed_distributions(logits[-1], ids)
        )

    eos = config.eos_token_id
    for p in ref["prompts"]:
        ids = p["token_ids"]
        with torch.no_grad():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=eos,
            )
        new = out.sequences[0, len(ids) :].tolist()
        margins = []
        for sc in out.scores:
            top = torch.topk(sc[0].float(), 2).values
            margins.append(float(top[0] - top[1]))
        entry = dict(prompt_token_ids=ids, token_ids=new, min_margin=min(margins))
        if tokenizer is not None:
            entry["text"] = tokenizer.decode(new, skip_special_tokens=False)
        ref["greedy"].append(entry)
        if len(new) < 48 and (not new or new[-1] != eos):
            sys.exit(f"{name}: only {len(new)} greedy tokens")
        print(f"{name}: prompt {len(ids)} tokens, {len(new)} new, min top-2 margin {min(margins):.4f}")

    if ppl_ids is not None:
        ppl, n = perplexity(model, ppl_ids, config.bos_token_id)
        ref["perplexity"] = dict(token_ids=ppl_ids if tokenizer is None else None, text=None, perplexity=ppl, tokens=n)
        print(f"{name}: perplexity {ppl:.4f} over {n} tokens")
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    return ref


def awkward_texts():
    texts = [
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "I'm sure you'll see it's fine; they've said we'd go, and I'd've known. DON'T SHOUT'S",
        "  leading spaces, trailing spaces   ",
        "tabs\tand\nnewlines\r\n\r\nand   multiple    spaces\n\n\n",
        "   \n  \t ",
        "",
        " ",
        "a",
        "def f(x):\n    return x ** 2  # square\n\n\tif x:\n\t\tpass\n",
        'func greet(_ name: String) -> String {\n    "Hello, \\(name)!"\n}\n',
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
        "Numbers: 3.14159, 1,000,000 and 42nd; 2026-11-29T02:03:04Z; 0x1F; 1e-5",
        "Fractions like 3/4 = 0.75 and percentages 50% +/- 2.5%",
        "Ünïcödé: café, naïve, résumé, Straße, ÆØÅ, İstanbul",
        "Greek Ελληνικά, Cyrillic русский язык, Armenian Հայերեն",
        "中文汉字测试。日本語のテキスト、カタカナ。한국어 텍스트",
        "العربية النص مع أرقام ١٢٣ and עברית",
        "हिन्दी देवनागरी, தமிழ், ไทย ภาษาไทย",
        "Emoji: 😀😃😄 👩‍👩‍👧‍👦 👍🏽 🇫🇷🇯🇵 ❤️ 🏳️‍🌈",
        "Combining: e\u0301 a\u0308 n\u0303 Z\u0335\u0321a\u0337\u0322l\u0336g\u0338o\u0334",
        "Odd spaces:\u00a0non-breaking,\u2003em,\u3000ideographic,\u2028line sep,\u200bzero-width",
        "Math: ∑ᵢ xᵢ² ≤ ∞, ∀ε>0 ∃δ, √2 ≈ 1.414, ½ ¾ ⅔, Ⅻ",
        "Punctuation!!! ??? ... --- *** ### $$$ %%% &&& @@@ ~~~ ``` '''",
        "quotes 'single' \"double\" ‘curly’ “curly” «guillemets»",
        "Hello<|endoftext|>World",
        "<|endoftext|>",
        "a <|endoftext|> b<|endoftext|><|endoftext|>c",
        "<|endoftext|",
        "URL https://example.org/path?q=1&r=two#frag and e-mail someone@example.com",
        "CamelCaseIdentifiers snake_case_names kebab-case SCREAMING_CASE",
        "Mixed123Numbers456 and 12ab34 x2 H2O CO₂",
        "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
        "Tutor: Photosynthesis converts light energy into chemical energy.\nStudent: Why?\n",
        "\u0000 control \u0001\u0007 chars \u007f and \u0085 next-line",
        "x" * 300,
        " " * 50 + "end",
        "🙂" * 20,
    ]
    # Seeded random strings over a pool of awkward characters from many categories.
    pool = list("abcXYZ019 '\t\n.,;!?-_()[]{}<>\"/\\|") + [
        "  ",
        "'s",
        "'ll",
        "\u00a0",
        "é",
        "ß",
        "中",
        "日",
        "한",
        "ع",
        "я",
        "Ω",
        "😀",
        "👍🏽",
        "\u0301",
        "\u200b",
        "\u3000",
        "½",
        "²",
        "١",
        "\r\n",
        "<|endoftext|>",
    ]
    rng = random.Random(1234)
    for _ in range(150):
        texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    return texts


def tokenizer_fixtures():
    d = GPT2
    tok = gpt2_tokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
    cases = []
    # Plus a long real-world text: this repository's Swift and C sources as they were when the
    # fixtures were made (indentation, long whitespace runs, punctuation clusters, doc comments).
    sources = []
    for base, _, files in sorted(os.walk(os.path.join(ROOT, "Sources"))):
        for f in sorted(files):
            if f.endswith((".swift", ".c", ".h")):
                with open(os.path.join(base, f), encoding="utf-8") as fh:
                    sources.append(fh.read())
    for t in awkward_texts() + ["\n".join(sources)]:
        ids = tok.encode(t).ids
        assert tok.decode(ids, skip_special_tokens=False) == t, repr(t)
        cases.append(dict(text=t, token_ids=ids))
    with open(os.path.join(OUT, "tokenizer-cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)

    # A small tokenizer.json: the 256 byte symbols, the first 2000 GPT-2 merges and what they make.
    with open(os.path.join(d, "vocab.json")) as f:
        full = json.load(f)
    with open(os.path.join(d, "merges.txt")) as f:
        merges = [line.rstrip("\n").split(" ") for line in f if not line.startswith("#version") and line.strip()][:2000]
    byte_syms = [k for k, v in sorted(full.items(), key=lambda kv: kv[1])][:256]
    vocab = {s: i for i, s in enumerate(byte_syms)}
    for a, b in merges:
        assert a in vocab and b in vocab, (a, b)
        vocab.setdefault(a + b, len(vocab))
    small = Tokenizer(models.BPE(vocab=vocab, merges=[(a, b) for a, b in merges]))
    small.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    small.decoder = decoders.ByteLevel()
    small.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    sd = os.path.join(OUT, "small-tokenizer-json")
    os.makedirs(sd, exist_ok=True)
    small.save(os.path.join(sd, "tokenizer.json"))
    small_cases = [dict(text=t, token_ids=small.encode(t).ids) for t in awkward_texts()[:60]]
    with open(os.path.join(sd, "cases.json"), "w") as f:
        json.dump(small_cases, f, ensure_ascii=False, indent=0)
    return tok


def main():
    global GPT2
    os.makedirs(OUT, exist_ok=True)
    # Work from a temporary copy: building the gpt2-vocab fixture replaces its folder.
    tmp = os.path.join(OUT, ".gpt2-tmp")
    os.makedirs(tmp, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(GPT2, f), os.path.join(tmp, f))
    GPT2 = tmp
    tok = tokenizer_fixtures()
    rng = random.Random(7)

    def ids(n, vocab):
        return [rng.randrange(vocab - 1) for _ in range(n)]

    small = dict(vocab_size=512, max_position_embeddings=128, bos_token_id=511, eos_token_id=511)
    # Global layer first (EleutherAI's order), window 8 < prompt length.
    build(
        "tiny-global-first",
        dict(
            small, hidden_size=64, num_layers=4, num_heads=4, window_size=8, attention_types=[[["global", "local"], 2]]
        ),
        torch.float32,
        seed=11,
        scale=0.15,
        prompts=[ids(24, 512), ids(3, 512), ids(60, 512)],
        ppl_ids=ids(300, 512),
    )
    # Local layer first, odd layer count, explicit intermediate size, float16, two shards.
    build(
        "tiny-local-first-f16-sharded",
        dict(
            small,
            hidden_size=48,
            num_layers=3,
            num_heads=6,
            window_size=5,
            intermediate_size=80,
            attention_types=[[["local", "global"], 1], [["local"], 1]],
        ),
        torch.float16,
        seed=12,
        scale=0.15,
        prompts=[ids(20, 512), ids(9, 512)],
        ppl_ids=ids(200, 512),
        shards=2,
    )
    # bfloat16, erf GELU, config.json with only the expanded `attention_layers`.
    build(
        "tiny-bf16",
        dict(
            small,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            window_size=6,
            activation_function="gelu",
            attention_types=[[["global", "local"], 1]],
        ),
        torch.bfloat16,
        seed=13,
        scale=0.2,
        prompts=[ids(16, 512)],
        ppl_ids=ids(150, 512),
        drop_attention_types=True,
    )
    # The full GPT-2 vocabulary with text prompts, float16 weights.
    text = (
        "Photosynthesis is the process by which green plants use sunlight to make food. "
        "Light energy is absorbed by chlorophyll, a green pigment in the leaves, and used to turn "
        "water and carbon dioxide into glucose and oxygen. The glucose feeds the plant; the oxygen "
        "is released into the air. Without photosynthesis there would be almost no oxygen in the "
        "atmosphere, and animals, which eat plants or other animals, would have no food. "
    )
    ref = build(
        "gpt2-vocab",
        dict(
            vocab_size=50257,
            max_position_embeddings=96,
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            window_size=16,
            attention_types=[[["global", "local"], 1]],
        ),
        torch.float16,
        seed=14,
        scale=0.25,
        prompts=["Photosynthesis is", "The teacher said: \"Let's", "Q: What is 3/4 as a decimal?\nA:"],
        ppl_ids=tok.encode(text * 2).ids,
        tokenizer=tok,
        logits_prompt=0,
    )
    # The perplexity text is stored as text for the full-vocabulary model.
    path = os.path.join(OUT, "gpt2-vocab", "reference.json")
    with open(path) as f:
        ref = json.load(f)
    ref["perplexity"]["text"] = text * 2
    with open(path, "w") as f:
        json.dump(ref, f)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(GPT2, f), os.path.join(OUT, "gpt2-vocab", f))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
