#!/bin/sh
# Scripted explorer runs (--no-display --script --dump-screen) of issue 11: the frontier on
# the bundled demo (F: every point measured, the same perplexities as --batch --frontier,
# the second F served from the cache), and budget targets on the Llama-2-7B metrics file
# (T sets one, > steps it, the memory panel shows target against used, a target outside
# the range keeps the previous allocation, e exports what --batch --export gives).
cd "$(dirname "$0")/.." || exit 1
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
TMP=build/tmp/tui_frontier
rm -rf "$TMP" && mkdir -p "$TMP"

run() {
    name=$1 size=$2 keys=$3; shift 3
    printf '%s\n' "$keys" > "$TMP/$name.keys"
    env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LAYERSCOPE_CACHE_DIR="$TMP/cache" LANG=C LC_ALL=C \
        COLUMNS="${size%x*}" LINES="${size#*x}" $LS_BIN --no-display \
        --script "$TMP/$name.keys" --dump-screen "$TMP/$name.txt" "$@" 2> "$TMP/$name.err"
}

# The frontier of the demo, one window per point (--chunks 1).
run frontier 110x44 "wait F wait dump F F dump" --chunks 1
if grep -q "Frontier: KLD to the unquantized model against memory, 13 of 13 measured" "$TMP/frontier.txt"; then
    ok "F measures all 13 points of the demo"; else bad "frontier screen: $(head -5 "$TMP/frontier.txt")"; fi
grep -q "frontier: all 13 points from the cache" "$TMP/frontier.txt" && ok "F again: every point from the cache" ||
    bad "no cache message: $(grep -i frontier "$TMP/frontier.txt" | tail -2)"
grep -q "left out: no fnorm: no MXQ point" "$TMP/frontier.txt" && ok "the missing MXQ point is explained" ||
    bad "no note about MXQ"
# the plot: uniform markers and the joined line, axis ticks, readable without colour
awk '/Frontier: KLD/{f=1} f&&/\|/' "$TMP/frontier.txt" | head -24 > "$TMP/plot.txt"
if [ "$(grep -o 'o' "$TMP/plot.txt" | wc -l)" -ge 5 ] && grep -q '\.\.' "$TMP/plot.txt" &&
   grep -q 'b2g' "$TMP/plot.txt" && grep -q ':' "$TMP/plot.txt"; then ok "plot: markers, the no-boosting line, labels, error bars"; else
    bad "plot"; cat "$TMP/plot.txt"; fi
# the same perplexities as batch mode
LAYERSCOPE_CACHE_DIR="$TMP/cache" $LS_BIN --batch --frontier --chunks 1 --frontier-csv "$TMP/batch.csv" --frontier-svg "$TMP/f.svg" \
    --json "$TMP/f.json" > "$TMP/batch.txt" 2>&1 || bad "batch --frontier failed: $(tail -2 "$TMP/batch.txt")"
