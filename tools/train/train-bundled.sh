#!/usr/bin/env bash
# Rebuilds the bundled model models/tutor from nothing: the corpus from Debian packages,
# the tutoring dialogues (photosynthesis held out), then 75 minutes of CPU training.
#   tools/train/train-bundled.sh [OUT]      (default models/tutor)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-models/tutor}
WORK=.build/corpus
TOKENIZER=../shared/gpt2-tokenizer
[ -f "$TOKENIZER/vocab.json" ] || TOKENIZER=Tests/GPTNeoTests/Fixtures/gpt2-vocab
[ -x .venv-ref/bin/python ] || { python3 -m venv .venv-ref && .venv-ref/bin/pip install -r tools/train/requirements.txt; }
swift build -c release --product tutor --scratch-path .build-release
TUTOR=.build-release/release/tutor
python3 tools/train/corpus.py --out "$WORK" --max-words 30000
$TUTOR curriculum training-data --tokenizer "$TOKENIZER" --hold-out photosynthesis \
  --context 512 --answer-tokens 160 --out "$WORK/curricula-dialogues.jsonl"
$TUTOR curriculum training-data --curricula "$WORK/curricula" --tokenizer "$TOKENIZER" \
  --context 512 --answer-tokens 160 --out "$WORK/corpus-dialogues.jsonl"
grep '"curriculum":"py-' "$WORK/corpus-dialogues.jsonl" > "$WORK/py-dialogues.jsonl"
grep '"curriculum":"words-' "$WORK/corpus-dialogues.jsonl" > "$WORK/words-dialogues.jsonl"
.venv-ref/bin/python tools/train/train.py --tokenizer "$TOKENIZER" --out "$OUT" \
  --data "$WORK/curricula-dialogues.jsonl" --weight 0.15 \
  --data "$WORK/py-dialogues.jsonl" --weight 0.4 \
  --data "$WORK/words-dialogues.jsonl" --weight 0.45 \
  --prose "$WORK/prose.jsonl" --prose-every 4 --prose-length 256 \
  --hidden 256 --layers 6 --heads 8 --window 256 --context 512 --batch 6 --lr 1e-3 --prompt-weight 1 \
  --minutes 75 --eval-every 150
