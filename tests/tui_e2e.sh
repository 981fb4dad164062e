#!/bin/sh
# End-to-end tests of the explorer under tmux: start it on a generated model (and on
# ../shared/models/stories260K-hf when present), send keys, capture the pane, and compare
# the marked layers and memory figures with what --batch --json reports for the same
# settings. Polls for marker strings instead of sleeping.
cd "$(dirname "$0")/.." || exit 1
# The binary under test: make asan points this at its sanitizer build.
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit $?; }

if ! command -v tmux >/dev/null 2>&1; then
    sh tools/install-deps.sh tmux >/dev/null 2>&1 || true
fi
if ! command -v tmux >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP tmux or python3 missing"; skip=1; finish
fi

ROOT=$(pwd)
TMP=$ROOT/build/tmp/tui_e2e
rm -rf "$TMP" && mkdir -p "$TMP"
SOCK="ls_e2e_$$"
T="tmux -L $SOCK -f /dev/null"
trap '$T kill-server >/dev/null 2>&1' EXIT INT TERM
# a session that outlives the others, so the server does not exit between them
$T new-session -d -s keepalive "sleep 600" || { bad "tmux cannot start"; finish; }
MODEL=$TMP/model
./layerscope-mkmodel --layers 24 --outlier 7.down:cols:30 --outlier 11.q:rows:20 \
    --outlier 18.gate:cols:10 "$MODEL" >/dev/null || { bad "mkmodel"; finish; }

cap() { $T capture-pane -p -t "$1"; }

