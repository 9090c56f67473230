#!/usr/bin/env bash
# Side-by-side load test of two servers on the same model, curricula and load, alternating A, B
# per round: two binaries, or one binary with different serve flags (A_FLAGS, B_FLAGS); results
# under /tmp/lt/ab-NAME-ROUND/ (the report, the server's log, its metrics at the end of the load).
# The load generator is NEW_TUTOR's for both sides, so an old binary is measured by today's client.
#   tools/bench/loadtest-ab.sh OLD_TUTOR NEW_TUTOR        (env: TOK=48 ROUNDS="1 2 3" STUDENTS=50 DURATION=45)
#   A_FLAGS="--safety-config none.yaml" tools/bench/loadtest-ab.sh T T
#   LT_FLAGS="--lessons 3" adds loadtest flags (both sides)
set -u
cd "$(dirname "$0")/../.."
a=$1
b=$2
duration=${DURATION:-45}
mkdir -p /tmp/lt
for round in ${ROUNDS:-1 2 3}; do
  for name in a b; do
    bin=$a; flags=${A_FLAGS:-}
    [ $name = b ] && bin=$b && flags=${B_FLAGS:-}
    dir=/tmp/lt/ab-$name-$round
    rm -rf $dir && mkdir -p $dir
    db=$dir/tutor.sqlite
    $bin serve --port 50071 --db $db --embedding-cache /tmp/lt/cache-$name --metrics-port 9471 $flags > $dir/serve.log 2>&1 &
    pid=$!
    for i in $(seq 1 300); do grep -q "serving" $dir/serve.log && break; sleep 0.2; done
    admin=$($bin token create --db $db --role admin --label lt)
    # The gauges just before the load ends: prompt tokens reused, rows computed, drafts.
    (sleep $((${duration%.*} - 1)); curl -s http://127.0.0.1:9471/metrics | grep -E '^tutor_(prefix|engine|prompt_lookup|generated)' > $dir/metrics.txt) &
    $b loadtest --server 127.0.0.1:50071 --token "$admin" --students ${STUDENTS:-50} \
      --duration $duration --max-new-tokens ${TOK:-48} --db $db --json ${LT_FLAGS:-} > $dir/result.json 2> $dir/loadtest.err
    kill -INT $pid; wait $pid
    echo "$name round $round: $(cat $dir/result.json)"
    [ -s $dir/metrics.txt ] && echo "  metrics: $(tr '\n' ' ' < $dir/metrics.txt)"
  done
done
