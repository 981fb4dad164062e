/* The regex pre-tokenizers of byte-level BPE tokenizers (docs/formats.md §7.4) as
 * hand-written scanners over code points, with the Unicode tables of unicode_tables.h:
 *
 *   GPT-2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   Llama-3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   Qwen2   as Llama-3 with \p{N} (one digit) instead of \p{N}{1,3}
 *
 * Known differences from the regex engines: the case-insensitive contractions of Llama-3 and
 * Qwen2 match ASCII letters only (as llama.cpp's scanners; a full Unicode (?i) would also
 * take U+017F LATIN SMALL LETTER LONG S for 's'). */
#ifndef LS_TOK_PRETOK_H
#define LS_TOK_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef enum ls_pretok_kind { LS_PRETOK_GPT2, LS_PRETOK_LLAMA3, LS_PRETOK_QWEN2 } ls_pretok_kind;

/* End (exclusive) of the pre-token that starts at code point i of cp[0..n): always > i for
 * i < n. Pre-tokens tile the text ("Isolated" behaviour: nothing is dropped). */
size_t ls_pretok_match(ls_pretok_kind kind, const uint32_t *cp, size_t n, size_t i);

/* The kind whose pattern is exactly `regex` (as stored in tokenizer.json), or -1. */
int ls_pretok_from_regex(const char *regex);
const char *ls_pretok_regex(ls_pretok_kind kind);
const char *ls_pretok_name(ls_pretok_kind kind); /* "gpt2" "llama3" "qwen2" */

#endif
