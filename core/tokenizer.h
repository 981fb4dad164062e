/* Tokenizers (spec/formats.md §7): SentencePiece-style BPE with scores and byte fallback
 * (llama2.c tok*.bin, GGUF "llama" vocabularies, HF tokenizer.json of the Llama-2 kind) and
 * byte-level BPE with merges and a regex pre-tokenizer (HF tokenizer.json of the GPT-2 /
 * Llama-3 / Qwen2 kind, GGUF "gpt2" vocabularies). One interface for all of them. */
#ifndef LS_TOKENIZER_H
#define LS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

typedef struct ls_tokenizer ls_tokenizer;

/* The tokenizer that belongs to a model: override_path if given (a tok*.bin,
 * tokenizer.json or .gguf), else the model's own (m->tokenizer_path: llama2.c --tokenizer,
 * HF tokenizer.json; GGUF metadata). Fails with a clear message when there is none or when
 * its vocabulary size does not match the model's. */
int ls_tokenizer_for_model(const ls_model *m, const char *override_path, ls_tokenizer **out,
                           ls_error *err);

/* Opens a tokenizer file directly. vocab_size is needed for llama2.c tok*.bin (the file does
 * not store it); pass 0 for the other formats. */
int ls_tokenizer_open(const char *path, int vocab_size, ls_tokenizer **out, ls_error *err);
void ls_tokenizer_free(ls_tokenizer *t);

/* Encodes len bytes of UTF-8 text; with add_bos a BOS id comes first. *ids is malloc'ed and
 * owned by the caller. Invalid UTF-8 is an error naming the byte offset. */
int ls_tokenizer_encode(const ls_tokenizer *t, const char *text, size_t len, bool add_bos,
                        int32_t **ids, size_t *n_ids, ls_error *err);

int ls_tokenizer_vocab_size(const ls_tokenizer *t);
int ls_tokenizer_bos(const ls_tokenizer *t);       /* -1 when there is none */
int ls_tokenizer_eos(const ls_tokenizer *t);       /* -1 when there is none */
bool ls_tokenizer_adds_bos(const ls_tokenizer *t); /* formats.md §7.5 */
/* The piece of an id as stored (for display), or "" when out of range. */
const char *ls_tokenizer_piece(const ls_tokenizer *t, int id);
const char *ls_tokenizer_kind(const ls_tokenizer *t); /* "spm" or "bpe" */

#endif
