# record: one measured comparison as a JSON line in the results file that
# `make bench` turns into bench/RESULTS.md and its charts (bench/report).
# Sourced by the benchmark scripts; the Rust benchmarks write the same line
# (bench/common/mod.rs).
#   record BENCH MEASURE UNIT OURS PEER_NAME PEER_VALUE BETTER GOAL
# BETTER is `higher` (ours/peer should be >= GOAL) or `lower` (<= GOAL);
# GOAL `-` when there is none.
RESULTS_FILE=${SEALCAST_BENCH_RESULTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/bench/results.jsonl}
record() {
    mkdir -p "$(dirname "$RESULTS_FILE")"
    python3 - "$@" >>"$RESULTS_FILE" <<'PY'
import json, sys
bench, measure, unit, ours, peer, peer_value, better, goal = sys.argv[1:9]
goal = None if goal == "-" else float(goal)
print(json.dumps({"bench": bench, "measure": measure, "unit": unit, "ours": float(ours),
                  "peer": peer, "peer_value": float(peer_value), "better": better,
                  "goal": goal}))
PY
}
