/* Internals shared by the tokenizer sources (tokenizer.c, tok_spm.c, tok_bpe.c, tok_json.c):
 * the ls_tokenizer struct, the vocabulary with its hash lookup, the merge-pair table, the
 * merge engine and small UTF-8 helpers. Not part of the public interface (tokenizer.h). */
#ifndef LS_TOK_IMPL_H
#define LS_TOK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

/* Piece types, numbered as GGUF token_type and SentencePiece's enum. */
enum {
    TOK_T_NORMAL = 1,
    TOK_T_UNKNOWN = 2,
    TOK_T_CONTROL = 3,
    TOK_T_USER = 4,
    TOK_T_UNUSED = 5,
    TOK_T_BYTE = 6
};

/* ---- growable id array ---- */

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;

int tok_ids_push(tok_ids *a, int32_t id);

/* ---- vocabulary ---- */

typedef struct tok_vocab {
    int n;           /* ids 0..n-1 */
    char **piece;    /* owned, NUL-terminated; "" for holes */
    uint32_t *len;   /* piece byte lengths */
    float *score;    /* SPM scores (0 when the source has none) */
    uint8_t *type;   /* TOK_T_* */
    int32_t *slots;  /* open-addressing hash of ids by piece, -1 = empty */
    size_t mask;     /* slots has mask + 1 entries (a power of two) */
} tok_vocab;

int tok_vocab_init(tok_vocab *v, int n, ls_error *err);
void tok_vocab_free(tok_vocab *v);
/* Stores a copy of the piece for id (the hash is built by tok_vocab_index). */
int tok_vocab_set(tok_vocab *v, int id, const char *s, size_t len, ls_error *err);
/* Builds the hash; when a piece occurs twice the lower id wins (as a sorted-vocabulary
 * binary search and HF's vocab map would give for well-formed files). */
int tok_vocab_index(tok_vocab *v, ls_error *err);
int tok_vocab_find(const tok_vocab *v, const char *s, size_t len); /* id or -1 */

/* ---- merge pairs (BPE ranks) ---- */

typedef struct tok_pair {
    uint64_t key; /* (uint64_t)left << 32 | right; UINT64_MAX = empty slot */
    int32_t rank;
    int32_t merged;
} tok_pair;

typedef struct tok_pairs {
    tok_pair *slots;
    size_t mask, n;
} tok_pairs;

int tok_pairs_init(tok_pairs *p, size_t expected, ls_error *err);
void tok_pairs_free(tok_pairs *p);
/* Adds (left, right) -> merged with the given rank; a repeated pair keeps its first rank. */
void tok_pairs_add(tok_pairs *p, int32_t left, int32_t right, int32_t rank, int32_t merged);
const tok_pair *tok_pairs_find(const tok_pairs *p, int32_t left, int32_t right);

/* ---- text handling ---- */

/* Normaliser steps applied to each text section in order (HF normalizers, and the same
 * steps expressed for tok*.bin / GGUF vocabularies). */
typedef enum tok_norm_kind {
    TOK_NORM_PREPEND,    /* prepend s to a non-empty section */
    TOK_NORM_REPLACE,    /* replace every `from` by s */
    TOK_NORM_SP_SPACES,  /* SentencePiece remove_extra_whitespaces on ' ' */
    TOK_NORM_NFC         /* NFC: verified to be the identity, else an error */
} tok_norm_kind;

typedef struct tok_norm {
    tok_norm_kind kind;
    char *s, *from; /* owned */
    size_t s_len, from_len;
} tok_norm;

typedef enum tok_pretok_kind {
    TOK_PRE_NONE,
    TOK_PRE_METASPACE,
    TOK_PRE_GPT2,
    TOK_PRE_LLAMA3,
    TOK_PRE_QWEN2
} tok_pretok_kind;

typedef enum tok_prepend_scheme { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER }
    tok_prepend_scheme;

typedef struct tok_added {
    char *s; /* owned */
    size_t len;
    int32_t id;
    bool normalized; /* matched after normalisation (HF "normalized": true) */
} tok_added;

typedef enum tok_source { TOK_SRC_LLAMA2C, TOK_SRC_GGUF, TOK_SRC_HF } tok_source;

struct ls_tokenizer {
    char *path; /* for messages */
    tok_source source;
    bool byte_level;     /* "bpe" kind: GPT-2 byte-to-unicode pieces */
    bool merge_by_score; /* SentencePiece/run.c: merged piece with the highest score;
                            else the pair with the lowest rank in `pairs` */
    tok_vocab vocab;
    tok_pairs pairs;

    int n_norm;
    tok_norm *norm;
    tok_pretok_kind pretok;
    bool pretok_byte_level; /* ByteLevel step (byte-to-unicode mapping) after the split */
    tok_prepend_scheme ms_scheme; /* Metaspace */
    bool ms_split;
    char ms_repl[8];
    size_t ms_repl_len;

    bool byte_fallback, fuse_unk, ignore_merges;
    int32_t byte_id[256]; /* id of the <0xXX> piece, -1 when absent */
    int32_t byte_char_id[256]; /* byte-level: id of the piece of the mapped character */

    int n_added;
    tok_added *added; /* sorted by length, longest first */
    uint8_t added_first[256]; /* bit 0: a raw-matched added token starts with this byte,
                                 bit 1: a normalized one does (set by tok_finish) */
    bool parse_special;
    /* merge shortcuts proved by tok_finish: cut the text at newlines / before spaces / before
       '▁' because no piece can span those points */
    bool split_nl, split_space, split_meta;

    int bos, eos, unk;
    bool adds_bos;
    char bos_origin[96]; /* where the BOS decision came from, for display */
};

/* UTF-8: length of the sequence starting with byte c (1..4; 0 for an invalid lead byte). */
int tok_utf8_len(unsigned char c);
/* Validates text; returns -1 with the byte offset of the first invalid byte in *bad. */
int tok_utf8_check(const char *s, size_t n, size_t *bad);
/* Decodes the valid sequence at s (at most n bytes); *adv gets its length. */
uint32_t tok_utf8_decode(const unsigned char *s, size_t n, int *adv);
int tok_utf8_encode(uint32_t cp, char out[4]);

/* The merge engine over one word (pre-tokenised, normalised text): initial symbols are the
 * code points of s; merges as chosen by t->merge_by_score; the resulting ids are appended
 * to out (with byte fallback / unk). */
int tok_merge_word(const ls_tokenizer *t, const char *s, size_t n, tok_ids *out,
                   ls_error *err);

/* An allocated empty tokenizer (every id -1, no merges). */
ls_tokenizer *tok_new(const char *path, ls_error *err);
int tok_add_norm(ls_tokenizer *t, tok_norm_kind kind, const char *s, const char *from,
                 ls_error *err);
int tok_add_added(ls_tokenizer *t, const char *s, size_t len, int32_t id, bool normalized,
                  ls_error *err);
/* Fills byte_id from the "<0xXX>" pieces. */
void tok_find_byte_pieces(ls_tokenizer *t);
/* Derived tables once the sources are read (added-token first bytes). */
void tok_finish(ls_tokenizer *t);

#endif
