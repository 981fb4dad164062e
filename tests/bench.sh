#!/bin/sh
# make bench: runs every benchmark binary. Figures are printed with the peer or hardware
# limit measured in the same run, since this machine is shared and noisy.
set -e
for b in build/tests/bench_*; do
    [ -x "$b" ] || continue
    case "$b" in build/tests/bench_rss) continue ;; esac
    echo "== $b"
    "$b"
done
# Peak RSS of the kurtosis pass on a multi-GB model (2.1 GB GGUF, generated once by the
# project's synthetic writer and kept in build/bench/; LAYERSCOPE_BENCH_RSS_MODEL overrides).
if [ -x build/tests/bench_rss ]; then
    model=${LAYERSCOPE_BENCH_RSS_MODEL:-build/bench/rss-1b.gguf}
    if [ ! -f "$model" ]; then
        echo "== generating $model (layerscope-mkmodel --preset 1b --format gguf; a few minutes)"
        mkdir -p "$(dirname "$model")"
        ./layerscope-mkmodel --preset 1b --format gguf "$model.part" && mv "$model.part" "$model"
    fi
    echo "== build/tests/bench_rss"
    build/tests/bench_rss "$model"
fi
