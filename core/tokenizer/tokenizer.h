/* Tokenizers (docs/formats.md §7): SentencePiece-style BPE with scores and byte fallback
 * (llama2.c tok*.bin, GGUF "llama" vocabularies, HF tokenizer.json of the Llama-2 kind) and
 * byte-level BPE with merges and a regex pre-tokenizer (HF tokenizer.json of the GPT-2 /
 * Llama-3 / Qwen2 kind, GGUF "gpt2" vocabularies). One interface for all of them. */
#ifndef LS_TOKENIZER_H
#define LS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

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
bool ls_tokenizer_adds_bos(const ls_tokenizer *t); /* docs/formats.md §7.5 */
/* The piece of an id as stored (for display), or "" when out of range. */
const char *ls_tokenizer_piece(const ls_tokenizer *t, int id);
const char *ls_tokenizer_kind(const ls_tokenizer *t); /* "spm" or "bpe" */

/* ---- additions (tokenizer work) ---- */

/* A tokenizer from already parsed GGUF metadata (m->gguf); path names it in messages. */
struct ls_gguf;
int ls_tokenizer_from_gguf(const struct ls_gguf *g, const char *path, ls_tokenizer **out,
                           ls_error *err);

/* The text of id, following prev (-1 at the start of the text): <0xXX> byte pieces give their
 * byte, '▁' a space, byte-level pieces their bytes; control pieces (BOS, EOS) give nothing;
 * SentencePiece-style pieces drop one leading space after BOS or at the start. Writes at
 * most cap-1 bytes and a NUL; returns the full length (like snprintf). A single UTF-8
 * character may be split over several byte pieces. */
size_t ls_tokenizer_decode(const ls_tokenizer *t, int prev, int id, char *out, size_t cap);

int ls_tokenizer_unk(const ls_tokenizer *t); /* -1 when there is none */
/* Id of a piece given exactly as stored, or -1. */
int ls_tokenizer_find(const ls_tokenizer *t, const char *piece);
/* Where the BOS decision came from, e.g. "GGUF tokenizer.ggml.add_bos_token" (model panel). */
const char *ls_tokenizer_bos_origin(const ls_tokenizer *t);

/* Options, set before encoding. parse_special (default on): special / added tokens written
 * in the text are matched as single tokens (as HF does); off treats them as plain text.
 * sp_normalize (default off): SentencePiece's remove_extra_whitespaces (drop leading and
 * trailing spaces, collapse runs of spaces), only to reproduce values computed with the
 * SentencePiece library (docs/formats.md §7.2, §9); not for byte-level tokenizers. */
void ls_tokenizer_set_parse_special(ls_tokenizer *t, bool on);
int ls_tokenizer_set_sp_normalize(ls_tokenizer *t, bool on, ls_error *err);

#endif
