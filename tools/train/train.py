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
argument, the seed, versions) and `loss.csv` (step, seconds, dialogue and prose train loss, held-out loss).
"""

import argparse
import copy
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


def load_prose(path, tokenizer, length, eos):
    """Paragraphs packed end to end (separated by <|endoftext|>) into rows of `length` tokens:
    plain language modelling on openly licensed English."""
    stream = []
    with open(path) as f:
        for line in f:
            stream += tokenizer.encode(json.loads(line)["text"]).ids + [eos]
    rows = [stream[i : i + length] for i in range(0, len(stream) - length + 1, length)]
    # Targets are the second half of each row: every target has at least length/2 tokens of
    # context, and the vocabulary projection (most of a prose step's time) runs for half the rows.
    half = length // 2
    return [(row, [-100] * half + row[half:]) for row in rows]


def mixture(sources, weights, size, rng):
    """Batches whose examples come from each source with probability proportional to its weight,
    each source read in a fresh shuffled order every pass."""
    streams = [batches(source, 1, rng) for source in sources]
    live = [i for i, source in enumerate(sources) if source and weights[i] > 0]
    while True:
        picks = rng.choices(live, weights=[weights[i] for i in live], k=size)
        yield [next(streams[i])[0] for i in picks]


def batches(examples, size, rng):
    order = list(range(len(examples)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - size + 1, size):
            yield [examples[j] for j in order[i : i + size]]


def collate(batch, pad):
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (inputs, targets) in enumerate(batch):
        ids[row, : len(inputs)] = torch.tensor(inputs)
        labels[row, : len(targets)] = torch.tensor(targets)
        mask[row, : len(inputs)] = 1
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


def dialogue_loss(model, ids, labels, mask, prompt_weight):
    """Answer-token cross-entropy plus `prompt_weight` times the cross-entropy over every token
    (prompt and answer). Answers are a few dozen tokens of a 300-500 token example; also
    predicting the prompt (the notes, the question) gives each step ten times the training
    signal, at the price of the vocabulary projection for every position. Returns (loss to
    minimise, answer-only loss for the log)."""
    if prompt_weight <= 0:
        loss, _ = answer_loss(model, ids, labels, mask)
        return loss, loss
    hidden = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask[:, 1:] == 1
    targets = ids[:, 1:][valid]
    losses = torch.nn.functional.cross_entropy(model.lm_head(hidden[:, :-1][valid]).float(), targets, reduction="none")
    answer = (labels[:, 1:] != -100)[valid]
    answer_mean = losses[answer].mean()
    return answer_mean + prompt_weight * losses.mean(), answer_mean


def save(model, out, tokenizer_dir):
    """A float16 copy of the model as a Hugging Face checkpoint (the tied LM head stored once)."""
    copy.deepcopy(model).half().save_pretrained(out, safe_serialization=True)
    for name in ("vocab.json", "merges.txt"):
        # copyfile, not copy: the source may be read-only, and its mode would make the next save fail.
        shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(out, name))


@torch.no_grad()
def held_out_loss(model, examples, pad, size=8):
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), size):
        loss, n = answer_loss(model, *collate(examples[i : i + size], pad))
        total += float(loss) * n
        count += n
    model.train()
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, action="append", help="training-data JSON Lines (repeat)")
    ap.add_argument(
        "--weight",
        type=float,
        action="append",
        help="share of dialogue examples drawn from each --data file, in order (default: by size)",
    )
    ap.add_argument("--prose", help="corpus.py prose.jsonl, for plain language modelling between dialogue steps")
    ap.add_argument("--prose-every", type=int, default=3, help="every Nth step is a prose step")
    ap.add_argument("--prose-length", type=int, default=256)
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
    ap.add_argument(
        "--minutes",
        type=float,
        default=100,
        help="stop after this long; 0: run exactly --steps steps, the learning-rate schedule "
        "following the step count, so that a rerun repeats the run",
    )
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--save-every-minutes", type=float, default=15, help="write the model so far this often")
    ap.add_argument(
        "--prompt-weight",
        type=float,
        default=0.0,
        help="weight of the loss on prompt tokens too (0: answer tokens only)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument(
        "--init",
        help="start from this checkpoint (a train.py output) instead of random weights; "
        "its shape wins over --hidden/--layers/--heads/--window/--context",
    )
    args = ap.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = gpt2_tokenizer(args.tokenizer)
    eos = tokenizer.token_to_id("<|endoftext|>")
    pad = eos
    if args.init:
        # The examples must fit the starting model's position table, whatever --context says.
        args.context = GPTNeoConfig.from_pretrained(args.init).max_position_embeddings
    sources, held = [], []
    for path in args.data:
        t, h = load_examples(path, tokenizer, args.context)
        sources.append(t)
        held += h
    weights = args.weight or [len(t) for t in sources]
    if len(weights) != len(sources):
        raise SystemExit(f"--weight: {len(weights)} given for {len(sources)} --data files")
    train = [e for t in sources for e in t]
    if not train:
        raise SystemExit(f"{args.data}: no training examples")
    prose = load_prose(args.prose, tokenizer, args.prose_length, eos) if args.prose else []
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
    if args.init:
        model = GPTNeoForCausalLM.from_pretrained(args.init, torch_dtype=torch.float32)
        config = model.config
        # training.json records the shape that was trained, not the unused defaults.
        args.hidden, args.layers, args.heads, args.window = (
            config.hidden_size,
            config.num_layers,
            config.num_heads,
            config.window_size,
        )
    else:
        model = GPTNeoForCausalLM(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{parameters / 1e6:.1f}M parameters; {len(train)} training and {len(held)} held-out examples; "
        f"{len(prose)} prose rows of {args.prose_length} tokens",
        flush=True,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "loss.csv"), "w", newline="")
    writer = csv.writer(log)
    writer.writerow(["step", "seconds", "train_loss", "prose_loss", "held_out_loss"])
    rng = random.Random(args.seed)
    stream = mixture(sources, weights, args.batch, rng)
    prose_stream = batches(prose, args.batch, rng) if prose else None
    start = time.time()
    budget = args.minutes * 60 if args.minutes > 0 else math.inf
    warmup = 50
    step = 0
    running = None
    prose_running = None
    last_save = start
    while step < args.steps and time.time() - start < budget:
        progress = (time.time() - start) / budget if args.minutes > 0 else step / args.steps
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        source = prose_stream if prose_stream and step % args.prose_every == args.prose_every - 1 else stream
        if source is stream:
            loss, logged = dialogue_loss(model, *collate(next(source), pad), args.prompt_weight)
        else:
            loss, _ = answer_loss(model, *collate(next(source), pad))
            logged = loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if source is stream:
            running = float(logged.detach()) if running is None else 0.95 * running + 0.05 * float(logged.detach())
        else:
            prose_running = (
                float(logged.detach()) if prose_running is None else 0.9 * prose_running + 0.1 * float(logged.detach())
            )
        if time.time() - last_save > args.save_every_minutes * 60:
            save(model, args.out, args.tokenizer)
            last_save = time.time()
        if step % args.eval_every == 0:
            held_loss = held_out_loss(model, held, pad) if held else float("nan")
            prose_loss = round(prose_running, 4) if prose_running is not None else ""
            writer.writerow([step, round(time.time() - start, 1), round(running, 4), prose_loss, round(held_loss, 4)])
            log.flush()
            print(
                f"step {step} {time.time() - start:.0f}s loss {running:.3f} prose {prose_loss} held-out {held_loss:.3f}",
                flush=True,
            )
    held_loss = held_out_loss(model, held, pad) if held else float("nan")
    if step % args.eval_every:
        writer.writerow(
            [
                step,
                round(time.time() - start, 1),
                round(running or float("nan"), 4),
                round(prose_running or float("nan"), 4),
                round(held_loss, 4),
            ]
        )
    log.close()
    save(model, args.out, args.tokenizer)
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
