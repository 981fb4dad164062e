#!/bin/sh
# Scripted explorer runs without a terminal (--no-display --script --dump-screen): export
# through the path prompt (compared with --batch --export), the histogram job, mouse
# selection, the manual toggle, a broken config file, and a --max-frames smoke run; the
# Q job (totals = --batch --quantize --json, reuse, stale marks, w writes the model),
# sessions (s saves, batch and --session and O reload), the model picker, and P / S on the
# shared stories260K model when ../shared is there.
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
# the histogram's kurtosis equals batch's column (4 significant digits), its count beyond
# 3 std equals a direct count over the safetensors data; y axis, normal curve, bin grid
bkurt=$($LS_BIN --batch --method kurt "$MODEL" | awk '$1 == 7 && $2 == "mlp.down_proj" {print $3}')
bkurt4=$(python3 -c "import sys; print(f'{float(sys.argv[1]):.4g}')" "$bkurt")
grep -q "kurtosis $bkurt4  beyond 3 std" "$TMP/hist.txt" && ok "h: kurtosis $bkurt4 = batch's $bkurt" ||
    bad "h: kurtosis not batch's $bkurt: $(grep 'kurtosis' "$TMP/hist.txt")"
beyond=$(python3 - "$MODEL/model.safetensors" <<'PY'
import json, struct, sys, math
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; hdr = json.loads(f.read(n))
e = hdr["model.layers.7.mlp.down_proj.weight"]; a, b = e["data_offsets"]
f.seek(8 + n + a); v = struct.unpack("<%df" % ((b - a) // 4), f.read(b - a))
m = sum(v) / len(v); s = math.sqrt(sum(x * x for x in v) / len(v) - m * m)
print(sum(1 for x in v if abs(x - m) > 3 * s))
PY
)
grep -q "beyond 3 std: $beyond (" "$TMP/hist.txt" && ok "h: $beyond values beyond 3 std, as counted in the file" ||
    bad "h: beyond-3-std count is not $beyond: $(grep 'beyond' "$TMP/hist.txt")"
if grep -q "^ *1000-|" "$TMP/hist.txt" && grep -q "^ *10-|" "$TMP/hist.txt" &&
   sed -n '4,25p' "$TMP/hist.txt" | grep -q '|.*\*' && grep -q "F32, equal-width bins" "$TMP/hist.txt"; then
    ok "h: y axis (1000, 10), normal curve, F32 equal-width bins"; else bad "h: axis/curve/bins"; cat "$TMP/hist.txt"; fi
./layerscope-mkmodel --layers 4 --dtype f16 "$TMP/m16" >/dev/null
run hist16 100x30 "wait h wait" --method kurt "$TMP/m16"
bk16=$($LS_BIN --batch --method kurt "$TMP/m16" | awk '$1 == 0 && $2 == "self_attn.q_proj" {print $3}')
bk16=$(python3 -c "import sys; print(f'{float(sys.argv[1]):.4g}')" "$bk16")
if grep -q "Weight histogram: layer 0 self_attn.q_proj" "$TMP/hist16.txt" &&
   grep -Eq "bin width [0-9.e-]+ = [0-9]+ F16 grid steps" "$TMP/hist16.txt" &&
   grep -q "kurtosis $bk16 " "$TMP/hist16.txt"; then
    ok "h on F16: bins are whole F16 grid steps, kurtosis $bk16 = batch"; else
    bad "h on F16"; cat "$TMP/hist16.txt"; fi

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

# ---- Q: the job's totals equal batch mode's for the same settings ----
run quant 120x40 "wait Q wait dump 7 ] dump Q wait w C-u text:$TMP/qdir Enter wait" --method kurt "$MODEL"
$LS_BIN --batch --quantize --method kurt --json "$TMP/q1.json" "$MODEL" > /dev/null
$LS_BIN --batch --quantize --method kurt --boost-stop 4 --json "$TMP/q2.json" "$MODEL" > /dev/null
# expected jobs lines: first run quantizes everything, the second only the boosted modules
python3 - "$TMP/q1.json" "$TMP/q2.json" > "$TMP/q.expect" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d, new in ((a, a["quantization"]["modules"]), (b, b["memory"]["n_boosted"])):
    q = d["quantization"]
    print("%d quantized, %d reused  nominal %.3f MiB  stored %.3f MiB  err %.6g" %
          (new, q["modules"] - new, q["nominal_mib"], q["stored_mib"], q["qerr_total"]))
m0 = a["modules"][0]
print("HQQ %s: ||W - deq(Q(W))||_F = %.6g" % (m0["config"], m0["qerr"]))
PY
sed -n '1,/^ *?:help\| quantized \|^ [a-z]/p' "$TMP/quant.txt" > /dev/null
first=$(sed -n 1p "$TMP/q.expect") second=$(sed -n 2p "$TMP/q.expect") detail=$(sed -n 3p "$TMP/q.expect")
if grep -qF -- "$first" "$TMP/quant.txt"; then ok "Q: totals = --batch --quantize --json ($first)"; else
    bad "Q totals: want '$first'"; grep -E "Jobs|quantize" "$TMP/quant.txt" | head -3; fi
grep -qF -- "$detail" "$TMP/quant.txt" && ok "Q: the detail pane shows the module's error" ||
    bad "Q: no error in the detail pane (want '$detail')"
grep -q "HQQ error (~ stale)" "$TMP/quant.txt" && ok "Q: error column shown" || bad "Q: no error column"
grep -qE '^   7\*.*~' "$TMP/quant.txt" && ok "Q: a changed config marks layer 7 down stale (~)" ||
    bad "Q: no stale mark on layer 7 down"
if grep -qF -- "$second" "$TMP/quant.txt"; then ok "Q again: only the changed modules ($second)"; else
    bad "Q reuse: want '$second'"; fi
if [ -s "$TMP/qdir/quant.json" ] && [ -s "$TMP/qdir/qmodel.safetensors" ] &&
   grep -q "saved the quantized model to" "$TMP/quant.txt"; then ok "w writes the quantized model"; else
    bad "w: no quantized model written: $(tail -1 "$TMP/quant.txt")"; fi
ls -d "$TMP"/qdir.tmp.* >/dev/null 2>&1 && bad "w left a temporary directory" || ok "w: no temporary directory left"

# ---- sessions: s saves, batch mode reloads the same allocation; --session and O resume it ----
run session 100x30 "wait 7 Down Down Down Space s C-u text:$TMP/s.json Enter e C-u text:$TMP/s-ui.json Enter" --method kurt "$MODEL"
grep -q '"format":[[:space:]]*"layerscope-session"' "$TMP/s.json" && ok "s saves the session" || bad "s: no session written"
$LS_BIN --batch --session "$TMP/s.json" --export "$TMP/s-batch.json" > /dev/null 2>&1
if [ -s "$TMP/s-batch.json" ] && python3 - "$TMP/s-ui.json" "$TMP/s-batch.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a["optimal_configs"] == b["optimal_configs"] else 1)
PY
then ok "a session saved in the explorer reloads in batch mode with the same allocation"; else
    bad "batch --session: allocation differs or missing"; fi
grep -q '"manual":' "$TMP/s.json" && grep -q '"3.mlp.down_proj"' "$TMP/s.json" &&
    ok "the session holds the manual set" || bad "manual set not in the session"
want=$(grep -oE "boosted [0-9]+" "$TMP/session.txt" | head -1)
run resume 100x30 "wait" --session "$TMP/s.json"
if grep -q "method manual" "$TMP/resume.txt" && grep -qF "$want" "$TMP/resume.txt"; then
    ok "--session resumes the manual set in the explorer ($want)"; else bad "--session in the explorer"; head -2 "$TMP/resume.txt"; fi
run resume2 100x30 "wait" --method kurt --session "$TMP/s.json"
grep -q "method kurt" "$TMP/resume2.txt" && ok "--session: a setting on the command line wins" ||
    bad "--session with --method kurt: $(sed -n 2p "$TMP/resume2.txt")"
run load 100x30 "wait O text:$TMP/s.json Enter wait" --method sensi "$MODEL"
grep -q "method manual" "$TMP/load.txt" && grep -qF "$want" "$TMP/load.txt" && ok "O loads the session" ||
    bad "O: $(tail -1 "$TMP/load.txt")"

# ---- sessions keep results: HQQ errors, selection and inputs come back with O; a changed
# model drops them and says so ----
cp -r "$MODEL" "$TMP/rmodel"
run rsave 100x30 "wait Q wait 7 / text:5 Enter dump s C-u text:$TMP/r.json Enter" --method kurt "$TMP/rmodel"
qerr=$(grep -o "||W - deq(Q(W))||_F = [0-9.e+-]*" "$TMP/rsave.txt" | head -1)
run rload 100x30 "wait O text:$TMP/r.json Enter wait" --method sensi "$MODEL"
if grep -q "^ Layer 5 mlp.down_proj" "$TMP/rload.txt" && grep -qF -- "$qerr" "$TMP/rload.txt" &&
   grep -q "from the session: HQQ errors of 168 matrices" "$TMP/rload.txt" && grep -q "HQQ error (~ stale)" "$TMP/rload.txt" &&
   grep -q "loaded: .*HQQ errors" "$TMP/rload.txt"; then
    ok "O restores the HQQ errors ($qerr at layer 5 down) and the selection"; else
    bad "O results: $(grep -E '^ Layer|deq|session' "$TMP/rload.txt" | head -4)"; fi
python3 - "$TMP/r.json" <<'PY' && ok "the session file holds the keyed results (hqq, selection, inputs)" || bad "session results block"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert r["selection"] == {"layer": 5, "module": "mlp.down_proj"}
assert len(r["hqq"]["qerr"]) == 168 and len(r["hqq"]["model_fingerprint"]) == 16
assert r["inputs"]["protocol"] == "paper" and r["inputs"]["compute"] == "f32"
PY
./layerscope-mkmodel --layers 24 --seed 5 "$TMP/rmodel" >/dev/null
run rstale 200x30 "wait O text:$TMP/r.json Enter wait" --method sensi "$MODEL"
if grep -q "results not shown: HQQ errors: the model changed" "$TMP/rstale.txt" &&
   ! grep -q "from the session: HQQ errors" "$TMP/rstale.txt" && ! grep -q "HQQ error (~ stale)" "$TMP/rstale.txt"; then
    ok "a session whose model changed: its HQQ errors are not shown, and the status line says so"; else
    bad "stale session: $(tail -1 "$TMP/rstale.txt")"; fi

# ---- 80x24, the minimum size ----
run small 80x24 "wait j k dump F2 dump F2 dump F2 dump F2 dump" --method kurt "$MODEL"
$LS_BIN --batch --method kurt --json "$TMP/small.json" "$MODEL" > /dev/null
nb=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["memory"]["n_boosted"])' "$TMP/small.json")
head -2 "$TMP/small.txt" | grep -q "boosted $nb of 168" && ok "80x24: the boosted count is on screen ($nb = batch)" ||
    bad "80x24: no boosted count: $(head -2 "$TMP/small.txt")"
head -2 "$TMP/small.txt" | grep -q "stop 3: b3g128 -> b4g128" && ok "80x24: the boost stop and target stay in the header" ||
    bad "80x24 header: $(head -2 "$TMP/small.txt")"
rows=$(head -24 "$TMP/small.txt" | grep -cE '^[> ] +[0-9]+[* ] ')
[ "$rows" -gt 8 ] && ok "80x24: layer rows use the free lines ($rows rows, 8 before)" || bad "80x24: only $rows layer rows"
missing=""
for h in "?:help" "q:quit" "Tab:module" "o:open" "Q:quant" "P:ppl" "S:sensi" "w:write" "E:csv" \
         "s:session" "O:load" "c:cancel" "J:job" "t:theme" "e:export" "h:hist" "u:undo" "r:ablate" "m:method"; do
    grep -qF -- "$h" "$TMP/small.txt" || missing="$missing $h"
done
[ -z "$missing" ] && ok "80x24: every hinted key is on some footer page (F2 turns pages)" || bad "footer misses:$missing"
grep -q "F2:more" "$TMP/small.txt" && ok "80x24: the footer says there is more" || bad "no F2:more"
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$TMP/small.txt" && ok "80x24: nothing wider than the screen" ||
    bad "80x24: a line is wider than 80"
# the explorer's kurtosis column is batch's value rounded by the same rule (4 significant digits)
if python3 - "$TMP/small.json" "$TMP/small.txt" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
k = {m["layer"]: m["kurtosis"] for m in d["modules"] if m["module"] == "self_attn.q_proj"}
def sig4(v):
    a = abs(v)
    if a < 1e-3 or a >= 1e5:
        return "%.3e" % v
    e = math.floor(math.log10(a)); dec = max(0, 3 - e)
    if float("%.*f" % (dec, a)) >= 10 ** (e + 1) and dec > 0:
        dec -= 1
    return "%.*f" % (dec, v)
rows = [l for l in open(sys.argv[2]).read().split("\n")[:24] if l[:1] in "> " and l[1:5].strip().isdigit()]
bad = [(l, sig4(k[int(l[1:4])])) for l in rows if sig4(k[int(l[1:4])]) not in l.split()]
print(bad[:2]) if bad else None
sys.exit(1 if bad or not rows else 0)
PY
then ok "80x24: kurtosis shown = batch's value, same rounding (4 significant digits)"; else bad "kurtosis column differs from batch"; fi
# kurtosis bars: ':' marks 3; with one layer that dwarfs the rest (11 q, ~1300) the clip scale
# ends its bar in '>' and gives the others longer bars than the range scale does
run kscale 80x24 "wait dump K" --method kurt "$MODEL"
bars() { sed -n "$1" "$TMP/kscale.txt" | grep -E "^[> ] +$2[* ] " | head -1 | awk '{ print $0 }' | tr -cd '|' | wc -c; }
r1=$(bars 1,24p 1) c1=$(bars 25,48p 1)
if grep -qE '^  11\* +n/a +[0-9]+ [:|#]+>' "$TMP/kscale.txt" && [ "$c1" -gt "$r1" ] &&
   sed -n 1,24p "$TMP/kscale.txt" | grep -qE '^[> ] +1 .* [0-9.]+ :'; then
    ok "K: the clip scale ends the dwarfing bar in '>' and widens the rest ($r1 -> $c1 cells); ':' marks 3"
else bad "K scales: range $r1, clip $c1 cells"; grep -E '^  11' "$TMP/kscale.txt"; fi
# after Q the error column joins: titles shorten instead of running into each other
run small_q 80x24 "wait Q wait" --method kurt "$MODEL"
sed -n 4p "$TMP/small_q.txt" | grep -qE '^  lyr sensi(tivity)? +kurt \(sub\) +HQQ err \(~stale\) +config$' &&
    ok "80x24 with the error column: titles whole and apart" || bad "80x24 titles: '$(sed -n 4p "$TMP/small_q.txt")'"
# mouse: a click on the "3 v" tab selects module v; a click on the footer's ?:help opens help
run small_click 80x24 "wait j k click:2,12 dump click:23,2" --method kurt "$MODEL"
grep -q "self_attn.v_proj" "$TMP/small_click.txt" && ok "click on a module tab selects it" || bad "tab click"
tail -24 "$TMP/small_click.txt" | grep -q "^ Keys" && ok "click on the footer's ?:help opens the help" ||
    bad "footer click: $(tail -1 "$TMP/small_click.txt")"

# ---- navigation: / jumps to a layer; u undoes and ^R redoes ----
run nav 100x30 "wait / text:17 Enter dump + + u u dump C-r dump" --method kurt "$MODEL"
grep -q "^ Layer 17 self_attn.q_proj" "$TMP/nav.txt" && ok "/ 17 jumps to layer 17" || bad "/ jump: $(grep '^ Layer' "$TMP/nav.txt" | head -1)"
t1=$(sed -n 32p "$TMP/nav.txt" | grep -o "top-m [0-9]*") t2=$(sed -n 62p "$TMP/nav.txt" | grep -o "top-m [0-9]*")
[ "$t1" = "top-m 0" ] && [ "$t2" = "top-m 1" ] && ok "u u back to top-m 0, ^R redoes to top-m 1" ||
    bad "undo/redo: after u u '$t1', after ^R '$t2'"
run nav2 100x30 "wait / text:99 Enter" --method kurt "$MODEL"
grep -q "jump: '99' is not a layer number (0 .. 23)" "$TMP/nav2.txt" && ok "/ 99 is refused with the range" ||
    bad "/ 99: $(tail -1 "$TMP/nav2.txt")"

# ---- L: the boosted list and SensiBoost against KurtBoost, as batch computes them (demo) ----
if [ -d samples/demo ]; then
    run sets 80x24 "wait L dump Down Down Enter" samples/demo
    $LS_BIN --batch --method sensi --json "$TMP/sets-s.json" samples/demo > /dev/null 2>&1
    $LS_BIN --batch --method kurt --json "$TMP/sets-k.json" samples/demo > /dev/null 2>&1
    want=$(python3 - "$TMP/sets-s.json" "$TMP/sets-k.json" <<'PY'
import json, sys
sets = [{(m["layer"], m["module"]) for m in json.load(open(p))["modules"] if m["boosted"]} for p in sys.argv[1:3]]
s, k = sets
print("SensiBoost flags %d, KurtBoost %d|both (%d)|only SensiBoost (%d)|only KurtBoost (%d)" %
      (len(s), len(k), len(s & k), len(s - k), len(k - s)))
PY
)
    missing=""
    IFS='|'; for w in $want; do grep -qF -- "$w" "$TMP/sets.txt" || missing="$missing [$w]"; done; unset IFS
    [ -z "$missing" ] && ok "L: SensiBoost vs KurtBoost sets = batch ($want)" || bad "L sets: missing$missing"
    grep -q "sensitivity: .*demo/sensitivity.csv (" "$TMP/sets.txt" && grep -q "kurtosis: computed from the weights of" "$TMP/sets.txt" &&
        ok "L: where the numbers come from (sensitivity file and config, kurtosis computed)" ||
        bad "L provenance: $(grep -E '^ .{26}(sensitivity|kurtosis):' "$TMP/sets.txt" | head -2)"
    third=$(sed -n 6p "$TMP/sets.txt" | awk '{ print $1, $2 }')
    tail -n 24 "$TMP/sets.txt" | grep -q "^ Layer ${third% *} " && ok "L: Enter goes to the third boosted matrix (layer ${third% *})" ||
        bad "L Enter: want layer '$third', $(tail -n 24 "$TMP/sets.txt" | grep '^ Layer')"
else
    echo "SKIP L: samples/demo not found"; skipped=1
fi

# ---- f: only the layers flagged in the selected module (kurt, down: as batch flags them) ----
run filter 100x30 "wait 7 f dump Down" --method kurt "$MODEL"
python3 - "$TMP/small.json" > "$TMP/filter.want" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(m["layer"]) for m in d["modules"]
               if m["module"] == "mlp.down_proj" and (m["boosted"] or m["outlier"])))
