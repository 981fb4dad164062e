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
        LAYERSCOPE_CACHE_DIR="$PWD/$TMP/cache" \
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
else
    echo "SKIP P/S: $SH or samples/*.txt not found"; skipped=1
fi

# the ASCII fallback draws no UTF-8 bytes
if LC_ALL=C grep -q "$(printf '\342')" "$TMP/export.txt"; then bad "UTF-8 bytes in ASCII mode"; else
    ok "ASCII fallback under the C locale"; fi

echo "$pass passed, $fail failed, ${skipped:-0} skipped"
[ "$fail" -eq 0 ]
