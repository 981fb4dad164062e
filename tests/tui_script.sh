#!/bin/sh
# Scripted explorer runs without a terminal (--no-display --script --dump-screen): export
# through the path prompt (compared with --batch --export), the histogram job, mouse
# selection, the manual toggle, a broken config file, and a --max-frames smoke run.
cd "$(dirname "$0")/.." || exit 1
# The binary under test: make asan points this at its sanitizer build.
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
TMP=build/tmp/tui_script
rm -rf "$TMP" && mkdir -p "$TMP"
MODEL=$TMP/model
./layerscope-mkmodel --layers 24 --outlier 7.down:cols:30 --outlier 11.q:rows:20 \
    --outlier 18.gate:cols:10 "$MODEL" >/dev/null || bad "mkmodel"

# run NAME COLSxROWS SCRIPT-TOKENS ARGS...: screen text in $TMP/NAME.txt
run() {
    name=$1 size=$2 keys=$3; shift 3
    printf '%s\n' "$keys" > "$TMP/$name.keys"
    env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C \
        COLUMNS="${size%x*}" LINES="${size#*x}" $LS_BIN --no-display \
        --script "$TMP/$name.keys" --dump-screen "$TMP/$name.txt" "$@" 2> "$TMP/$name.err"
}

# smoke: the real UI for a few frames
if run smoke 80x24 "" --max-frames 3 --method kurt "$MODEL"; then ok "--max-frames smoke run"; else
    bad "--max-frames run failed: $(cat "$TMP/smoke.err")"; fi

# export through the prompt equals the batch export for the same settings
run export 100x30 "wait + ] e C-u text:$TMP/ui-alloc.json Enter" --method kurt "$MODEL"
$LS_BIN --batch --method kurt --top-m 1 --boost-stop 4 --export "$TMP/batch-alloc.json" \
    "$MODEL" > /dev/null
if [ -s "$TMP/ui-alloc.json" ] && python3 - "$TMP/ui-alloc.json" "$TMP/batch-alloc.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d["model"].pop("path", None)
sys.exit(0 if a == b else 1)
PY
then ok "e exports the same allocation as --batch --export"; else bad "export differs or missing"; fi
grep -q "exported 4 boosted of 168 matrices" "$TMP/export.txt" && ok "export reported on the status line" ||
    bad "no export message: $(tail -1 "$TMP/export.txt")"
ls "$TMP"/ui-alloc.json.tmp.* >/dev/null 2>&1 && bad "temporary export file left" || ok "no temporary file left"

# histogram of layer 7 down: its tails are highlighted with '!'
run hist 100x30 "wait 7 Down Down Down Down Down Down Down h wait" --method kurt "$MODEL"
if grep -q "Weight histogram: layer 7 mlp.down_proj" "$TMP/hist.txt" && grep -q "n 11008 " "$TMP/hist.txt" &&
   grep -q '!' "$TMP/hist.txt"; then ok "h: histogram with highlighted tails"; else
    bad "histogram screen"; cat "$TMP/hist.txt"; fi

# mouse: a click on a row selects that layer (row 4 + k is layer k at the top)
run click 100x30 "wait click:9,10" --method kurt "$MODEL"
grep -q "^ Layer 5 self_attn.q_proj" "$TMP/click.txt" && ok "click selects layer 5" ||
    bad "click: $(grep '^ Layer' "$TMP/click.txt")"

# space: hand-tuning starts from the current set and becomes manual
run manual 100x30 "wait 7 Down Down Down Space" --method kurt "$MODEL"
if grep -q "method manual" "$TMP/manual.txt" && grep -q "boosted 8" "$TMP/manual.txt" &&
   grep -qE '^>  3\*' "$TMP/manual.txt"; then ok "space: manual boost on layer 3 down (7 + 1)"; else
    bad "manual toggle"; head -3 "$TMP/manual.txt"; fi

# a broken config file is reported, not fatal
mkdir -p "$TMP/xdg/layerscope"
printf '{"version": 1, "method": ' > "$TMP/xdg/layerscope/config.json"
if run broken 100x30 "wait" "$MODEL" && grep -q "config ignored" "$TMP/broken.txt"; then
    ok "broken config reported on the status line"; else bad "broken config: $(tail -1 "$TMP/broken.txt")"; fi
grep -q '"version":' "$TMP/xdg/layerscope/config.json" && ok "config rewritten on exit" || bad "config not rewritten"

# the ASCII fallback draws no UTF-8 bytes
if LC_ALL=C grep -q "$(printf '\342')" "$TMP/export.txt"; then bad "UTF-8 bytes in ASCII mode"; else
    ok "ASCII fallback under the C locale"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
