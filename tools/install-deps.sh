#!/bin/sh
# Installs the Debian packages layerscope needs to build and test, only those missing.
# Uses sudo when not root. Usage: tools/install-deps.sh [extra-package ...]
set -e
# python3-scipy: the kurtosis test compares against scipy.stats.kurtosis.
# libdnnl-dev: oneDNN's matmul for --compute bf16.
need="gcc make pkg-config libncurses-dev libopenblas-dev libcjson-dev libdnnl-dev tmux groff-base python3-scipy $*"
missing=""
for p in $need; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