PY
shown=$(sed -n 1,30p "$TMP/filter.txt" | grep -E '^[> ] +[0-9]+[* ] ' | awk '{ l = $1 == ">" ? $2 : $1; sub(/\*/, "", l); printf "%s ", l }' | sed 's/ $//')
want=$(cat "$TMP/filter.want")
[ -n "$want" ] && [ "$shown" = "$want" ] && ok "f: only the flagged layers of down ($shown) = batch" ||
    bad "f: shown '$shown', batch flags '$want'"
second=$(echo "$want" | awk '{ print $2 }')
[ -z "$second" ] || { tail -n 30 "$TMP/filter.txt" | grep -q "^ Layer $second mlp.down_proj" &&
    ok "f: Down moves to the next flagged layer ($second)" || bad "f: Down did not reach layer $second"; }

# ---- z: the detection view of down with top-m 1: z per layer and the glyphs = batch ----
run detect 100x30 "wait 7 + z" --method kurt "$MODEL"
$LS_BIN --batch --method kurt --top-m 1 --json "$TMP/detect.json" "$MODEL" > /dev/null
if python3 - "$TMP/detect.json" "$TMP/detect.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
mods = {m["layer"]: m for m in d["modules"] if m["module"] == "mlp.down_proj"}
screen = open(sys.argv[2]).read().split("\n")[-31:]
rows = {}
for line in screen:
    f = line[1:].split()
    if len(f) >= 4 and f[0].isdigit():
        rows[int(f[0])] = (f[2], line[28:])
