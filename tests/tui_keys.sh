#!/bin/sh
# One key table, three readers: the man page's KEYS section must match the table both ways
# (mode, key, help text), the man page must document every option and pass groff's lint,
# and the help screen must list every key under its mode.
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

# 2. the man page's KEYS section and the key table agree both ways: every row (mode, label)
#    is a tag of the mode's .SS subsection and its paragraph starts with the row's help text
#    (first letter capitalised, then a full stop); every tag there is a row of the table.
cat > "$TMP/man_check.py" <<'PY'
import re, shlex, sys
man, tsv = sys.argv[1:3]
table, bad = {}, []
for ln in open(tsv, encoding="utf-8"):
    title, label, help_text = ln.rstrip("\n").split("\t")
    if (title, label) in table:
        bad.append("table: %s / %s appears twice" % (title, label))
    table[(title, label)] = help_text

def words(line):  # the text of a man source line, fonts dropped
    line = line.replace("\\-", "-").replace("\\(em", "-")
    m = re.match(r"^\.(B|I|BR|RB|BI|IB|IR|RI)\s+(.*)$", line)
    if not m:
        return "" if line.startswith(".") else line
    args = shlex.split(m.group(2))
    return (" " if m.group(1) in ("B", "I") else "").join(args)

lines = open(man, encoding="utf-8").read().split("\n")
lines = lines[lines.index(".SH KEYS") + 1:]
lines = lines[:next(i for i, l in enumerate(lines) if l.startswith(".SH "))]
entries, title, i = {}, None, 0
while i < len(lines):
    l = lines[i]
    if l.startswith(".SS "):
        title = l[4:].strip().strip('"')
    if l == ".TP" and i + 1 < len(lines):
        tags = [t for t in shlex.split(lines[i + 1].replace("\\-", "-").split(None, 1)[1])
                if t != ", "]
        para, i = [], i + 2
        while i < len(lines) and not re.match(r"^\.(TP|SS|SH)\b", lines[i]):
            para.append(words(lines[i]))
            i += 1
        text = re.sub(r"\s+", " ", " ".join(para)).strip()
        for t in tags:
            if (title, t) in entries:
                bad.append("man: %s / %s appears twice" % (title, t))
            entries[(title, t)] = text
        continue
    i += 1
for key, help_text in table.items():
    if key not in entries:
        bad.append("man page misses %s / %s" % key)
        continue
    want = help_text[0].upper() + help_text[1:] + "."
    if not entries[key].startswith(want):
        bad.append("man text of %s / %s is %r, table says %r" % (key + (entries[key][:80], want)))
for key in entries:
    if key not in table:
        bad.append("man page has %s / %s, the key table does not" % key)
print("\n".join(bad) if bad else "%d keys in %d modes agree" % (len(table), len({t for t, _ in table})))
sys.exit(1 if bad else 0)
PY
if python3 "$TMP/man_check.py" "$MAN" "$TMP/keys.tsv" > "$TMP/man_check.txt" 2>&1; then ok "man page KEYS matches the key table both ways ($(cat "$TMP/man_check.txt"))"
else bad "man page KEYS and the key table differ:"; sed 's/^/    /' "$TMP/man_check.txt"; fi

# 2b. the check itself fails on a drifted man page: a changed help text and an extra key
sed -e 's/^Select the previous layer\.$/Select a layer./' \
    -e 's/^\.B \^L$/.B ^K/' "$MAN" > "$TMP/drift.1"
if ! python3 "$TMP/man_check.py" "$TMP/drift.1" "$TMP/keys.tsv" > "$TMP/drift.txt" 2>&1 &&
   grep -q "man text of .*Main screen.*Up" "$TMP/drift.txt" &&
   grep -q "man page has Main screen / ^K" "$TMP/drift.txt" &&
   grep -q "man page misses Main screen / ^L" "$TMP/drift.txt"; then
    ok "the man check catches a changed text, an extra key and a missing key"
else
    bad "the man check missed a drift: $(cat "$TMP/drift.txt")"
fi
# 3. every option of --help is in the man page
missing=""
for opt in $($BIN --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -qF -- "$opt" "$TMP/man.txt" || missing="$missing $opt"
done
if [ -z "$missing" ]; then ok "man page lists every option"; else bad "man page misses options:$missing"; fi

# 4. the help screen lists every key under its mode's title (label column: ", "-separated,
#    columns 3..22; a title line starts with one space)
echo "?" > "$TMP/script"
if XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LINES=150 COLUMNS=200 LANG=C \
    $BIN --no-display --script "$TMP/script" --dump-screen "$TMP/help.txt" samples/demo \
    2>"$TMP/err.txt"; then
    ok "help screen run"
else
    bad "help screen run failed: $(cat "$TMP/err.txt")"
fi
grep -q "^ Keys" "$TMP/help.txt" && ok "help screen shown" || bad "help screen not shown"
awk '/^ [A-Z]/ { title = substr($0, 2); next }
     /^  [^ ]/ { s = substr($0, 3, 20); sub(/ *$/, "", s); n = split(s, a, ", ");
                 for (i = 1; i <= n; i++) print title "\t" a[i] }' "$TMP/help.txt" \
    > "$TMP/help_tags.txt"
missing=""
while IFS='	' read -r title label help; do
    grep -qxF -- "$title	$label" "$TMP/help_tags.txt" || missing="$missing [$title / $label]"
done < "$TMP/keys.tsv"
if [ -z "$missing" ]; then ok "help screen lists every key under its mode"; else bad "help misses keys:$missing"; fi

# 4b. help-mode keys come from the table too: PgDn scrolls past the first title, k goes
#     back a line, and any other key (x) closes the help
printf '? dump PgDn dump x\n' > "$TMP/scroll"
XDG_CONFIG_HOME="$TMP/xdg" LAYERSCOPE_CONFIG= LINES=24 COLUMNS=100 LANG=C \
    $BIN --no-display --script "$TMP/scroll" --dump-screen "$TMP/scroll.txt" samples/demo 2>/dev/null
# three screens appended: help at the top, help a page down, the main screen again
if [ "$(grep -c '^ Keys' "$TMP/scroll.txt")" -eq 2 ] && [ "$(grep -c '^ Main screen' "$TMP/scroll.txt")" -eq 1 ] &&
   tail -24 "$TMP/scroll.txt" | grep -q "^ demo (hf)"; then
    ok "help: PgDn scrolls, another key closes"
else
    bad "help scrolling"
fi

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
grep -q "README.md: not a model: no GGUF magic, not safetensors, not a llama2.c header, not a toolkit CSV, not an imatrix" \
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