if python3 - "$TMP/frontier.txt" "$TMP/batch.csv" "$TMP/f.json" "$TMP/f.svg" <<'PY'
import csv, json, re, sys, xml.dom.minidom
screen = open(sys.argv[1]).read().split("\n")
rows = {}
for line in screen:
    m = re.match(r"^ [oSKxM@] (.{28}) (\w+)\s+([\d.]+)\s+([-+\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
    if m:
        rows[m.group(1).strip()] = (float(m.group(5)), float(m.group(6)), float(m.group(7)))
batch = {r["label"]: (float(r["kld_mean"]), float(r["kld_se"]), float(r["ppl"]))
         for r in csv.DictReader(open(sys.argv[2]))}
assert len(batch) == 13 and set(batch) == set(rows), (sorted(batch), sorted(rows))
for k, (kl, se, ppl) in batch.items():
    assert abs(round(kl, 6) - rows[k][0]) < 1e-12 and abs(round(se, 6) - rows[k][1]) < 1e-12, (k, kl, rows[k])
    assert abs(round(ppl, 4) - rows[k][2]) < 1e-9, (k, ppl, rows[k])
    assert kl > 0 and se > 0
doc = json.load(open(sys.argv[3]))
pts = doc["frontier"]["points"]
kinds = {p["kind"] for p in pts}
assert kinds == {"uniform", "sensi", "kurt", "ablation", "current"}, kinds
for p in pts:
    for key in ("label", "kind", "bpp", "extra_pct", "kld_mean", "kld_se", "ppl"):
        assert key in p, key
cur = [p for p in pts if p["kind"] == "current"][0]
sensi = [p for p in pts if p["kind"] == "sensi"][0]
assert cur["ppl"] == sensi["ppl"] and cur["fingerprint"] == sensi["fingerprint"]
svg = xml.dom.minidom.parse(sys.argv[4])
texts = [t.firstChild.data for t in svg.getElementsByTagName("text") if t.firstChild]
assert "no boosting" in texts and "SensiBoost" in texts, texts
assert doc["frontier"]["measure"] == "kld"
# more bits, less divergence: the uniform line's ends
uni = sorted((p["bpp"], p["kld_mean"]) for p in pts if p["kind"] == "uniform")
assert uni[-1][1] < uni[0][1], uni
PY
then ok "explorer and --batch --frontier agree (KLD, SE, PPL); JSON and SVG complete"; else bad "frontier batch/explorer comparison"; fi

# with --fnorm the frontier has its MXQ point, at exactly SensiBoost's memory or below
LAYERSCOPE_CACHE_DIR="$TMP/cache" $LS_BIN --batch --fnorm --frontier --chunks 1 --json "$TMP/fm.json" > "$TMP/fm.txt" 2>&1 ||
    bad "batch --fnorm --frontier failed: $(tail -2 "$TMP/fm.txt")"
if python3 - "$TMP/fm.json" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["frontier"]["points"]
m = [p for p in pts if p["kind"] == "mxq"]
s = [p for p in pts if p["kind"] == "sensi"][0]
assert len(m) == 1 and m[0]["bpp"] <= s["bpp"] and m[0]["kld_mean"] > 0, (m, s)
PY
then ok "--fnorm: the MXQ point at SensiBoost's memory"; else bad "no MXQ point: $(tail -3 "$TMP/fm.txt")"; fi

# m cycles into the budget methods the profile can run: the demo has no fnorm (no mxq)
run cycle 110x40 "m m m m dump"
grep -q "method sensi-milp (SensiMiLP, exact)  target" "$TMP/cycle.txt" && ok "m skips mxq without fnorm, reaches sensi-milp with a target" ||
    bad "method cycle: $(sed -n 2p "$TMP/cycle.txt")"

METRICS=${LAYERSCOPE_SHARED:-../shared}/data/paper/fnorm-Llama-2-7b-hf.csv
if [ ! -f "$METRICS" ]; then
    skip=$((skip + 1)); echo "skip budget targets: $METRICS not found"
else
    rm -rf "$TMP/xdg" # the config keeps the cycle run's target: start from the defaults
    run target 110x40 "T text:3.3 Enter dump > dump T C-u text:1 Enter dump e C-u text:$TMP/ui.json Enter" "$METRICS"
    grep -q "method mxq (MXQ, exact)  target 3.3 bpp" "$TMP/target.txt" && grep -q "target 3.3000 bpp, used" "$TMP/target.txt" &&
        ok "T 3.3: mxq with the target in the memory panel" || bad "T: $(grep -n 'target' "$TMP/target.txt" | head -3)"
    grep -q "method mxq (MXQ, exact)  target 3.35 bpp" "$TMP/target.txt" && ok "> steps the target by 0.05" || bad "> step"
    if grep -q "outside the feasible range 2.1270 to 8.5078 bpp" "$TMP/target.txt" &&
       [ "$(grep -c 'target 3.3500 bpp, used' "$TMP/target.txt")" -ge 2 ]; then
        ok "a target outside the range keeps the previous allocation"; else bad "bad target handling"; fi
    $LS_BIN --batch --method mxq --target-bpp 3.35 --export "$TMP/batch.json" "$METRICS" > /dev/null
    if python3 - "$TMP/ui.json" "$TMP/batch.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["optimal_configs"] == b["optimal_configs"] and a["boosted"] == b["boosted"]
sa, sb = a["method"], b["method"]
assert sa["budget_target"] == sb["budget_target"] == {"kind": "bpp", "value": 3.35}, (sa, sb)
PY
    then ok "e exports the allocation --batch --export gives"; else bad "export differs"; fi
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
