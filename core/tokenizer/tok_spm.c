/* SentencePiece-style tokenizers (tok_spm.h). The merge engine lives in tok_vocab.c; this
 * file reads the sources and expresses their text handling as normaliser steps. */
#include "tokenizer/tok_spm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"

static uint32_t rd_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static bool is_byte_piece(const char *s, size_t n)
{
    return n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' &&
           strchr("0123456789ABCDEF", s[3]) && strchr("0123456789ABCDEF", s[4]) && s[3] &&
           s[4];
}

/* Piece types that tok*.bin does not store: llama2.c's fixed ids and the byte pieces. */
static void llama2c_types(tok_vocab *v)
{
    for (int id = 0; id < v->n; id++) {
        if (id == 0)
            v->type[id] = TOK_T_UNKNOWN;
        else if (id == 1 || id == 2)
            v->type[id] = TOK_T_CONTROL;
        else if (is_byte_piece(v->piece[id], v->len[id]))
            v->type[id] = TOK_T_BYTE;
    }
}

static int parse_llama2c(ls_tokenizer *t, const uint8_t *d, size_t size, int vocab_size,
                         ls_error *err)
{
    const char *path = t->path;
    if (size < 4)
        return ls_fail(err, "%s: max_token_length: truncated (file has %zu bytes)", path, size);
    size_t off = 4;
    if (tok_vocab_init(&t->vocab, vocab_size, err) != 0) {
        ls_error_prefix(err, path);
        return -1;
    }
    for (int id = 0; id < vocab_size; id++) {
        if (size - off < 8)
            return ls_fail(err, "%s: piece %d: truncated at byte %zu (the model's vocabulary "
                           "has %d pieces)", path, id, off, vocab_size);
        float score;
        memcpy(&score, d + off, 4);
        uint32_t len = rd_u32(d + off + 4);
        off += 8;
        if (len > size - off)
            return ls_fail(err, "%s: piece %d: length %u runs past the end of the file "
                           "(truncated?)", path, id, len);
        if (tok_vocab_set(&t->vocab, id, (const char *)d + off, len, err) != 0) {
            ls_error_prefix(err, path);
            return -1;
        }
        t->vocab.score[id] = score;
        off += len;
    }
    if (off != size)
        return ls_fail(err, "%s: vocabulary: %zu bytes follow the %d pieces of the model's "
                       "vocabulary (a tokenizer for a larger vocabulary?)", path, size - off,
                       vocab_size);
    return 0;
}

ls_tokenizer *tok_spm_read_llama2c(const char *path, int vocab_size, ls_error *err)
{
    if (vocab_size < 3) {
        ls_fail(err, "%s: vocab_size: %d; a llama2.c tokenizer needs the model's vocabulary "
                "size (at least 3)", path, vocab_size);
        return NULL;
    }
    ls_mapped_file mf;
    if (ls_map_file(path, &mf, err) != 0)
        return NULL;
    ls_tokenizer *t = tok_new(path, err);
    int rc = t ? parse_llama2c(t, mf.data, mf.size, vocab_size, err) : -1;
    ls_unmap_file(&mf);
    if (rc == 0) {
        llama2c_types(&t->vocab);
        rc = tok_vocab_index(&t->vocab, err);
    }
    if (rc == 0) {
        t->source = TOK_SRC_LLAMA2C;
        t->merge_by_score = true;
        t->byte_fallback = true;
        t->unk = 0;
        t->bos = 1;
        t->eos = 2;
        t->adds_bos = true;
        snprintf(t->bos_origin, sizeof t->bos_origin, "llama2.c tokenizer: always");
        tok_find_byte_pieces(t);
        rc = tok_add_norm(t, TOK_NORM_PREPEND, " ", NULL, err); /* run.c's dummy prefix */
    }
    if (rc != 0) {
        ls_tokenizer_free(t);
        return NULL;
    }
    tok_finish(t);
    return t;
}

int tok_spm_setup_gguf(ls_tokenizer *t, const ls_gguf *g, ls_error *err)
{
    ls_gguf_array scores;
    int rc = ls_gguf_get_array(g, "tokenizer.ggml.scores", &scores, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return ls_fail(err, "%s: tokenizer.ggml.scores: missing (needed by a llama "
                       "vocabulary)", t->path);
    if (scores.count != (uint64_t)t->vocab.n ||
        (scores.type != LS_GGUF_FLOAT32 && scores.type != LS_GGUF_FLOAT64))
        return ls_fail(err, "%s: tokenizer.ggml.scores: %llu %s values for %d tokens", t->path,
                       (unsigned long long)scores.count, ls_gguf_type_name(scores.type),
                       t->vocab.n);
    for (int id = 0; id < t->vocab.n; id++)
        t->vocab.score[id] = (float)ls_gguf_array_float(&scores, (uint64_t)id);

    bool space_prefix = true; /* llama.cpp's default for llama vocabularies */
    if (ls_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &space_prefix, err) < 0)
        return -1;
    t->merge_by_score = true;
    t->byte_fallback = true;
    if (t->bos < 0)
        t->bos = 1;
    if (t->eos < 0)
        t->eos = 2;
    if (t->unk < 0)
        t->unk = 0;
    if (t->bos >= t->vocab.n || t->eos >= t->vocab.n || t->unk >= t->vocab.n)
        return ls_fail(err, "%s: tokenizer.ggml.tokens: %d tokens, too few for the default "
                       "special ids", t->path, t->vocab.n);
    tok_find_byte_pieces(t);
    if (space_prefix && tok_add_norm(t, TOK_NORM_PREPEND, "\xE2\x96\x81", NULL, err) != 0)
        return -1;
    return tok_add_norm(t, TOK_NORM_REPLACE, "\xE2\x96\x81", " ", err);
}
