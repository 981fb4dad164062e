#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer target (clang, ASan + UBSan) against all of
# core/*/*.c and runs each one for FUZZ_SECONDS (default 60).
#
#   tests/fuzz/run.sh [NAME ...]     NAME = gguf for fuzz_gguf.c; default: every target
#
# Corpus of target NAME: build-fuzz/corpus/NAME, seeded from the writer-generated seeds
# (tests/fuzz/make_seeds.c -> build-fuzz/seeds/NAME), tests/fuzz/seeds/NAME and
# tests/fuzz/regressions/NAME when they exist. A crashing input is copied to
# tests/fuzz/regressions/NAME/ (replayed by the regular tests) and the script exits 1.
# Environment: FUZZ_SECONDS, CC_FUZZ (default clang-14, else clang), FUZZ_FLAGS (extra
# libFuzzer flags).
set -eu
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
if [ -z "${CC_FUZZ:-}" ]; then
    if command -v clang-14 >/dev/null 2>&1; then CC_FUZZ=clang-14; else CC_FUZZ=clang; fi
fi
OUT=build-fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
PKG_CFLAGS=$(pkg-config --cflags libcjson openblas 2>/dev/null || true)
PKG_LIBS=$(pkg-config --libs libcjson openblas 2>/dev/null || echo "-lcjson -lopenblas")
CFLAGS="-std=c11 -D_GNU_SOURCE -pthread -g -O1 $SAN $PKG_CFLAGS -Icore -Itests/support"
LIBS="$PKG_LIBS -ldnnl -lgomp -lpthread -lm" # oneDNN and its OpenMP runtime, as the Makefile links

mkdir -p "$OUT/obj"

# Core objects with coverage instrumentation; rebuilt when the source or any header is newer.
newest_header=$(ls -t core/*/*.h tests/support/*.h | head -n 1)
# FUZZ_JOBS compilers at once (default 2).
objs=""
stale=""
for src in core/*/*.c tests/support/*.c; do
    obj="$OUT/obj/$(basename "$src" .c).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        stale="$stale $src"
    fi
    objs="$objs $obj"
done
if [ -n "$stale" ]; then
    export CC_FUZZ CFLAGS OUT
    # shellcheck disable=SC2016
    printf '%s\n' $stale | xargs -P "${FUZZ_JOBS:-2}" -I{} sh -c \
        'echo "cc {}"; $CC_FUZZ $CFLAGS -fsanitize=fuzzer-no-link -c "{}" -o "$OUT/obj/$(basename "{}" .c).o.tmp" && mv "$OUT/obj/$(basename "{}" .c).o.tmp" "$OUT/obj/$(basename "{}" .c).o"'
    for src in $stale; do
        [ -f "$OUT/obj/$(basename "$src" .c).o" ] || { echo "FAIL: cannot compile $src"; exit 1; }
    done
fi

# Seed corpora written by the project's own model writer.
$CC_FUZZ $CFLAGS -fsanitize=fuzzer-no-link -Itests/fuzz tests/fuzz/make_seeds.c $objs $LIBS \
    -o "$OUT/make_seeds"
"$OUT/make_seeds" "$OUT/seeds"

if [ $# -gt 0 ]; then
    targets=""
    for n in "$@"; do targets="$targets tests/fuzz/fuzz_$n.c"; done
else
    targets=$(ls tests/fuzz/fuzz_*.c)
fi

status=0
for src in $targets; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    bin="$OUT/fuzz_$name"
    # relinked only when the target, a header of tests/fuzz/ or an object is newer
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ -n "$(find tests/fuzz -name '*.h' -newer "$bin")" ] ||
       [ -n "$(find "$OUT/obj" -name '*.o' -newer "$bin")" ]; then
        echo "== fuzz_$name: build"
        $CC_FUZZ $CFLAGS -fsanitize=fuzzer -Itests/fuzz "$src" $objs $LIBS -o "$bin" || {
            echo "FAIL fuzz_$name: does not build"; status=1; continue; }
    fi
    corpus="$OUT/corpus/$name"
    arts="$OUT/artifacts/$name"
    rm -rf "$arts" # findings of earlier runs are already in tests/fuzz/regressions
    mkdir -p "$corpus" "$arts"
    for seeds in "$OUT/seeds/$name" "tests/fuzz/seeds/$name" "tests/fuzz/regressions/$name"; do
        if [ -d "$seeds" ]; then
            find "$seeds" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
        fi
    done
    echo "== fuzz_$name: run ${FUZZ_SECONDS}s"
    rc=0
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$arts/" -print_final_stats=1 ${FUZZ_FLAGS:-} "$corpus" \
        >"$OUT/fuzz_$name.log" 2>&1 || rc=$?
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" \
        "$OUT/fuzz_$name.log" || true
    found=$(find "$arts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        echo "FAIL fuzz_$name: exit $rc, $found artifact(s); see $OUT/fuzz_$name.log"
        mkdir -p "tests/fuzz/regressions/$name"
        find "$arts" -maxdepth 1 -type f -exec cp {} "tests/fuzz/regressions/$name/" \;
        status=1
    else
        echo "ok   fuzz_$name"
    fi
done
exit $status
