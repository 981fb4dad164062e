#!/bin/sh
# Runs every test binary given on the command line (and tests/*.sh scripts, or only those in
# $LAYERSCOPE_TEST_SCRIPTS), adds up their "N passed, N failed, N skipped" lines and prints
# the total as the last line. A binary that dies without its summary line counts as one
# failure. The skips are listed by name before the total; with ../shared present, more
# skips than tests/expected_skips allows count as a failure. With $LAYERSCOPE_SAN_REPORTS
# (a directory where sanitizers log), every report file there counts as a failure.
passed=0 failed=0 skipped=0
# The evaluation cache of P / --kld stays inside the build tree during tests.
LAYERSCOPE_CACHE_DIR=${LAYERSCOPE_CACHE_DIR:-$PWD/build/tmp/cache}
export LAYERSCOPE_CACHE_DIR
skip_list=$(mktemp) || exit 1
trap 'rm -f "$skip_list"' EXIT
run_one() {
    name=$1; shift
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok '
    printf '%s\n' "$out" | grep '^SKIP' | sed "s|^SKIP |  $name: |" >> "$skip_list"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a summary line"
        failed=$((failed + 1)); return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited $rc"
        failed=$((failed + 1))
    fi
}
for t in "$@"; do
    echo "== $t"
    run_one "$t" "$t"
done
for s in ${LAYERSCOPE_TEST_SCRIPTS:-tests/*.sh}; do
    case "$s" in tests/run_all.sh|tests/bench.sh) continue ;; esac
    [ -f "$s" ] || continue
    echo "== $s"
    run_one "$s" sh "$s"
done
if [ "$skipped" -gt 0 ]; then
    echo "== skipped ($skipped):"
    cat "$skip_list"
fi
# More skips than expected while the shared references are there: something that should
# have run did not (a moved file, a broken lookup), and a skip is never a pass.
shared=${LAYERSCOPE_SHARED:-../shared}
expected=$(grep -v '^#' tests/expected_skips 2>/dev/null | head -n 1 | tr -d ' ')
if [ -d "$shared" ]; then
    if [ -z "$expected" ]; then
        echo "FAIL tests/expected_skips: no number"
        failed=$((failed + 1))
    elif [ "$skipped" -gt "$expected" ]; then
        echo "FAIL $skipped skipped, tests/expected_skips allows $expected with $shared present"
        failed=$((failed + 1))
    fi
fi
if [ -n "$LAYERSCOPE_SAN_REPORTS" ]; then
    for r in "$LAYERSCOPE_SAN_REPORTS"/*; do
        [ -f "$r" ] || continue
        cat "$r"
        echo "FAIL sanitizer report $r"
        failed=$((failed + 1))
    done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
