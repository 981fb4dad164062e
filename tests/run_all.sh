#!/bin/sh
# Runs every test binary given on the command line (and tests/*.sh scripts), adds up their
# "N passed, N failed, N skipped" lines and prints the total as the last line. A binary
# that dies without its summary line counts as one failure.
passed=0 failed=0 skipped=0
# The evaluation cache of P / --kld stays inside the build tree during tests.
LAYERSCOPE_CACHE_DIR=${LAYERSCOPE_CACHE_DIR:-$PWD/build/tmp/cache}
export LAYERSCOPE_CACHE_DIR
run_one() {
    name=$1; shift
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' 
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
for s in tests/*.sh; do
    case "$s" in tests/run_all.sh|tests/bench.sh) continue ;; esac
    [ -f "$s" ] || continue
    echo "== $s"
    run_one "$s" sh "$s"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