# wait_for SESSION STRING [SECONDS]: polls the pane until it shows STRING
wait_for() {
    i=0 n=$(( ${3:-10} * 20 ))
    while [ $i -lt $n ]; do
        cap "$1" 2>/dev/null | tr '\n' ' ' | tr -s ' ' | grep -qF -- "$2" && return 0
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

# start SESSION COLS ROWS LANG ARGS...: the explorer in a fresh session; on exit it prints
# its status and the terminal modes, then waits so the pane can be read.
start() {
    s=$1 c=$2 r=$3 lang=$4; shift 4
    $T new-session -d -s "$s" -x "$c" -y "$r" \
        "cd '$ROOT' && env XDG_CONFIG_HOME='$TMP/xdg-$s' LAYERSCOPE_CONFIG= LANG=$lang \
         LC_ALL=$lang TERM=xterm-256color $LS_BIN $* ; echo EXITED rc=\$?; \
         stty -a > '$TMP/stty-$s.txt'; sleep 60"
}

# batch ARGS...: the batch result JSON for the same settings -> $TMP/batch.json
batch() { $LS_BIN --batch --json "$TMP/batch.json" "$@" "$MODEL" >/dev/null 2>&1; }

# Expected: boosted "layer module" pairs and the memory strings the explorer prints.
expect_from_batch() {
    python3 - "$TMP/batch.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
short = {"self_attn.q_proj": 0, "self_attn.k_proj": 1, "self_attn.v_proj": 2,
         "self_attn.o_proj": 3, "mlp.gate_proj": 4, "mlp.up_proj": 5, "mlp.down_proj": 6}
for m in d["modules"]:
    if m["boosted"]:
        print("B %d %d" % (m["layer"], short[m["module"]]))
mem = d["memory"]
print("M current %.4f bpp %.3f MiB" % (mem["bpp"], mem["mib"]))
print("M delta %+.3f MiB  extra %+.4f %%" % (mem["delta_mib"], mem["extra_pct"]))
print("N boosted %d" % mem["n_boosted"])
PY
}

# The boosted set on screen, read from the heatmap (ASCII locale: one byte per column).
# Cell m of a row starts at column 6 + m*cell; its last column but one holds the marker.
marked_on_screen() {
    cap "$1" | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
cols = int(sys.argv[1])
cell = min((cols - 6) // 7, 12)
for ln in lines:
    if len(ln) < 5 or not ln[1:4].strip().isdigit() or ln[0] not in " >":
        continue
    layer = int(ln[1:4])
    for m in range(7):
        x = 6 + m * cell + cell - 2
        if x < len(ln) and ln[x] == "*":
            print("B %d %d" % (layer, m))
' "$2"
}

# check STEP SESSION COLS BATCH-ARGS...: the screen matches the batch result
check_step() {
    step=$1 s=$2 cols=$3; shift 3
    batch "$@" || { bad "$step: batch failed"; return; }
    expect_from_batch > "$TMP/expect.txt"
    grep '^B' "$TMP/expect.txt" > "$TMP/expect_set.txt"
    marked_on_screen "$s" "$cols" | sort -u > "$TMP/screen_set.txt"
    sort -u "$TMP/expect_set.txt" -o "$TMP/expect_set.txt"
    if cmp -s "$TMP/expect_set.txt" "$TMP/screen_set.txt"; then
        ok "$step: marked set = batch ($(wc -l < "$TMP/expect_set.txt") matrices)"
    else
        bad "$step: marked set differs from batch"
        diff "$TMP/expect_set.txt" "$TMP/screen_set.txt" | head -10
    fi
    screen=$(cap "$s")
    allmem=1
    while IFS= read -r line; do
        case "$line" in
        M*|N*) want=${line#? }
               printf '%s\n' "$screen" | grep -qF -- "$want" || { allmem=0; echo "  missing: $want"; } ;;
        esac
    done < "$TMP/expect.txt"
    if [ $allmem -eq 1 ]; then ok "$step: memory figures = batch"; else bad "$step: memory figures"; fi
}

# ---- session 1: generated model, ASCII locale, 120x60 (every layer visible) ----
S=gen
start $S 120 60 C --method sensi "$MODEL"
if wait_for $S "matrices, " 15; then ok "explorer starts, kurtosis job finishes"; else
    bad "explorer did not start"; cap $S; finish; fi
$T send-keys -t $S a
wait_for $S "heatmap:" || bad "heatmap did not open"
check_step "start (sensi, no sensitivity)" $S 120 --method sensi
grep -q "nothing flagged" "$TMP/batch.json" && ok "batch note: nothing flagged without sensitivity"

$T send-keys -t $S m
wait_for $S "method kurt" && check_step "m -> kurt" $S 120 --method kurt
$T send-keys -t $S +
wait_for $S "top-m 1 " && check_step "+ -> top-m 1" $S 120 --method kurt --top-m 1
$T send-keys -t $S ]
wait_for $S "stop 4:" && check_step "] -> stop 4" $S 120 --method kurt --top-m 1 --boost-stop 4
$T send-keys -t $S d
wait_for $S "mode subtract" && check_step "d -> subtract" $S 120 --method kurt --top-m 1 --boost-stop 4 --mode subtract
$T send-keys -t $S d
wait_for $S "mode divide" && check_step "d -> divide" $S 120 --method kurt --top-m 1 --boost-stop 4 --mode divide
$T send-keys -t $S b
wait_for $S "base b2g32" && check_step "b -> base b2g32" $S 120 --method kurt --top-m 1 --boost-stop 4 --mode divide --base b2g32
$T send-keys -t $S - m
wait_for $S "method both" && check_step "- and m -> both, top-m 0" $S 120 --method both --boost-stop 4 --mode divide --base b2g32
# undo twice returns to kurt top-m 1
$T send-keys -t $S u u
wait_for $S "top-m 1 " && wait_for $S "method kurt" &&
    check_step "u u -> back to kurt top-m 1" $S 120 --method kurt --top-m 1 --boost-stop 4 --mode divide --base b2g32

# bar view: outlier rows carry the marker, '#' fill, and the outlier colour
# back to kurt, top-m 0, stop 3, paired, b3g128: five more undos (b d d ] +)
$T send-keys -t $S a 7 u u u u u
wait_for $S "top-m 0 (all) stop 3: b3g128 -> b4g128" 5 || { bad "undo to the start"; cap $S | head -3; }
row7=$(cap $S | grep -E '^[ >]  7\*' | head -1)
case "$row7" in
*'#'*b3g128-\>b4g128*) ok "layer 7 down: marked, '#' outlier bar, b3g128->b4g128" ;;
*) bad "layer 7 down row: '$row7'" ;;
esac
# the escaped line whose plain text is layer 7's row must switch to red (SGR 31)
if $T capture-pane -p -e -t $S | python3 -c '
import re, sys
for ln in sys.stdin:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", ln)
    if re.match(r"^[ >]  7\*", plain):
        sys.exit(0 if re.search(r"\x1b\[([0-9;]*;)?31[;m]", ln) else 1)
sys.exit(1)'; then
    ok "outlier bar drawn in red (colour escapes)"; else bad "no red outlier colour"; fi
row6=$(cap $S | grep -E '^[ >]  6 ' | head -1)
case "$row6" in *'*'*|*'#'*) bad "layer 6 wrongly marked: $row6" ;; *) ok "layer 6 not marked" ;; esac

# detail pane follows the selection; layer 0 explains itself
$T send-keys -t $S g
wait_for $S "can never be flagged" && ok "detail: layer 0 can never be flagged" || bad "layer 0 detail"
$T send-keys -t $S 7 G
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do $T send-keys -t $S Up; done
wait_for $S "Layer 7 mlp.down_proj: boosted" && ok "detail: layer 7 boosted" || bad "layer 7 detail"
cap $S | grep -qE "z = \|d - mean\| / std = [0-9.e+]+ > 3: outlier, rank 1" &&
    ok "detail: z against threshold 3 and rank" || bad "detail z/rank line"

# help screen
$T send-keys -t $S '?'
wait_for $S "Keys (Up/Down" && ok "? opens the help" || bad "help did not open"
h=$(cap $S)
all=1
for k in Tab Space Esc PgUp + = '[' ']' 'b' 'B' '?, F1' q; do
    printf '%s\n' "$h" | grep -qF -- "$k" || { all=0; echo "  help misses $k"; }
