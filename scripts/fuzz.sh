#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a fixed time, then reports executions and
# crashes, and (with FUZZ_MERGE=1) merges what the fuzzer found into the committed corpora in
# minimized form.
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh     # longer
#   scripts/fuzz.sh ikev2/responder esp/decapsulate   # only these (crate/target)
#   FUZZ_MERGE=1 scripts/fuzz.sh         # also minimize + merge new inputs into */fuzz/corpus
#   FUZZ_JOBS=2 scripts/fuzz.sh          # libFuzzer -fork workers per target (default 1)
#
# Work corpora live in target/fuzz-work/<crate>/<target> (seeded from the committed corpus);
# crash inputs are copied to <crate>/fuzz/regressions/<target>/, which the crates' corpus
# replay tests (ikev2/tests/hostile_fuzz_corpus.rs, esp/tests/hostile_classify.rs,
# esp/tests/decap_hostile_input.rs, esp/tests/decap_sealed_trailer.rs,
# gateway/tests/hostile_fuzz_corpus.rs) run on stable Rust.
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
MERGE=${FUZZ_MERGE:-0}
# Corpus files larger than this are not merged into the repository.
MAX_KEEP_BYTES=${FUZZ_MAX_KEEP_BYTES:-4096}
WORK="$ROOT/target/fuzz-work"

ALL=(
  ikev2/decode_message ikev2/decode_payloads ikev2/responder ikev2/sk_body ikev2/exchange
  esp/decapsulate esp/decapsulate_sealed esp/classify_udp_4500
  gateway/config_parse gateway/nat_t_classify
)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2; exit 2; }

summary=()
failed=0
for ct in "${TARGETS[@]}"; do
  crate=${ct%%/*}
  target=${ct#*/}
  fuzzdir="$ROOT/$crate/fuzz"
  committed="$fuzzdir/corpus/$target"
  work="$WORK/$crate/$target"
  artifacts="$WORK/$crate/artifacts/$target/"
  mkdir -p "$work" "$artifacts" "$committed"
  cp -n "$committed"/* "$work"/ 2>/dev/null || true
  echo "=== $crate/$target: ${SECONDS_EACH}s"
  log="$WORK/$crate/$target.log"
  set +e
  (cd "$fuzzdir" && cargo +nightly fuzz run -O "$target" "$work" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$artifacts" \
      -rss_limit_mb=2048 -timeout=10 $( [ "$JOBS" -gt 1 ] && echo "-fork=$JOBS -ignore_crashes=1" )) \
      >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  rss=$(grep -E 'stat::peak_rss_mb' "$log" | awk '{print $2}' | sort -n | tail -1)
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ]; then
    failed=1
    mkdir -p "$fuzzdir/regressions/$target"
    find "$artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) \
      -exec cp -n {} "$fuzzdir/regressions/$target/" \;
    echo "!!! $crate/$target: exit $rc, $crashes crash input(s) -> $crate/fuzz/regressions/$target/ (log: $log)"
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 || true
  fi
  files=$(find "$work" -type f | wc -l)
  summary+=("$(printf '%-26s execs %10s  ~%6s/s  rss %5s MB  corpus %5s  crashes %s' \
    "$crate/$target" "$execs" "$((execs / (SECONDS_EACH > 0 ? SECONDS_EACH : 1)))" "${rss:-?}" "$files" "$crashes")")
  if [ "$MERGE" = 1 ]; then
    # Minimize the work corpus into a fresh directory, then keep only small new inputs.
    min="$WORK/$crate/$target.min"
    rm -rf "$min"; mkdir -p "$min"
    (cd "$fuzzdir" && cargo +nightly fuzz run -O "$target" "$min" "$work" -- -merge=1 \
        -artifact_prefix="$artifacts" >"$log.merge" 2>&1) || true
    added=0
    for f in "$min"/*; do
      [ -f "$f" ] || continue
      [ "$(stat -c %s "$f")" -le "$MAX_KEEP_BYTES" ] || continue
      b=$(basename "$f")
      if [ ! -e "$committed/$b" ]; then cp "$f" "$committed/$b"; added=$((added + 1)); fi
    done
    echo "    merged: $(find "$min" -type f | wc -l) minimized inputs, $added new file(s) in $crate/fuzz/corpus/$target"
  fi
done

echo
echo "=== fuzz summary (${SECONDS_EACH}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
