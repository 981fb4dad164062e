/* Hugging Face tokenizer.json (docs/formats.md §7.3, §7.4), read with cJSON: model BPE with
 * vocab and merges ("a b" strings or ["a", "b"] pairs), byte_fallback, fuse_unk,
 * ignore_merges; normalizers Prepend, Replace (string pattern), NFC (checked, see below) and
 * Sequences of them; pre-tokenizers Metaspace, ByteLevel, Split with one of the three known
 * regexes (tok_pretok.h) and Sequences of them; added_tokens; the BOS decision from the
 * post_processor (TemplateProcessing, inside Sequence too), else from tokenizer_config.json
 * beside the file (add_bos_token).
 *
 * NFC is not implemented as a transformation: the quick check of UAX #15 (tables of
 * unicode_tables.h) proves that a text is already in NFC and passes it unchanged (WikiText
 * and TinyStories pass); other text is an error naming the code point.
 * Added tokens' lstrip / rstrip / single_word flags are ignored (all false in Llama-2,
 * Llama-3 and Qwen2 tokenizers). */
#ifndef LS_TOK_JSON_H
#define LS_TOK_JSON_H

#include "base/error.h"
#include "tokenizer/tokenizer.h"

int tok_json_open(const char *path, ls_tokenizer **out, ls_error *err);

#endif