bad = []
for l, m in mods.items():
    if l == 0 or m["z"] is None:
        continue
    z, axis = rows[l]
    glyph = "#" if m["boosted"] else "+" if m["outlier"] else None
    if abs(float(z) - m["z"]) > 5e-4 * max(1, abs(m["z"])):
        bad.append((l, z, m["z"]))
    if glyph and glyph not in axis:
        bad.append((l, glyph, axis.strip()))
    if not glyph and ("#" in axis or "+" in axis):
        bad.append((l, "unexpected mark"))
print(bad[:3]) if bad else None
sys.exit(1 if bad or not rows or not any("trimmed mean" in s for s in screen) else 0)
PY
then ok "z: the detection view's z and outlier glyphs (# kept, + dropped by top-m) = batch"; else bad "z view differs from batch"; fi

# ---- v: the list sorted by the metric, then by |z| (kurt, down: as batch's JSON orders them);
# the selection stays on its layer ----
run sort 100x30 "wait 7 / text:12 Enter v dump v dump" --method kurt "$MODEL"
for part in 1 2; do
    sed -n "$(( (part - 1) * 30 + 1 )),$(( part * 30 ))p" "$TMP/sort.txt" > "$TMP/sort$part.txt"
    shown=$(grep -E '^[> ] +[0-9]+[* ] ' "$TMP/sort$part.txt" | awk '{ l = $1 == ">" ? $2 : $1; sub(/\*/, "", l); printf "%s ", l }' | sed 's/ $//')
    n=$(echo "$shown" | wc -w)
    want=$(python3 - "$TMP/small.json" "$part" "$n" <<'PY'
import json, sys, math
d = json.load(open(sys.argv[1])); part = int(sys.argv[2]); n = int(sys.argv[3])
rows = [m for m in d["modules"] if m["module"] == "mlp.down_proj"]
def key(m):
    v = m["kurtosis"] if part == 1 else (abs(m["z"]) if m["z"] is not None else None)
    return (0, -v, m["layer"]) if v is not None and math.isfinite(v) else (1, 0, m["layer"])
print(" ".join(str(m["layer"]) for m in sorted(rows, key=key)[:n]))
PY
)
    what=$([ $part = 1 ] && echo "kurtosis" || echo "|z|")
    [ "$n" -ge 5 ] && [ "$shown" = "$want" ] && ok "v: rows by $what ($shown) = batch's order" ||
        bad "v: by $what shown '$shown', batch '$want'"
    grep -q "^ Layer 12 mlp.down_proj" "$TMP/sort$part.txt" && ok "v: the selection stays on layer 12" ||
        bad "v: selection moved: $(grep '^ Layer' "$TMP/sort$part.txt" | head -1)"
