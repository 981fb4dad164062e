#!/bin/sh
# The layering of docs/architecture.md, checked on the sources (the build enforces part of it
# through the include path; this also catches what a path cannot: exit() calls, relative
# includes, and which core/ folder may include which):
#  - core/ includes no curses header and calls no exit()/abort()/assert() (core/ reports
#    errors through ls_error and never ends the process);
#  - widgets/ includes only its own headers and system headers, nothing of core/ or tui/;
#  - core/F includes only core/F itself, the folders of the "May include:" line of
#    core/F/README.md and the single headers of its "May also include:" line (the matrix
#    lives there and nowhere else, so the docs and this check cannot diverge);
#  - includes in core/ are written relative to core/ ("quant/hqq.h"), never with "..".
# Then it proves it can fail: each kind of violation is injected into a copy of the tree and
# must be reported.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
TMP=build/tmp/check_layering
rm -rf "$TMP" && mkdir -p "$TMP"

# check_tree ROOT: one line per violation, "KIND FILE:LINE: what"; silent when clean. One awk
# over the folder READMEs (the matrix) and then every source: comments, string and character
# literals are blanked before looking for calls, so "never calls exit()" in a comment or a
# message is not a call.
check_tree() {
    (cd "$1" && awk -v folders="$(cd core && ls -d */ | tr -d / | tr '\n' ' ')" \
        -v core_files="$(ls core/*/*.h | tr '\n' ' ')" \
        -v widget_files="$(cd widgets && ls | tr '\n' ' ')" \
        -v tui_headers="$(cd tui && ls *.h | tr '\n' ' ')" '
    function has(list, word) { return index(" " list " ", " " word " ") > 0 }
    function out(kind, what) { print kind " " FILENAME ":" FNR ": " what }
    BEGIN {
        nf = split(folders, fl, " ")
        for (i = 1; i <= nf; i++) {
            f = fl[i]; readme = "core/" f "/README.md"
            if ((getline line < readme) < 0) {
                print "matrix " readme ": missing (it holds the folder'\''s May include: line)"; continue
            }
            do {
                if (line ~ /^May include:/ && !(f in allowed)) {
                    sub(/^May include:[ \t]*/, "", line); allowed[f] = line
                    n = split(line, a, " ")
                    for (j = 1; j <= n; j++) if (!has(folders, a[j]))
                        print "matrix " readme ": May include names no folder: " a[j]
                } else if (line ~ /^May also include:/ && !(f in also)) {
                    sub(/^May also include:[ \t]*/, "", line); also[f] = line
                    n = split(line, a, " ")
                    for (j = 1; j <= n; j++) if (!has(core_files, "core/" a[j]))
                        print "matrix " readme ": May also include names no header: " a[j]
                }
            } while ((getline line < readme) > 0)
            close(readme)
            if (!(f in allowed)) print "matrix " readme ": no May include: line"
        }
    }
    FNR == 1 {
        inblock = 0
        n = split(FILENAME, parts, "/")
        top = parts[1]; folder = (top == "core") ? parts[2] : ""
    }
    {
        raw = $0
        # blank comments and literals (block comments may span lines)
        code = ""; n = length(raw); i = 1
        while (i <= n) {
            c = substr(raw, i, 1); d = substr(raw, i, 2)
            if (inblock) { if (d == "*/") { inblock = 0; i += 2 } else i++; continue }
            if (d == "/*") { inblock = 1; i += 2; continue }
            if (d == "//") break
            if (c == "\"" || c == "\047") {
                q = c; i++
                while (i <= n && substr(raw, i, 1) != q) { if (substr(raw, i, 1) == "\\") i++; i++ }
                i++; code = code q q; continue
            }
            code = code c; i++
        }
        isinc = (raw ~ /^[ \t]*#[ \t]*include[ \t]*[<"]/)
        if (isinc) {
            inc = raw; sub(/^[ \t]*#[ \t]*include[ \t]*/, "", inc)
            kind = substr(inc, 1, 1); inc = substr(inc, 2); sub(/[">].*/, "", inc)
            base = inc; sub(/.*\//, "", base)
            slash = index(inc, "/"); target = slash ? substr(inc, 1, slash - 1) : ""
        }
        if (top == "core") {
            if (isinc && (base ~ /^n?curses\.h$/ || inc ~ /^ncursesw?\// ||
                          (kind == "<" && base ~ /^(term|panel|menu|form)\.h$/)))
                out("curses", "includes a curses header <" inc ">")
            if (code ~ /(^|[^A-Za-z0-9_])(exit|_exit|_Exit|quick_exit|abort|assert)[ \t]*\(/)
                out("exit", "calls exit/abort/assert (core/ returns an ls_error instead)")
            if (isinc && kind == "\"") {
                if (inc ~ /\.\./) out("include", "\"" inc "\" is relative; write it from core/")
                else if (!slash) out("include", "\"" inc "\" has no folder; write it from core/ (\"" folder "/" inc "\")")
                else if (target != folder && !has(allowed[folder], target) && !has(also[folder], inc))
                    out("include", "core/" folder " may not include \"" inc "\" (core/" folder "/README.md: May include: " allowed[folder] ")")
            }
        } else if (top == "widgets" && isinc) {
            if (kind == "\"") {
                if (inc != base || !has(widget_files, inc))
                    out("widgets", "\"" inc "\" is not a widgets/ header (widgets/ knows nothing of core/ or tui/)")
            } else if (slash && has(folders, target)) out("widgets", "<" inc "> is a core/ header")
            else if (has(tui_headers, base)) out("widgets", "<" inc "> is a tui/ header")
        }
    }' core/*/*.[ch] widgets/*.[ch])
}

# ---- the real tree
n_core=$(ls core/*/*.[ch] | wc -l)
n_widgets=$(ls widgets/*.[ch] | wc -l)
if [ "$n_core" -gt 50 ] && [ "$n_widgets" -gt 5 ]; then
    ok "sources found: $n_core in core/, $n_widgets in widgets/"
else
    bad "too few sources to check: $n_core in core/, $n_widgets in widgets/"
fi
check_tree . > "$TMP/real.txt"
for kind in matrix curses exit include widgets; do
    found=$(grep "^$kind " "$TMP/real.txt")
    if [ -z "$found" ]; then ok "no $kind violation"; else bad "$kind violations:
$found"; fi
done
n_rules=$(grep -l '^May include:' core/*/README.md | wc -l)
n_folders=$(ls -d core/*/ | wc -l)
if [ "$n_rules" -eq "$n_folders" ]; then ok "every core/ folder ($n_folders) has a May include: line"
else bad "$n_rules of $n_folders core/ folders have a May include: line"; fi

# ---- the check can fail: one injected violation per copy
# inject NAME KIND FILE TEXT: appends TEXT to FILE in a fresh copy and expects a KIND line
# naming FILE.
inject() {
    name=$1 kind=$2 file=$3 text=$4
    copy=$TMP/$name
    mkdir -p "$copy" && cp -R core widgets tui "$copy/"
    printf '%s\n' "$text" >> "$copy/$file"
    check_tree "$copy" > "$TMP/$name.txt"
    if grep -q "^$kind $file:" "$TMP/$name.txt"; then
        ok "injected $name is reported"
    else
        bad "injected $name not reported: $(cat "$TMP/$name.txt")"
    fi
}
inject curses curses core/base/csv.c '#include <ncursesw/curses.h>'
inject curses_quoted curses core/quant/hqq.c '#include "curses.h"'
inject exit exit core/method/detect.c 'static void die(void) { exit(2); }'
inject abort exit core/io/session.c 'static void die(void) { abort (); }'
inject up_include include core/base/error.c '#include "method/detect.h"'
inject relative_include include core/quant/hqq.c '#include "../../tui/app.h"'
inject bare_include include core/quant/hqq.c '#include "hqq.h"'
inject back_edge include core/formats/model.c '#include "method/detect.h"'
inject widgets_core widgets widgets/bar.c '#include "quant/hqq.h"'
inject widgets_tui widgets widgets/draw.c '#include <app.h>'
# a comment or a string naming exit() is not a call
mkdir -p "$TMP/comment" && cp -R core widgets tui "$TMP/comment/"
printf '%s\n' '/* never calls exit() */' 'static const char *msg = "abort(now)";' >> "$TMP/comment/core/base/csv.c"
if check_tree "$TMP/comment" | grep -q '^exit '; then bad "exit() in a comment or string counted as a call"
else ok "exit() in a comment or string is not a call"; fi
# a folder without its rule line is reported
mkdir -p "$TMP/norule" && cp -R core widgets tui "$TMP/norule/"
sed -i '/^May include:/d' "$TMP/norule/core/nn/README.md"
if check_tree "$TMP/norule" | grep -q '^matrix core/nn/README.md'; then ok "missing May include: line is reported"
else bad "missing May include: line not reported"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
