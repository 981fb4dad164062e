#!/bin/sh
# make bench: runs every benchmark binary. Figures are printed with the peer or hardware
# limit measured in the same run, since this machine is shared and noisy.
set -e
for b in build/tests/bench_*; do
    [ -x "$b" ] || continue
    echo "== $b"
    "$b"
done
