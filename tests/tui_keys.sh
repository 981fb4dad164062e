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
    $BIN --no-display --script "$TMP/script" --dump-screen "$TMP/help.txt" /nonexistent \
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

# 5. a bad path shows the error in the interface, not on a garbled terminal
grep -q "Could not open the model" "$TMP/help.txt" ||
    { printf 'Esc\n' > "$TMP/script2"
      XDG_CONFIG_HOME="$TMP/xdg" LINES=24 COLUMNS=80 LANG=C $BIN --no-display \
          --script "$TMP/script2" --dump-screen "$TMP/err_screen.txt" /nonexistent 2>/dev/null; }
if grep -q "Could not open the model" "$TMP/err_screen.txt" &&
   grep -q "nonexistent" "$TMP/err_screen.txt"; then
    ok "load failure shown in the interface"
else
    bad "load failure not shown"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