done
grep -q "by |z|" "$TMP/sort2.txt" && ok "v: the tab strip says the order" || bad "v: order not said"

# ---- D / N: switch the sensitivity CSV's data set / config; the boosted count follows
# batch's --sensitivity-dataset / --sensitivity-config and the tab strip says which ----
SENS=${LAYERSCOPE_SHARED:-../shared}/data/paper/sensitivity-Llama-2-7b-hf.csv
if [ -f "$SENS" ]; then
    run dset 100x30 "wait dump D dump N dump" --method sensi "$SENS"
    i=0
    for sel in "pileval b4g64" "wikitext b4g64" "wikitext b4g128"; do
        i=$((i + 1))
        sed -n "$(( (i - 1) * 30 + 1 )),$(( i * 30 ))p" "$TMP/dset.txt" > "$TMP/dset$i.txt"
        ds=${sel% *} cfg=${sel#* }
        nb=$($LS_BIN --batch --method sensi --sensitivity-dataset "$ds" --sensitivity-config "$cfg" "$SENS" |
             sed -n 's/^boosted \([0-9]*\) of.*/\1/p')
        grep -q "boosted $nb of 224" "$TMP/dset$i.txt" && grep -q "  $sel  lin" "$TMP/dset$i.txt" &&
            ok "D/N: $sel shown, boosted $nb = batch" || bad "D/N: $sel: batch boosts $nb; $(grep -m1 boosted "$TMP/dset$i.txt")"
    done
    b1=$(grep -o "boosted [0-9]* of" "$TMP/dset1.txt") b2=$(grep -o "boosted [0-9]* of" "$TMP/dset2.txt")
    [ "$b1" = "boosted 15 of" ] && [ "$b2" = "boosted 16 of" ] && ok "D: pileval 15, wikitext 16 (the issue's counts)" ||
        bad "D: pileval '$b1', wikitext '$b2'"
else
    echo "SKIP D/N: $SENS not found (LAYERSCOPE_SHARED)"; skipped=1
fi

# ---- X: exports through batch's writers (same settings: + and ] as in the e test) ----
run xexp 100x30 "wait + ] X C-u text:llamacpp Space text:$TMP/ui.llamacpp Enter X C-u text:kurtosis-csv Space text:$TMP/ui-kurt.csv Enter X C-u text:metrics-csv Space text:$TMP/ui-fnorm.csv Enter X C-u text:json Space text:$TMP/ui-result.json Enter" --method kurt "$MODEL"
$LS_BIN --batch --method kurt --top-m 1 --boost-stop 4 --export-llamacpp "$TMP/b.llamacpp" \
    --export-kurtosis-csv "$TMP/b-kurt.csv" --export-metrics-csv "$TMP/b-fnorm.csv" \
    --json "$TMP/b-result.json" "$MODEL" > /dev/null
for f in llamacpp:ui.llamacpp:b.llamacpp kurtosis-csv:ui-kurt.csv:b-kurt.csv metrics-csv:ui-fnorm.csv:b-fnorm.csv; do
    k=${f%%:*} rest=${f#*:}; u=${rest%%:*} b=${rest#*:}
    # the usage comment names the file itself: compare with that path made equal
    [ -s "$TMP/$u" ] && sed "s|$TMP/$u|FILE|" "$TMP/$u" > "$TMP/$u.cmp" &&
        sed "s|$TMP/$b|FILE|" "$TMP/$b" > "$TMP/$b.cmp" &&
        cmp -s "$TMP/$u.cmp" "$TMP/$b.cmp" && ok "X $k: the same bytes as batch's export" ||
        bad "X $k differs from batch or missing"
done
if [ -s "$TMP/ui-result.json" ] && python3 - "$TMP/ui-result.json" "$TMP/b-result.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d["model"].pop("path", None)
sys.exit(0 if a == b else 1)
PY
then ok "X json: the same result document as --batch --json"; else bad "X json differs from batch or missing"; fi
grep -q "exported json to" "$TMP/xexp.txt" && ok "X: export said on the status line" || bad "X: no message"
# X json after Q: the quantization results join the document as in --batch --quantize --json
# (everything equal but the run time)
run xq 100x30 "wait + ] Q wait X C-u text:json Space text:$TMP/ui-q.json Enter" --method kurt "$MODEL"
$LS_BIN --batch --quantize --method kurt --top-m 1 --boost-stop 4 --json "$TMP/b-q.json" "$MODEL" > /dev/null
if [ -s "$TMP/ui-q.json" ] && python3 - "$TMP/ui-q.json" "$TMP/b-q.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d["model"].pop("path", None)
    d["quantization"].pop("seconds")
assert a["quantization"]["modules"] == 168 and all(m.get("qerr") is not None for m in a["modules"])
sys.exit(0 if a == b else 1)
PY
then ok "X json after Q: quantization totals and per-matrix errors = --batch --quantize --json"; else
    bad "X json after Q differs from batch or lacks the quantization"; fi

# ---- H: the legend shows every glyph the main, histogram and detection screens draw ----
run legend 120x40 "wait Q wait ] K dump H dump H / text:7 Enter 7 h wait dump h + z dump" --method kurt "$MODEL"
if python3 - "$TMP/legend.txt" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
main, legend, hist, detect = (lines[i * 40:(i + 1) * 40] for i in range(4))
# the legend's glyph column: rows "  G     text" (columns 2 .. 6)
glyphs = set("".join(l[2:7] for l in legend[4:] if l[:2] == "  " and l[2:3] != " "))
drawn = {}
rows = [l for l in main if re.match(r"^[> ] +[0-9]+[* ] ", l)]
for l in rows:  # marks and bars of the layer rows: what is not a number or a name
    for c in l:
        if not re.match(r"[0-9A-Za-z./+ -]", c):
            drawn.setdefault(c, "main")
plot = [l for l in hist[2:] if "|" in l[:8]]
for l in plot:
    for c in l[8:]:
        if c != " ":
            drawn.setdefault(c, "histogram")
for l in detect[4:]:
    if re.match(r"^[> ] +[0-9]+ ", l):
        for c in l[28:]:
            if c != " ":
                drawn.setdefault(c, "detection")
want = {">", "*", "|", "#", ":", "~", "!", "o", "+", "."}
missing = {c: w for c, w in drawn.items() if c not in glyphs}
good = rows and plot and not missing and want <= set(drawn)
if not good:
    print("drawn", sorted(drawn), "legend", sorted(glyphs), "missing", missing)
sys.exit(0 if good else 1)
PY
then ok "H: the legend shows every glyph the main, histogram and detection screens draw"; else bad "H legend"; fi
grep -q "Colours (theme default; t): outlier marks bar dim selection error" "$TMP/legend.txt" &&
    ok "H: the colours, each name in its role" || bad "H colours: $(grep Colours "$TMP/legend.txt")"

# ---- I: the job inputs; a bad path or ctx says which and why and leaves the input unchanged ----
run inputs 80x24 "wait I dump Down Enter C-u text:$TMP/none.txt Enter dump Down Space Down Enter C-u text:abc Enter dump Enter C-u text:256 Enter Down Space dump" --method kurt "$MODEL"
for i in 1 2 3 4; do sed -n "$(( (i - 1) * 24 + 1 )),$(( i * 24 ))p" "$TMP/inputs.txt" > "$TMP/inputs$i.txt"; done
if grep -q "evaluation text .*(P, M, F) .*eval.txt" "$TMP/inputs1.txt" && grep -q "calibration text .*(S) .*calib.txt" "$TMP/inputs1.txt" &&
   grep -qE "protocol +\(P, F\) +paper" "$TMP/inputs1.txt" && grep -qE "compute +\(P, S, M, F\) +f32" "$TMP/inputs1.txt"; then
    ok "I: the job inputs with the jobs that use them (defaults: the sample texts, paper, f32)"; else bad "I screen"; cat "$TMP/inputs1.txt"; fi
grep -q "calibration text [^ ]*none.txt: No such file or directory (unchanged)" "$TMP/inputs2.txt" &&
    grep -q "calibration text .*(S) .*calib.txt" "$TMP/inputs2.txt" &&
    ok "I: a missing calibration text is refused, named, and the input unchanged" || bad "I bad path: $(tail -1 "$TMP/inputs2.txt")"
grep -q 'ctx "abc": not 0 (the default) or a token count 2 .. 1048576 (unchanged)' "$TMP/inputs3.txt" &&
    grep -qE "protocol +\(P, F\) +llama.cpp" "$TMP/inputs3.txt" && ok "I: Space switches the protocol; a bad ctx is refused" ||
    bad "I ctx/protocol: $(tail -1 "$TMP/inputs3.txt")"
grep -qE "ctx +\(P, M, F\) +256" "$TMP/inputs4.txt" && grep -qE "compute +\(P, S, M, F\) +bf16" "$TMP/inputs4.txt" &&
    ok "I: ctx 256 and compute bf16 set" || bad "I ctx/compute: $(grep -E 'ctx|compute' "$TMP/inputs4.txt")"

# ---- settings restored from the config are said on screen; R resets to the paper's defaults ----
mkdir -p "$TMP/xdg-r"
printf 'wait\n' > "$TMP/r1.keys"; printf 'wait dump R\n' > "$TMP/r2.keys"
env XDG_CONFIG_HOME="$TMP/xdg-r" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=100 LINES=30 $LS_BIN --no-display \
    --script "$TMP/r1.keys" --dump-screen "$TMP/r1.txt" --method kurt --top-m 2 "$MODEL" 2>/dev/null
env XDG_CONFIG_HOME="$TMP/xdg-r" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=100 LINES=30 $LS_BIN --no-display \
    --script "$TMP/r2.keys" --dump-screen "$TMP/r2.txt" "$MODEL" 2>/dev/null
if sed -n 1,30p "$TMP/r2.txt" | grep -q "settings restored (R resets to the paper's defaults) from .*xdg-r/" &&
   sed -n 2p "$TMP/r2.txt" | grep -q "method kurt .*top-m 2" &&
   sed -n 32p "$TMP/r2.txt" | grep -q "method sensi .*top-m 0 (all) .*stop 3: b3g128 -> b4g128" &&
   grep -q "settings reset to the paper's defaults" "$TMP/r2.txt"; then
    ok "restored settings are said on screen; R resets to the paper's defaults"
else bad "restore/reset: $(sed -n 2p "$TMP/r2.txt") / $(sed -n 32p "$TMP/r2.txt")"; fi

# ---- the budget target (T < >) is kept in the config and restored (said on screen); R
# resets it with the other settings ----
mkdir -p "$TMP/xdg-t"
printf 'wait T C-u text:3.3 Enter >\n' > "$TMP/t1.keys"; printf 'wait dump R\n' > "$TMP/t2.keys"
env XDG_CONFIG_HOME="$TMP/xdg-t" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=100 LINES=30 $LS_BIN --no-display \
    --script "$TMP/t1.keys" --dump-screen "$TMP/t1.txt" --method kurt "$MODEL" 2>/dev/null
t1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["budget_target"])' "$TMP/xdg-t/layerscope/config.json" 2>&1)
[ "$t1" = "{'kind': 'bpp', 'value': 3.35}" ] && ok "T 3.3 then >: the config keeps budget_target bpp 3.35" ||
    bad "config budget_target: $t1"
env XDG_CONFIG_HOME="$TMP/xdg-t" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=100 LINES=30 $LS_BIN --no-display \
    --script "$TMP/t2.keys" --dump-screen "$TMP/t2.txt" "$MODEL" 2>/dev/null
if sed -n 1,30p "$TMP/t2.txt" | grep -q "settings restored, budget target 3.35 bpp (R resets" &&
   sed -n 2p "$TMP/t2.txt" | grep -q "method kurt-milp .*target 3.35 bpp" &&
   sed -n 32p "$TMP/t2.txt" | grep -q "method sensi .*top-m 0 (all)" && ! sed -n 31,60p "$TMP/t2.txt" | grep -q "target 3.35"; then
    ok "the restored budget target is said on screen and used (kurt-milp at 3.35 bpp); R resets it"
else bad "target restore: $(sed -n 2p "$TMP/t2.txt") / $(sed -n 30p "$TMP/t2.txt")"; fi
t2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["budget_target"])' "$TMP/xdg-t/layerscope/config.json" 2>&1)
[ "$t2" = "None" ] && ok "after R the config's budget_target is null" || bad "config after R: $t2"

