#!/bin/sh
# make test: every fuzz target (tests/fuzz/fuzz_*.c, built without libFuzzer by the Makefile
# into build/fuzz-replay/) replays its whole corpus: the seeds make_seeds writes, the
# hand-written tests/fuzz/seeds/NAME, every past finding in tests/fuzz/regressions/NAME and
# the corpus libFuzzer grew in build-fuzz/corpus/NAME (when make fuzz or a burst ran).
# A crash, a sanitizer report (make asan builds them with ASan + UBSan) or an input running
# past 60 s fails. Then, when clang is installed, a short libFuzzer burst of each target
# (tests/fuzz/run.sh, FUZZ_BURST_SECONDS each, default 4; 0 = no burst); without clang the
# burst does not run, and a note says so. Environment: FUZZ_REPLAY_DIR (default build/fuzz-replay).
cd "$(dirname "$0")/.." || exit 1
dir=${FUZZ_REPLAY_DIR:-build/fuzz-replay}
passed=0 failed=0 skipped=0
if [ ! -x "$dir/make_seeds" ]; then
    echo "SKIP fuzz corpora: $dir/make_seeds is not built (make test builds it)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
rm -rf "$dir/seeds"
if ! "$dir/make_seeds" "$dir/seeds" >"$dir/make_seeds.log" 2>&1; then
    echo "FAIL make_seeds: $(tail -n 1 "$dir/make_seeds.log")"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
total=0 crashes=0 hangs=0 targets=0
for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    targets=$((targets + 1))
    # plus the corpus libFuzzer grew here, when a burst or make fuzz ran before
    out=$(timeout 900 "$bin" -t 60 "$dir/seeds/$name" "tests/fuzz/seeds/$name" \
        "tests/fuzz/regressions/$name" "build-fuzz/corpus/$name" 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | sed -n 's/^replayed \([0-9]*\) inputs.*/\1/p' | tail -n 1)
    if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
        echo "ok   fuzz_$name: $n inputs replayed"
        total=$((total + n))
        passed=$((passed + 1))
    else
        if [ "$rc" -eq 3 ] || [ "$rc" -eq 124 ]; then hangs=$((hangs + 1)); else crashes=$((crashes + 1)); fi
        echo "FAIL fuzz_$name: exit $rc, ${n:-0} inputs (a target needs seeds):"
        printf '%s\n' "$out" | tail -n 15
        failed=$((failed + 1))
    fi
done
echo "fuzz corpora: $targets targets, $total inputs, $crashes crashing, $hangs hanging ($dir)"

# The burst is optional (clang is not a build dependency): when it does not run, a note says
# why; it is then neither a pass nor a skip of the suite's (tests/expected_skips counts the
# skips of tests that need ../shared).
burst=${FUZZ_BURST_SECONDS:-4}
if [ "$burst" = 0 ]; then
    echo "note: fuzz burst not run: FUZZ_BURST_SECONDS=0"
elif [ -n "${FUZZ_REPLAY_DIR:-}" ]; then
    echo "note: fuzz burst not run again under $FUZZ_REPLAY_DIR (make test runs it)"
elif ! command -v clang-14 >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
    echo "note: fuzz burst not run: clang is not installed (libFuzzer needs it; apt-get install clang)"
else
    mkdir -p build-fuzz
    # a fixed seed: the same corpus explores the same inputs on every machine
    if FUZZ_SECONDS=$burst FUZZ_FLAGS="-seed=1 ${FUZZ_FLAGS:-}" sh tests/fuzz/run.sh \
        >build-fuzz/burst.log 2>&1; then
        echo "ok   fuzz burst (${burst}s per target, ASan + UBSan):"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz burst: see build-fuzz/burst.log (new findings are copied to tests/fuzz/regressions/)"
        failed=$((failed + 1))
    fi
    # executions per target, from libFuzzer's final statistics
    awk '/^== fuzz_.*: run/ {name=$2; sub(":", "", name)}
         /^stat::number_of_executed_units/ {printf "       %-22s %s executions\n", name, $2}
         /^FAIL/ {print "       " $0}' build-fuzz/burst.log
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