done
[ $all -eq 1 ] && ok "help lists the keys" || bad "help incomplete"
$T send-keys -t $S Escape
wait_for $S "Memory" && ok "Esc closes the help" || bad "help did not close"

# resize: 80x24, 200x60, too small, back
$T resize-window -t $S -x 80 -y 24 2>/dev/null
wait_for $S "Memory base" 5
sc=$(cap $S)
nl=$(printf '%s\n' "$sc" | wc -l)
long=$(printf '%s\n' "$sc" | awk 'length > 80' | wc -l)
if printf '%s\n' "$sc" | head -1 | grep -q "model (hf)" &&
   printf '%s\n' "$sc" | tail -1 | grep -q "?:help" && [ "$long" -eq 0 ] &&
   printf '%s\n' "$sc" | grep -q "Jobs" && [ "$nl" -le 24 ]; then
    ok "80x24: header, list, panels and status line in place"
else
    bad "80x24 layout"; printf '%s\n' "$sc"
fi
$T resize-window -t $S -x 200 -y 60 2>/dev/null
wait_for $S "Memory (nominal" 5 && cap $S | tail -1 | grep -q "?:help" &&
    ok "200x60: wide layout with the side column" || { bad "200x60 layout"; cap $S | head -5; }
$T resize-window -t $S -x 60 -y 20 2>/dev/null
wait_for $S "Terminal too small" 5 && ok "60x20: too-small notice" || bad "no too-small notice"
$T resize-window -t $S -x 100 -y 30 2>/dev/null
wait_for $S "Memory base" 5 && ok "back to 100x30" || bad "no recovery after resize"

# Q under a real terminal: the job runs in the background and its totals reach the panel
$T send-keys -t $S Q
if wait_for $S "0 reused" 20; then
    ok "Q: quantization job finishes, totals in the jobs panel"; else bad "Q job"; cap $S | tail -5; fi
wait_for $S "HQQ error" 2 && ok "Q: HQQ error column" || bad "Q: no error column"

# key answered quickly: the message shows on the next frame
$T send-keys -t $S l
wait_for $S "bar scale: log" 2 && ok "l toggles log scale" || bad "l"

# q quits and restores the terminal
$T send-keys -t $S q
if wait_for $S "EXITED rc=0" 5; then ok "q quits with status 0"; else bad "q did not quit"; fi
sleep 0.2
if grep -q " icanon" "$TMP/stty-$S.txt" && grep -q " echo " "$TMP/stty-$S.txt"; then
    ok "terminal restored (icanon, echo)"; else bad "terminal modes not restored"; fi
cap $S | grep -q "Memory" && bad "screen not cleared after quit" || ok "alternate screen left"
[ -s "$TMP/xdg-$S/layerscope/config.json" ] && grep -q '"log_scale":	true' "$TMP/xdg-$S/layerscope/config.json" &&
    ok "settings saved to XDG_CONFIG_HOME" || bad "config not saved"
$T kill-session -t $S

# ---- session 2: SIGTERM restores the terminal too ----
S=sig
start $S 100 30 C --method kurt "$MODEL"
wait_for $S "matrices, " 15
pid=$($T list-panes -t $S -F '#{pane_pid}')
lp=$(pgrep -P "$pid" -x layerscope | head -1)
[ -n "$lp" ] && kill -TERM "$lp"
if wait_for $S "EXITED rc=0" 5 && grep -q " icanon" "$TMP/stty-$S.txt"; then
    ok "SIGTERM: clean exit, terminal restored"; else bad "SIGTERM handling"; fi
$T kill-session -t $S

# ---- session 3: the shared stories260K model (5 layers: nothing can be flagged) ----
SH=${LAYERSCOPE_SHARED:-../shared}/models/stories260K-hf
if [ -d "$SH" ]; then
    S=stories
    MODEL_SAVED=$MODEL; MODEL=$SH
    start $S 120 60 C.UTF-8 --method kurt "$SH"
    if wait_for $S "matrices, " 20; then ok "stories260K opens"; else bad "stories260K"; cap $S; fi
    $T send-keys -t $S j
    wait_for $S "threshold 3 unreachable: max z = 1.50 with 5 layers" &&
        ok "stories260K: Samuelson note in the detail pane" || bad "no Samuelson note"
    $T send-keys -t $S a
    wait_for $S "heatmap:"
    check_step "stories260K kurt" $S 120 --method kurt
    $T send-keys -t $S b
    wait_for $S "base b2g32" && check_step "stories260K b" $S 120 --method kurt --base b2g32
    $T send-keys -t $S q
    wait_for $S "EXITED rc=0" 5 && ok "stories260K: q quits" || bad "stories260K quit"
    $T kill-session -t $S
    MODEL=$MODEL_SAVED
else
    echo "SKIP stories260K: $SH not found"; skip=$((skip + 1))
fi

finish