# ---- the model picker: o lists what discovery finds in the current directory ----
TMP=$(pwd)/$TMP # the runs below change directory
mkdir -p "$TMP/pick/hub" && cp -r "$MODEL" "$TMP/pick/picked"
ABS_BIN=$(cd "$(dirname "$LS_BIN")" && pwd)/$(basename "$LS_BIN")
printf 'o dump Down Enter\n' > "$TMP/pick.keys"
( cd "$TMP/pick" && env HF_HOME="$TMP/pick/hf" XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= \
    LANG=C LC_ALL=C COLUMNS=100 LINES=30 "$ABS_BIN" --no-display --script "$TMP/pick.keys" \
    --dump-screen "$TMP/pick.txt" 2> "$TMP/pick.err" )
if grep -q "Found models" "$TMP/pick.txt" && grep -qE "directory +hf +picked +\./picked" "$TMP/pick.txt"; then
    ok "o: the picker lists a generated model in the current directory"; else bad "picker list"; cat "$TMP/pick.err"; fi
grep -q "^ picked (hf)" "$TMP/pick.txt" && ok "picker: Down + Enter opens it" || bad "picker did not open the model"

# a FIFO beside the models (discovery sniffs it) and typed into the open prompt: refused at
# once with its kind, the explorer stays responsive (timeout: a blocking open would hang)
mkfifo "$TMP/pick/pipe.bin" "$TMP/pick/pipe.gguf"
printf 'o C-u text:./pipe.gguf Enter wait dump q\n' > "$TMP/fifo.keys"
( cd "$TMP/pick" && timeout 60 env HF_HOME="$TMP/pick/hf" XDG_CONFIG_HOME="$TMP/xdg" \
    LAYERSCOPE_CONFIG= LANG=C LC_ALL=C COLUMNS=100 LINES=30 "$ABS_BIN" --no-display \
    --script "$TMP/fifo.keys" --dump-screen "$TMP/fifo.txt" 2> "$TMP/fifo.err" )
