#!/bin/sh
# Every file option of batch mode, and the model argument, given a missing path, a FIFO (no
# writer: a blocking open would hang), a directory, /dev/zero and a socket: each must end at
# once (timeout 60 s) with exit status 2 and one line on standard error naming the path and
# its kind. Output options given a missing directory, a directory or a FIFO: the same, and
# nothing on standard output (refused before any work). make asan runs it on the sanitizer
# build (LAYERSCOPE_BIN); any sanitizer report fails the case.
cd "$(dirname "$0")/.." || exit 1
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0 hangs=0 crashes=0 cases=0
TMP=build/tmp/robust_cli
rm -rf "$TMP" && mkdir -p "$TMP/adir"
mkfifo "$TMP/fifo"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" \
    "$TMP/sock" 2>/dev/null || true
DEMO=samples/demo

# check NAME WANT ARGS...: exit 2, one line containing WANT, no sanitizer report
check() {
    name=$1 want=$2; shift 2
    cases=$((cases + 1))
    timeout 60 env ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$LS_BIN" --batch "$@" \
        >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -eq 124 ]; then
        hangs=$((hangs + 1)); fail=$((fail + 1)); echo "FAIL $name: hang (killed after 60 s)"
    elif grep -q "Sanitizer\|runtime error" "$TMP/err" || [ "$rc" -gt 2 ]; then
        crashes=$((crashes + 1)); fail=$((fail + 1)); echo "FAIL $name: exit $rc"; head -5 "$TMP/err"
    elif [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$TMP/err"; then
        fail=$((fail + 1)); echo "FAIL $name: exit $rc, $lines line(s), want \"$want\":"; head -3 "$TMP/err"
    else
        pass=$((pass + 1))
    fi
}

kinds="missing fifo adir zero sock"
path_of() {
    case $1 in
    missing) echo "$TMP/missing" ;; fifo) echo "$TMP/fifo" ;; adir) echo "$TMP/adir" ;;
    zero) echo /dev/zero ;; sock) echo "$TMP/sock" ;;
    esac
}
want_of() {
    case $1 in
    missing) echo "not found" ;; fifo) echo "not a regular file (a FIFO)" ;;
    adir) echo "not a regular file (a directory)" ;; zero) echo "(a character device)" ;;
    sock) echo "not a regular file (a socket)" ;;
    esac
}
for k in $kinds; do
    p=$(path_of "$k") w=$(want_of "$k")
    [ "$k" = sock ] && [ ! -S "$p" ] && continue
    # the model itself (a directory is a model directory: its config.json is missing)
    if [ "$k" = adir ]; then check "model $k" "config.json: not found" "$p"
    else check "model $k" "$w" "$p"; fi
    check "--eval $k" "$w" --perplexity --eval "$p" "$DEMO"
    check "--calib $k" "$w" --sensitivity --calib "$p" "$DEMO"
    check "--manual $k" "$w" --method manual --manual "$p" "$DEMO"
    check "--sensitivity-csv $k" "$w" --sensitivity-csv "$p" "$DEMO"
    check "--kurtosis-csv $k" "$w" --kurtosis-csv "$p" "$DEMO"
    check "--tokenizer $k" "$w" --tokenizer "$p" "$DEMO"
    check "--session $k" "$w" --session "$p" "$DEMO"
    if [ "$k" != adir ]; then
        if [ "$k" = missing ]; then check "--quantized $k" "not found" --perplexity --quantized "$p" "$DEMO"
        else check "--quantized $k" "not a directory" --perplexity --quantized "$p" "$DEMO"; fi
    fi
done
# outputs
for opt in --json --export --export-kurtosis-csv --export-metrics-csv --export-llamacpp \
    --save-session --export-sensitivity-csv; do
    check "$opt in a missing directory" "not found" "$opt" "$TMP/none/x" "$DEMO"
    check "$opt a directory" "is a directory" "$opt" "$TMP/adir" "$DEMO"
    check "$opt a FIFO" "not a regular file (a FIFO)" "$opt" "$TMP/fifo" "$DEMO"
    [ -s "$TMP/out" ] && { fail=$((fail + 1)); echo "FAIL $opt: output printed before the refusal"; }
done
check "--save-quantized a FIFO" "exists and is not a directory" --save-quantized "$TMP/fifo" "$DEMO"
check "--save-quantized not ours" "not a layerscope quantized model" --save-quantized "$TMP/adir" "$DEMO"
check "--save-quantized in a missing directory" "not found" --save-quantized "$TMP/none/q" "$DEMO"
echo "robust_cli: $cases cases, $crashes crashing, $hangs hanging ($LS_BIN)"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
