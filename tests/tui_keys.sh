#!/bin/sh
# One key table, three readers: the man page must document every key and every option,
# pass groff's lint, and the help screen must list every key.
cd "$(dirname "$0")/.." || exit 1
# The binary under test: make asan points this at its sanitizer build.
LS_BIN=${LAYERSCOPE_BIN:-./layerscope}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
BIN=$LS_BIN
MAN=man/layerscope.1
TMP=build/tmp/tui_keys
rm -rf "$TMP" && mkdir -p "$TMP"

# 1. groff lint: no warnings at all
if command -v groff >/dev/null 2>&1; then
    w=$(groff -man -ww -z "$MAN" 2>&1)
    if [ -z "$w" ]; then ok "groff -man -ww -z is clean"; else bad "groff warnings: $w"; fi
    groff -man -Tascii -P-cbou "$MAN" 2>/dev/null > "$TMP/man.txt"
else
    echo "SKIP groff not installed"
    echo "$pass passed, $fail failed, 1 skipped"
    exit 0
fi

$BIN --list-keys > "$TMP/keys.tsv" || bad "--list-keys failed"
[ -s "$TMP/keys.tsv" ] && ok "--list-keys prints the table"

# 2. every key label is a tag of the KEYS section (the .TP tags of the source:
#    .B LABEL or .BR LABEL ", " LABEL ...)
sed -n '/^\.SH KEYS/,/^\.SH SCREENS/p' "$MAN" |
    awk '/^\.TP/ { tag = 1; next }
         tag && /^\.BR? / { sub(/^\.BR? /, ""); gsub(/\\-/, "-"); gsub(/ ", " /, "\n");
                             print; tag = 0; next }
         { tag = 0 }' > "$TMP/man_tags.txt"
missing=""
while IFS='	' read -r label help; do
    grep -qxF -- "$label" "$TMP/man_tags.txt" || missing="$missing [$label]"
done < "$TMP/keys.tsv"
if [ -z "$missing" ]; then ok "man page KEYS lists every key"; else bad "man page misses keys:$missing"; fi

# 3. every option of --help is in the man page
missing=""
for opt in $($BIN --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -qF -- "$opt" "$TMP/man.txt" || missing="$missing $opt"
done
if [ -z "$missing" ]; then ok "man page lists every option"; else bad "man page misses options:$missing"; fi

# 4. the help screen lists every key (label column: ", "-separated, columns 3..22)
echo "?" > "$TMP/script"
if XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LINES=70 COLUMNS=200 LANG=C \
    $BIN --no-display --script "$TMP/script" --dump-screen "$TMP/help.txt" samples/demo \
    2>"$TMP/err.txt"; then
    ok "help screen run"
else
    bad "help screen run failed: $(cat "$TMP/err.txt")"
fi
grep -q "^ Keys" "$TMP/help.txt" && ok "help screen shown" || bad "help screen not shown"
cut -c3-22 "$TMP/help.txt" | sed 's/ *$//' | awk '{ n = split($0, a, ", ");
    for (i = 1; i <= n; i++) print a[i] }' > "$TMP/help_tags.txt"
missing=""
while IFS='	' read -r label help; do
    grep -qxF -- "$label" "$TMP/help_tags.txt" || missing="$missing [$label]"
done < "$TMP/keys.tsv"
if [ -z "$missing" ]; then ok "help screen lists every key"; else bad "help misses keys:$missing"; fi

# 5. a path that is missing or no model is refused before the screen opens: one line,
#    exit 2, no screen drawn; the o prompt says the same inside the explorer
for bad_path in /nonexistent README.md; do
    rm -f "$TMP/refused.txt"
    XDG_CONFIG_HOME="$TMP/xdg" LINES=24 COLUMNS=80 LANG=C $BIN --no-display \
        --script "$TMP/script" --dump-screen "$TMP/refused.txt" "$bad_path" 2>"$TMP/refused.err"
    rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l < "$TMP/refused.err")" -eq 1 ] && [ ! -e "$TMP/refused.txt" ] &&
       grep -q "^layerscope: $bad_path: " "$TMP/refused.err"; then
        ok "$bad_path refused before curses: $(cat "$TMP/refused.err")"
    else
        bad "$bad_path: rc $rc, stderr '$(cat "$TMP/refused.err")', screen $([ -e "$TMP/refused.txt" ] && echo drawn)"
    fi
done
grep -q "README.md: not a model: no GGUF magic, not safetensors, not a llama2.c header, not a toolkit CSV" \
    "$TMP/refused.err" && ok "README.md: the refusal names every check" || bad "README.md refusal text"
printf 'o C-u text:README.md Enter\n' > "$TMP/script3"
XDG_CONFIG_HOME="$TMP/xdg" LINES=24 COLUMNS=200 LANG=C $BIN --no-display --script "$TMP/script3" \
    --dump-screen "$TMP/o_screen.txt" samples/demo 2>/dev/null
grep -q "cannot open: README.md: not a model: no GGUF magic" "$TMP/o_screen.txt" &&
    grep -q "^ demo (hf)" "$TMP/o_screen.txt" &&
    ok "o README.md: the same message, the open model stays" || bad "o README.md: $(tail -1 "$TMP/o_screen.txt")"

# 6. the picker and --list-models offer the bundled demo from the repository root
$BIN --list-models | grep -qE "^bundled +hf +demo " && ok "--list-models lists the bundled demo" ||
    bad "--list-models: $($BIN --list-models | head -3)"
printf 'o dump\n' > "$TMP/script4"
XDG_CONFIG_HOME="$TMP/xdg" LINES=24 COLUMNS=100 LANG=C $BIN --no-display --script "$TMP/script4" \
    --dump-screen "$TMP/pick_root.txt" samples/demo 2>/dev/null
grep -qE "bundled +hf +demo" "$TMP/pick_root.txt" && ok "o from the repository root offers the demo" ||
    bad "picker at the root: $(grep -A2 Found "$TMP/pick_root.txt" | head -3)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
