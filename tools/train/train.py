#!/usr/bin/env python3
"""Train a small GPT-Neo tutor on dialogues from the curricula, CPU only, seeded.

The data is `tutor curriculum training-data` output: each example is the exact prompt the server
builds plus the answer taken from the lesson. The loss is on the answer tokens only (the model
learns to answer from the notes in its prompt, not to write prompts). Held-out examples (the
--hold-out curriculum of training-data) are never trained on; their loss is logged as the
generalisation measure.

    tutor curriculum training-data --tokenizer ../shared/gpt2-tokenizer --hold-out python-intro \
        --context 1024 --out /tmp/train.jsonl
    .venv-ref/bin/python tools/train/train.py --data /tmp/train.jsonl --tokenizer ../shared/gpt2-tokenizer \
        --out models/tutor-neo-small --minutes 100

Writes `model.safetensors` (float16), `config.json`, the tokenizer files, `training.json` (every
argument, the seed, versions) and `loss.csv` (step, seconds, train loss, held-out loss).
"""
import argparse
import csv
import json
import math
import os
import random
import shutil
import time

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import GPTNeoConfig, GPTNeoForCausalLM


def gpt2_tokenizer(folder):
    """GPT-2's byte-level BPE from vocab.json + merges.txt (as tools/reference/make_fixtures.py)."""
    tok = Tokenizer(models.BPE.from_file(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    return tok


def load_examples(path, tokenizer, context):
    train, held = [], []
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            prompt = tokenizer.encode(row["prompt"]).ids
            answer = tokenizer.encode(row["completion"]).ids
            ids = (prompt + answer)[-context:]
            labels = ([-100] * len(prompt) + answer)[-context:]
            (held if row["split"] == "held-out" else train).append((ids, labels))
    return train, held


def batches(examples, size, rng):
    order = list(range(len(examples)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - size + 1, size):
            yield [examples[j] for j in order[i:i + size]]


def collate(batch, pad):
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (i, l) in enumerate(batch):
        ids[row, :len(i)] = torch.tensor(i)
        labels[row, :len(l)] = torch.tensor(l)
        mask[row, :len(i)] = 1
    return ids, labels, mask


def answer_loss(model, ids, labels, mask):
    """Mean cross-entropy over the answer tokens only. The vocabulary projection runs just for
    the positions that predict an answer token: for a whole 512-token prompt it would be a
    [batch, 512, 50257] tensor, most of the step's time and memory."""
    hidden = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep]), int(keep.sum())


@torch.no_grad()
def held_out_loss(model, examples, pad, size=8):
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), size):
        loss, n = answer_loss(model, *collate(examples[i:i + size], pad))
        total += float(loss) * n
        count += n
    model.train()
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--tokenizer", required=True, help="folder with vocab.json and merges.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--steps", type=int, default=100000, help="at most this many steps")
    ap.add_argument("--minutes", type=float, default=100, help="stop after this long")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = gpt2_tokenizer(args.tokenizer)
    eos = tokenizer.token_to_id("<|endoftext|>")
    pad = eos
    train, held = load_examples(args.data, tokenizer, args.context)
    if not train:
        raise SystemExit(f"{args.data}: no training examples")
    config = GPTNeoConfig(
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=args.context,
        hidden_size=args.hidden,
        num_layers=args.layers,
        attention_types=[[["global", "local"], args.layers // 2]],
        num_heads=args.heads,
        window_size=args.window,
        intermediate_size=4 * args.hidden,
        activation_function="gelu_new",
        bos_token_id=eos,
        eos_token_id=eos,
    )
    model = GPTNeoForCausalLM(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{parameters / 1e6:.1f}M parameters; {len(train)} training and {len(held)} held-out examples", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "loss.csv"), "w", newline="")
    writer = csv.writer(log)
    writer.writerow(["step", "seconds", "train_loss", "held_out_loss"])
    rng = random.Random(args.seed)
    stream = batches(train, args.batch, rng)
    start = time.time()
    budget = args.minutes * 60
    warmup = 50
    step = 0
    running = None
    while step < args.steps and time.time() - start < budget:
        progress = (time.time() - start) / budget
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, _ = answer_loss(model, *collate(next(stream), pad))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        running = float(loss) if running is None else 0.95 * running + 0.05 * float(loss)
        if step % args.eval_every == 0:
            held_loss = held_out_loss(model, held, pad) if held else float("nan")
            writer.writerow([step, round(time.time() - start, 1), round(running, 4), round(held_loss, 4)])
            log.flush()
            print(f"step {step} {time.time() - start:.0f}s loss {running:.3f} held-out {held_loss:.3f}", flush=True)
    held_loss = held_out_loss(model, held, pad) if held else float("nan")
    writer.writerow([step, round(time.time() - start, 1), round(running or float("nan"), 4), round(held_loss, 4)])
    log.close()
    model.half().save_pretrained(args.out, safe_serialization=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.tokenizer, name), os.path.join(args.out, name))
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(
            {
                "arguments": vars(args),
                "parameters": parameters,
                "steps": step,
                "seconds": round(time.time() - start, 1),
                "final_held_out_loss": held_loss,
                "torch": torch.__version__,
                "transformers": __import__("transformers").__version__,
            },
            f,
            indent=2,
        )
    print(f"wrote {args.out}: {step} steps in {time.time() - start:.0f}s, held-out loss {held_loss:.3f}")


if __name__ == "__main__":
    main()
