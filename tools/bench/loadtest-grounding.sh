#!/usr/bin/env bash
# Side-by-side load test: the same release server, asked with grounded decoding on and off
# (tutor loadtest --no-grounding), alternating; results under /tmp/lt/g-MODE-ROUND/.
#   TOK=16 ROUNDS="1 2" tools/bench/loadtest-grounding.sh     (defaults: 48 tokens, rounds 1 2 3)
set -u
cd "$(dirname "$0")/../.."
mkdir -p /tmp/lt
T=.build-release/release/tutor
for round in ${ROUNDS:-1 2 3}; do
  for mode in grounded off; do
    rm -rf /tmp/lt/g-$mode-$round && mkdir -p /tmp/lt/g-$mode-$round
    db=/tmp/lt/g-$mode-$round/tutor.sqlite
    extra=""; [ $mode = off ] && extra="--no-grounding"
    $T serve --port 50071 --db $db --embedding-cache /tmp/lt/cache > /tmp/lt/g-$mode-$round/serve.log 2>&1 &
    pid=$!
    for i in $(seq 1 150); do grep -q "serving" /tmp/lt/g-$mode-$round/serve.log && break; sleep 0.2; done
    ADMIN=$($T token create --db $db --role admin --label lt)
    $T loadtest --server 127.0.0.1:50071 --token $ADMIN --students 50 --duration 45 --max-new-tokens ${TOK:-48} --db $db --json $extra > /tmp/lt/g-$mode-$round/result.json 2> /tmp/lt/g-$mode-$round/loadtest.err
    kill -INT $pid; wait $pid
    echo "$mode round $round: $(cat /tmp/lt/g-$mode-$round/result.json)"
  done
done
