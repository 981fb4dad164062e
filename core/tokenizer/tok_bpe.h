/* Byte-level BPE (docs/formats.md §7.4): GPT-2's byte-to-unicode table, merge ranks, and the
 * GGUF "gpt2" vocabularies (tokenizer.ggml.merges, tokenizer.ggml.pre). The rank-based
 * merging itself is the shared engine of tok_vocab.c. */
#ifndef LS_TOK_BPE_H
#define LS_TOK_BPE_H

#include <stdint.h>

#include "base/error.h"
#include "formats/gguf.h"
#include "tokenizer/tok_impl.h"

/* GGUF's byte_to_unicode: bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves, the other
 * 68 in increasing order to U+0100, U+0101, ... */
uint32_t ls_bytelevel_cp(uint8_t b);
/* The inverse: the byte of a code point of the table, or -1. */
int ls_bytelevel_byte(uint32_t cp);

/* Adds one merge "a b" (pieces as UTF-8) with the next rank; both sides and their
 * concatenation must be pieces. `what` names the entry in messages. */
int tok_bpe_add_merge(ls_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                      int32_t rank, const char *what, ls_error *err);

/* Fills byte_char_id (the piece of each byte's character); fails if one is missing and the
 * tokenizer has no unk. */
int tok_bpe_byte_chars(ls_tokenizer *t, ls_error *err);

/* Completes a tokenizer whose vocabulary was read from GGUF metadata: merges, the
 * pre-tokenizer named by tokenizer.ggml.pre, ignore_merges and the BOS default. */
int tok_bpe_setup_gguf(ls_tokenizer *t, const ls_gguf *g, bool *bos_default, ls_error *err);

#endif
