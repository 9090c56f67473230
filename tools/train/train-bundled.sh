#!/usr/bin/env bash
# Rebuilds the bundled model models/tutor from nothing, on 2 CPU cores in about 2 hours:
#   1. the corpus from Debian packages (tools/train/corpus.py) and the tutoring dialogues;
#   2. phase 1, 75 minutes: reading and answering from notes, on the synthetic Python-documentation
#      and WordNet lessons plus two of the shipped curricula (photosynthesis kept out, as a check
#      of this phase), with prose language modelling every fourth step;
#   3. phase 2, 1,500 steps (about 38 minutes): the same mix, now led by all three shipped
#      curricula, so that the server's own lessons are answered in their words.
# tools/train/heldout/water-cycle is never trained on: evaluate.py measures generalisation on it.
#   tools/train/train-bundled.sh [OUT]      (default models/tutor)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-models/tutor}
WORK=.build/corpus
# GPT-2's vocabulary and merges, as committed for the engine's tests.
TOKENIZER=Tests/EngineTests/Fixtures/gpt2-vocab
[ -x .venv-ref/bin/python ] || { python3 -m venv .venv-ref && .venv-ref/bin/pip install -r tools/train/requirements.txt; }
swift build -c release --product tutor --scratch-path .build-release
TUTOR=.build-release/release/tutor
DIALOGUES="--tokenizer $TOKENIZER --context 512 --answer-tokens 160"
python3 tools/train/corpus.py --out "$WORK" --max-words 30000
$TUTOR curriculum training-data $DIALOGUES --hold-out photosynthesis --out "$WORK/curricula-dialogues.jsonl"
$TUTOR curriculum training-data $DIALOGUES --out "$WORK/shipped-dialogues.jsonl"
$TUTOR curriculum training-data $DIALOGUES --curricula tools/train/heldout --hold-out water-cycle \
  --out "$WORK/heldout-dialogues.jsonl"
$TUTOR curriculum training-data $DIALOGUES --curricula "$WORK/curricula" --out "$WORK/corpus-dialogues.jsonl"
grep '"curriculum":"py-' "$WORK/corpus-dialogues.jsonl" > "$WORK/py-dialogues.jsonl"
grep '"curriculum":"words-' "$WORK/corpus-dialogues.jsonl" > "$WORK/words-dialogues.jsonl"
SHAPE="--hidden 256 --layers 6 --heads 8 --window 256 --context 512 --batch 6 --lr 1e-3"
.venv-ref/bin/python tools/train/train.py --tokenizer "$TOKENIZER" --out "$WORK/phase1" $SHAPE \
  --data "$WORK/curricula-dialogues.jsonl" --weight 0.15 \
  --data "$WORK/py-dialogues.jsonl" --weight 0.4 \
  --data "$WORK/words-dialogues.jsonl" --weight 0.45 \
  --prose "$WORK/prose.jsonl" --prose-every 4 --prose-length 256 \
  --prompt-weight 1 --minutes 75 --eval-every 150
.venv-ref/bin/python tools/train/train.py --tokenizer "$TOKENIZER" --out "$OUT" $SHAPE --init "$WORK/phase1" \
  --data "$WORK/shipped-dialogues.jsonl" --weight 0.6 \
  --data "$WORK/heldout-dialogues.jsonl" --weight 0 \
  --data "$WORK/py-dialogues.jsonl" --weight 0.2 \
  --data "$WORK/words-dialogues.jsonl" --weight 0.2 \
  --prose "$WORK/prose.jsonl" --prose-every 6 --prose-length 256 \
  --steps 1500 --minutes 0 --eval-every 50 --save-every-minutes 8
cp "$WORK/phase1/loss.csv" "$OUT/loss-phase1.csv"
cp "$WORK/phase1/training.json" "$OUT/training-phase1.json"
cp "$WORK/sources.json" "$OUT/sources.json"
