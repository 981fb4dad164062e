#!/bin/sh
# Importance matrices end to end: the batch CLI (--export-imatrix writes a GGUF imatrix
# that opens on its own as a profile; --imatrix adds act_energy, imatrix_error and the
# agreement to the JSON; bad files exit 2 with one line) and the explorer (the column
# label, the detail pane's imatrix statistics, the A agreement screen), and the measured dKL
# (--measure, resumed from its state file; the M job).
cd "$(dirname "$0")/.." || exit 1
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
TMP=build/tmp/tui_imatrix
rm -rf "$TMP" && mkdir -p "$TMP"

# the demo's calibration pass writes an imatrix
if $LS_BIN --batch --export-imatrix "$TMP/demo.imatrix.gguf" > /dev/null 2> "$TMP/exp.err" &&
   [ -s "$TMP/demo.imatrix.gguf" ] && grep -q "imatrix of 168 matrices" "$TMP/exp.err"; then
    ok "--export-imatrix on the demo"
else
    bad "--export-imatrix: $(cat "$TMP/exp.err")"
fi

# it opens alone as a profile (by content: under a neutral name too)
cp "$TMP/demo.imatrix.gguf" "$TMP/neutral.bin"
if $LS_BIN --batch --json "$TMP/alone.json" "$TMP/neutral.bin" > "$TMP/alone.out" 2>&1 &&
   python3 - "$TMP/alone.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"]["format"] == "imatrix-gguf", d["model"]
assert d["sensitivity_label"] == "imatrix energy"
assert d["imatrix"]["entries"] == 168 and d["imatrix"]["format"] == "gguf"
assert d["imatrix"]["dataset"] == "calib", d["imatrix"]
m = d["modules"]
assert len(m) == 168 and all(x["act_energy"] == x["sensitivity"] for x in m)
assert all(x["act_energy"] > 0 for x in m)
assert any(x["outlier"] for x in m)            # detection ran on it
PY
then ok "an imatrix alone is a profile (imatrix energy)"; else bad "imatrix alone: $(tail -3 "$TMP/alone.out")"; fi

# with the model: imatrix error, the demo's own sensitivity kept, agreement
if $LS_BIN --batch --imatrix "$TMP/demo.imatrix.gguf" --agreement-top 5 --json "$TMP/with.json" \
       > "$TMP/with.out" 2>&1 &&
   python3 - "$TMP/with.json" "$TMP/alone.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); alone = json.load(open(sys.argv[2]))
assert d["sensitivity_label"] == "sensitivity"     # measured sensitivity stays
m = d["modules"]
assert all(x["imatrix_error"] > 0 for x in m)
assert [x["act_energy"] for x in m] == [x["act_energy"] for x in alone["modules"]]
ag = d["agreement"]
assert set(ag["metrics"]) >= {"sensitivity", "kurtosis", "act_energy", "imatrix_error"}
p = [x for x in ag["pairs"] if x["a"] == "sensitivity" and x["b"] == "imatrix_error"][0]
assert p["n"] == 168 and -1 <= p["spearman"] <= 1 and p["top_n"] == 5
assert set(p["spearman_per_module"]) == {"q", "k", "v", "o", "gate", "up", "down"}
PY
then ok "--imatrix with the demo: imatrix_error and agreement in JSON"; else bad "--imatrix: $(tail -3 "$TMP/with.out")"; fi

# bad files: one line, exit 2
head -c 3000 "$TMP/demo.imatrix.gguf" > "$TMP/trunc.gguf"
$LS_BIN --batch --imatrix "$TMP/trunc.gguf" > /dev/null 2> "$TMP/bad1.err"; rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l < "$TMP/bad1.err")" -le 3 ] &&
   grep -q "trunc.gguf" "$TMP/bad1.err"; then ok "truncated imatrix: exit 2"; else
    bad "truncated imatrix: rc $rc: $(cat "$TMP/bad1.err")"; fi
$LS_BIN --batch --imatrix samples/demo/config.json > /dev/null 2> "$TMP/bad2.err"; rc=$?
if [ "$rc" -eq 2 ]; then ok "not an imatrix: exit 2"; else bad "not an imatrix: rc $rc"; fi

# the explorer: column label, detail pane, agreement screen
run() {
    name=$1 keys=$2; shift 2
    printf '%s\n' "$keys" > "$TMP/$name.keys"
    env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=150 LINES=40 \
        $LS_BIN --no-display --script "$TMP/$name.keys" --dump-screen "$TMP/$name.txt" "$@" \
        2> "$TMP/$name.err"
}
if run alone "wait" "$TMP/neutral.bin" && grep -q "imatrix energy" "$TMP/alone.txt" &&
   grep -q "imatrix: act_energy" "$TMP/alone.txt" && grep -q "entropy" "$TMP/alone.txt"; then
    ok "explorer: imatrix energy column and statistics in the detail pane"
else bad "explorer on an imatrix: $(cat "$TMP/alone.err")"; fi
if run agree "wait A" --imatrix "$TMP/demo.imatrix.gguf" &&
   grep -q "Agreement of the metric columns" "$TMP/agree.txt" &&
   grep -Eq "sensitivity +imatrix error +168" "$TMP/agree.txt"; then
    ok "explorer: A shows the agreement table"
else bad "explorer agreement: $(cat "$TMP/agree.err")"; fi
if run agree2 "A A" "$TMP/neutral.bin" && ! grep -q "Agreement of" "$TMP/agree2.txt"; then
    ok "explorer: A closes the agreement table"
else bad "explorer: A does not close"; fi

# measured dKL: batch (JSON, CSV, resumed from its state file) and the M job
export LAYERSCOPE_CACHE_DIR="$TMP/cache"
if $LS_BIN --batch --measure --measure-tokens 200 --measure-state "$TMP/m.state" \
       --export-measure-csv "$TMP/dkl.csv" --json "$TMP/m.json" > /dev/null 2> "$TMP/m1.err" &&
   grep -q "measured dKL of 168 matrices (0 resumed" "$TMP/m1.err" &&
   $LS_BIN --batch --measure --measure-tokens 200 --measure-state "$TMP/m.state" \
       --json "$TMP/m2.json" > /dev/null 2> "$TMP/m2.err" &&
   grep -q "measured dKL of 168 matrices (168 resumed" "$TMP/m2.err" &&
   python3 - "$TMP/m.json" "$TMP/m2.json" "$TMP/dkl.csv" <<'PY'
import json, sys, csv
a, b = (json.load(open(p)) for p in sys.argv[1:3])
va = [m["measured_dkl"] for m in a["modules"]]
assert va == [m["measured_dkl"] for m in b["modules"]] and all(v >= 0 for v in va)
rows = list(csv.DictReader(open(sys.argv[3])))
assert len(rows) == 168 and float(rows[5]["measured_dkl"]) == va[5]
assert any(p["b"] == "measured_dkl" for p in a["agreement"]["pairs"])
PY
then ok "--measure: JSON, CSV, resumed run"; else bad "--measure: $(cat "$TMP/m1.err" "$TMP/m2.err" | tail -3)"; fi
if run measure "M wait" --measure-tokens 200 && grep -q "measured dKL" "$TMP/measure.txt" &&
   grep -q "168 matrices" "$TMP/measure.txt"; then ok "explorer: M measures dKL (job)"; else
    bad "explorer M: $(cat "$TMP/measure.err")"; fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
