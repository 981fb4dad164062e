#!/bin/sh
# The docs the code cites exist: every "docs/method.md §N.M" (hqq.md, formats.md) in the
# sources, tests, tools, samples, README and Makefile names a numbered section heading of that
# file, and every docs/NAME.md named anywhere exists. When the shared specs are present, the
# numbered sections of docs/method.md, hqq.md and formats.md are the specs' own (same numbers),
# so a reference written against either resolves in both. The check proves it can fail on an
# injected broken citation.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
SHARED=${LAYERSCOPE_SHARED:-../shared}
TMP=build/tmp/check_docs
rm -rf "$TMP" && mkdir -p "$TMP"

# numbered headings of a markdown file: "## 4. Title" -> 4, "### 4.3 Title" -> 4.3
sections() { sed -nE 's/^#{2,4} ([0-9]+(\.[0-9]+)*)\.? .*/\1/p' "$1"; }

# citations FILE...: lines "doc section file:line" for every cited section
citations() {
    grep -nHoE 'docs/(method|hqq|formats)\.md([ ,]*(§|-|–|and |sections? )*[0-9]+(\.[0-9]+)*)+' "$@" 2>/dev/null |
        awk -F: '{ where = $1 ":" $2; text = $0; sub(/^[^:]*:[^:]*:/, "", text)
                   doc = text; sub(/ .*/, "", doc); rest = substr(text, length(doc) + 1)
                   while (match(rest, /[0-9]+(\.[0-9]+)*/)) {
                       print doc, substr(rest, RSTART, RLENGTH), where
                       rest = substr(rest, RSTART + RLENGTH)
                   } }'
}

# unresolved CITATION-LINES: the citations whose section is not a heading of the doc
unresolved() {
    while read -r doc sec where; do
        [ -f "$doc" ] || { echo "$where: $doc does not exist"; continue; }
        sections "$doc" | grep -qxF "$sec" || echo "$where: $doc has no section $sec"
    done
}

files=$(find core tui widgets tests tools samples -type f \( -name '*.[ch]' -o -name '*.py' \
        -o -name '*.sh' -o -name '*.md' \) ! -name check_docs.sh | sort)
citations $files README.md Makefile > "$TMP/cites.txt"
n=$(wc -l < "$TMP/cites.txt")
if [ "$n" -gt 50 ]; then ok "$n section citations found"; else bad "only $n section citations found"; fi
missing=$(unresolved < "$TMP/cites.txt")
if [ -z "$missing" ]; then ok "every cited section exists"; else bad "unresolved citations:
$missing"; fi

# every docs/NAME.md named anywhere exists
names=$(grep -hoE 'docs/[a-z_-]+\.md' $files README.md Makefile man/layerscope.1 | sort -u)
gone=""
for d in $names; do [ -f "$d" ] || gone="$gone $d"; done
if [ -z "$gone" ]; then ok "every named docs/ file exists ($(echo $names | wc -w))"; else bad "missing docs:$gone"; fi

# the specs' numbered sections are all there (ours may add sub-steps, e.g. hqq.md §1.1-§1.9)
if [ -d "$SHARED/spec" ]; then
    for d in method hqq formats; do
        sections "docs/$d.md" > "$TMP/$d.ours"
        sections "$SHARED/spec/$d.md" > "$TMP/$d.spec"
        lost=$(grep -vxFf "$TMP/$d.ours" "$TMP/$d.spec" | tr '\n' ' ')
        if [ -z "$lost" ]; then
            ok "docs/$d.md has all $(wc -l < "$TMP/$d.spec") numbered sections of the spec"
        else
            bad "docs/$d.md lacks the spec's sections: $lost"
        fi
    done
else
    skip=$((skip + 1)); echo "SKIP section numbering against the specs: $SHARED/spec not found"
fi

# the check can fail
printf '%s\n' '/* see docs/method.md §4.99 and docs/hqq.md §1-§42 */' > "$TMP/broken.c"
citations "$TMP/broken.c" | unresolved > "$TMP/broken.txt"
if [ "$(wc -l < "$TMP/broken.txt")" -eq 2 ] && grep -q 'no section 4.99' "$TMP/broken.txt" &&
    grep -q 'no section 42' "$TMP/broken.txt"; then
    ok "broken citations are reported"
else
    bad "broken citations not reported: $(cat "$TMP/broken.txt")"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