rc=$?
if [ "$rc" -ne 124 ] && grep -q "not a regular file (a FIFO)" "$TMP/fifo.txt"; then
    ok "o: a FIFO is refused as not a regular file, without blocking"; else
    bad "o on a FIFO (exit $rc): $(tail -2 "$TMP/fifo.txt")"; fi
rm -f "$TMP/pick/pipe.bin" "$TMP/pick/pipe.gguf"

# ---- P and S on the shared stories260K model with short texts ----
SH=${LAYERSCOPE_SHARED:-../shared}/models/stories260K-hf
if [ -d "$SH" ] && [ -f samples/eval.txt ] && [ -f samples/calib.txt ]; then
    SHA=$(cd "$SH" && pwd)
    mkdir -p "$TMP/eval/samples"
    head -c 2500 samples/eval.txt > "$TMP/eval/samples/eval.txt"
    head -n 12 samples/calib.txt > "$TMP/eval/samples/calib.txt"
    printf 'wait P wait S wait E C-u text:sens.csv Enter\n' > "$TMP/eval.keys"
    ( cd "$TMP/eval" && env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C \
        LAYERSCOPE_CACHE_DIR="$PWD/$TMP/cache" LAYERSCOPE_SAMPLES="$TMP/eval/samples" \
        COLUMNS=120 LINES=40 "$ABS_BIN" --no-display --script "$TMP/eval.keys" \
        --dump-screen "$TMP/eval.txt" --method kurt "$SHA" 2> "$TMP/eval.err" )
    # the jobs panel wraps the P line: join the screen's words before matching
    flat=$(tr -s ' \n' '  ' < "$TMP/eval.txt")
    printf '%s\n' "$flat" | grep -qE "perplexity PPL fp [0-9.]+ base [0-9.]+ KLD [0-9.e-]+\+-[0-9.e-]+ top [0-9.]+\+-[0-9.]+% cur [0-9.]+ KLD [0-9.e-]+\+-[0-9.e-]+ top [0-9.]+\+-[0-9.]+% \(\+- 95 %\) [-+][0-9.]+ % memory: (identical to base|not distinguishable|KLD)" &&
        ok "P: PPL, KLD and same top with 95 % intervals for base and current, the verdict beside the memory" ||
        bad "P: $(grep -A4 Jobs "$TMP/eval.txt" | head -5)"
    grep -qE '^>  0 .* 0\.[0-9]{4} [01]\.[0-9]{5} ' "$TMP/eval.txt" && grep -q "err in: L2 cos" "$TMP/eval.txt" &&
        ok "P: the per-layer error column (relative L2, cosine)" || bad "P: no per-layer error column"
    if [ -s "$TMP/eval/sens.csv" ] && head -1 "$TMP/eval/sens.csv" | grep -q "^dataset,part,model,nbits,group_size,layer,sensitivity" &&
       grep -qE '^>  0 +0\.[0-9]+ ' "$TMP/eval.txt"; then
        ok "S fills the sensitivity bars and E writes the toolkit CSV"; else bad "S/E"; tail -1 "$TMP/eval.txt"; fi
    # P on the job inputs (ctx 64 through I): its fp PPL is batch's with --ctx 64, and the
    # jobs line says what it ran on
    printf 'wait I Down Down Down Enter C-u text:64 Enter I P wait s C-u text:%s Enter\n' "$TMP/p.json" > "$TMP/pctx.keys"
    ( cd "$TMP/eval" && env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C \
        LAYERSCOPE_CACHE_DIR="$PWD/$TMP/cache" LAYERSCOPE_SAMPLES="$TMP/eval/samples" \
        COLUMNS=120 LINES=40 "$ABS_BIN" --no-display --script "$TMP/pctx.keys" \
        --dump-screen "$TMP/pctx.txt" --method kurt "$SHA" 2> "$TMP/pctx.err" )
    ( cd "$TMP/eval" && "$ABS_BIN" --batch --perplexity --eval samples/eval.txt --ctx 64 --method kurt \
        --json "$TMP/pctx-batch.json" "$SHA" > /dev/null 2>&1 )
    want=$(python3 -c 'import json,sys; print("PPL fp %.4f" % json.load(open(sys.argv[1]))["perplexity"]["fp"])' "$TMP/pctx-batch.json" 2>/dev/null)
    flat=$(tr -s ' \n' '  ' < "$TMP/pctx.txt")
    if [ -n "$want" ] && printf '%s\n' "$flat" | grep -qF -- "$want" &&
       printf '%s\n' "$flat" | grep -qF "[on eval.txt, paper ctx 64, f32]"; then
        ok "P on the job inputs: ctx 64 = batch --ctx 64 ($want), tagged [on eval.txt, paper ctx 64, f32]"; else
        bad "P with ctx 64: want '$want' and the tag; $(grep -A2 '^Jobs' "$TMP/pctx.txt" | head -3)"; fi
    # the session keeps the comparison: O shows it again (same numbers, same tag, the error
    # column); once the text changed it is not shown and the status line says why
    printf 'wait O text:%s Enter wait\n' "$TMP/p.json" > "$TMP/pload.keys"
    pload() {
        ( cd "$TMP/eval" && env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C \
            LAYERSCOPE_CACHE_DIR="$PWD/$TMP/cache" COLUMNS=$2 LINES=40 "$ABS_BIN" --no-display \
            --script "$TMP/pload.keys" --dump-screen "$TMP/$1.txt" --method sensi "$SHA" 2> "$TMP/$1.err" )
    }
    pload pload 120
    flat=$(tr -s ' \n' '  ' < "$TMP/pload.txt")
    if [ -n "$want" ] && printf '%s\n' "$flat" | grep -qF -- "$want" &&
       printf '%s\n' "$flat" | grep -qF "[on eval.txt, paper ctx 64, f32]" && grep -q "err in: L2 cos" "$TMP/pload.txt" &&
       grep -q "loaded: .*perplexity" "$TMP/pload.txt"; then
        ok "O restores the perplexity comparison ($want, its tag and the error column)"; else
        bad "O perplexity: $(grep -A2 '^Jobs' "$TMP/pload.txt" | head -3) / $(tail -1 "$TMP/pload.txt")"; fi
    cp "$TMP/eval/samples/eval.txt" "$TMP/eval-kept.txt"
    echo "one more line" >> "$TMP/eval/samples/eval.txt"
    pload pstale 200
    cp "$TMP/eval-kept.txt" "$TMP/eval/samples/eval.txt"
    if grep -q "session results not shown (their key changed): perplexity: the evaluation text changed" "$TMP/pstale.txt" &&
       ! tr -s ' \n' '  ' < "$TMP/pstale.txt" | grep -qF -- "$want"; then
        ok "a session whose evaluation text changed: the comparison is not shown, the status line says so"; else
        bad "stale perplexity: $(tail -1 "$TMP/pstale.txt")"; fi
    # the jobs panel at 80x24: after ten jobs the newest result is first, with batch's numbers
    # uncut; P started twice says "already running"; the progress text explains itself
    printf 'wait h h h h h h h h h h wait P P dump wait\n' > "$TMP/jobs.keys"
    ( cd "$TMP/eval" && env XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LANG=C LC_ALL=C \
        LAYERSCOPE_SAMPLES="$TMP/eval/samples" COLUMNS=80 LINES=24 "$ABS_BIN" --no-display --script "$TMP/jobs.keys" \
        --dump-screen "$TMP/jobs.txt" --method kurt "$SHA" 2> "$TMP/jobs.err" )
    ( cd "$TMP/eval" && "$ABS_BIN" --batch --perplexity --eval samples/eval.txt --method kurt \
        --json "$TMP/jobs-batch.json" "$SHA" > /dev/null 2>&1 )
    grep -q "P perplexity is already running" "$TMP/jobs.txt" && ok "P twice: already running" ||
        bad "P twice: $(grep -c perplexity "$TMP/jobs.txt") lines, no 'already running'"
    want=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["perplexity"]
print("fp %.4f base %.4f cur %.4f" % (p["fp"], p["base"], p["current"]))' "$TMP/jobs-batch.json" 2>/dev/null)
    last=$(tail -n 24 "$TMP/jobs.txt" | grep "^Jobs" | tail -1)
    if [ -n "$want" ] && printf '%s\n' "$last" | grep -qF -- "$want" &&
       printf '%s\n' "$last" | grep -qE "^Jobs +perplexity +"; then
        ok "jobs panel: the newest result first after 10 jobs, numbers = batch ($want)"; else
        bad "jobs panel first line: '$last' (want '$want')"; fi
    hist_lines=$(tail -n 24 "$TMP/jobs.txt" | grep -c "histogram")
    [ "$hist_lines" -ge 1 ] && ok "jobs panel: older jobs stay listed under the newest" ||
        bad "jobs panel: no history lines"
    awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$TMP/jobs.txt" &&
        ok "jobs panel: every line fits 80 columns" || bad "a line is wider than 80 columns"
else
    echo "SKIP P/S: $SH or samples/*.txt not found"; skipped=1
fi

# the ASCII fallback draws no UTF-8 bytes
if LC_ALL=C grep -q "$(printf '\342')" "$TMP/export.txt"; then bad "UTF-8 bytes in ASCII mode"; else
    ok "ASCII fallback under the C locale"; fi

echo "$pass passed, $fail failed, ${skipped:-0} skipped"
[ "$fail" -eq 0 ]
