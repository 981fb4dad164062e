/* The tokenizer interface (tokenizer.h): opening by content, the GGUF vocabulary keys, the
 * encoding pipeline (added tokens, normalisers, pre-tokenizers, merging), decoding and the
 * BOS/EOS decision of docs/formats.md §7.5. */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "base/mapfile.h"
#include "tokenizer/tok_bpe.h"
#include "tokenizer/tok_impl.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_spm.h"
#include "tokenizer/unicode_tables.h"

/* ---------------------------------------------------------------- lifetime, accessors */

void ls_tokenizer_free(ls_tokenizer *t)
{
    if (!t)
        return;
    tok_vocab_free(&t->vocab);
    tok_pairs_free(&t->pairs);
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].s);
        free(t->norm[i].from);
    }
    free(t->norm);
    for (int i = 0; i < t->n_added; i++)
        free(t->added[i].s);
    free(t->added);
    free(t->path);
    free(t);
}

int ls_tokenizer_vocab_size(const ls_tokenizer *t) { return t->vocab.n; }
int ls_tokenizer_bos(const ls_tokenizer *t) { return t->bos; }
int ls_tokenizer_eos(const ls_tokenizer *t) { return t->eos; }
int ls_tokenizer_unk(const ls_tokenizer *t) { return t->unk; }
bool ls_tokenizer_adds_bos(const ls_tokenizer *t) { return t->adds_bos && t->bos >= 0; }
const char *ls_tokenizer_bos_origin(const ls_tokenizer *t) { return t->bos_origin; }
const char *ls_tokenizer_kind(const ls_tokenizer *t) { return t->byte_level ? "bpe" : "spm"; }

const char *ls_tokenizer_piece(const ls_tokenizer *t, int id)
{
    if (id < 0 || id >= t->vocab.n || !t->vocab.piece[id])
        return "";
    return t->vocab.piece[id];
}

int ls_tokenizer_find(const ls_tokenizer *t, const char *piece)
{
    return tok_vocab_find(&t->vocab, piece, strlen(piece));
}

void ls_tokenizer_set_parse_special(ls_tokenizer *t, bool on) { t->parse_special = on; }

int ls_tokenizer_set_sp_normalize(ls_tokenizer *t, bool on, ls_error *err)
{
    bool has = t->n_norm > 0 && t->norm[0].kind == TOK_NORM_SP_SPACES;
    if (on == has)
        return 0;
    if (!on) {
        free(t->norm[0].s);
        free(t->norm[0].from);
        memmove(t->norm, t->norm + 1, (size_t)(t->n_norm - 1) * sizeof *t->norm);
        t->n_norm--;
        return 0;
    }
    if (t->byte_level)
        return ls_fail(err, "%s: SentencePiece normalisation applies to SentencePiece-style "
                       "tokenizers only", t->path);
    if (tok_add_norm(t, TOK_NORM_SP_SPACES, NULL, NULL, err) != 0)
        return -1;
    tok_norm last = t->norm[t->n_norm - 1]; /* move it to the front */
    memmove(t->norm + 1, t->norm, (size_t)(t->n_norm - 1) * sizeof *t->norm);
    t->norm[0] = last;
    return 0;
}

/* ---------------------------------------------------------------- GGUF vocabularies */

/* A special-token id key: absent or out of range (0xFFFFFFFF = none) keeps *id. */
static int gguf_special(const ls_gguf *g, const char *key, int n, int *id, ls_error *err)
{
    int64_t v;
    int rc = ls_gguf_get_int(g, key, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 1 && v >= 0 && v < n)
        *id = (int)v;
    return 0;
}

static int gguf_vocab(ls_tokenizer *t, const ls_gguf *g, ls_error *err)
{
    ls_gguf_array tokens, types;
    int rc = ls_gguf_get_array(g, "tokenizer.ggml.tokens", &tokens, err);
    if (rc < 0)
        return -1;
    if (rc == 0 || tokens.type != LS_GGUF_STRING || tokens.count == 0 ||
        tokens.count > INT32_MAX / 2)
        return ls_fail(err, "%s: tokenizer.ggml.tokens: %s", t->path,
                       rc == 0 ? "missing (no tokenizer in this GGUF)"
                               : "not a usable string array");
    int n = (int)tokens.count;
    if (tok_vocab_init(&t->vocab, n, err) != 0) {
        ls_error_prefix(err, t->path);
        return -1;
    }
    const uint8_t *p = tokens.data;
    for (int id = 0; id < n; id++) {
        ls_gguf_str s;
        p = ls_gguf_str_next(p, &s);
        if (tok_vocab_set(&t->vocab, id, s.ptr, (size_t)s.len, err) != 0) {
            ls_error_prefix(err, t->path);
            return -1;
        }
    }
    rc = ls_gguf_get_array(g, "tokenizer.ggml.token_type", &types, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (types.count != tokens.count)
            return ls_fail(err, "%s: tokenizer.ggml.token_type: %llu entries for %d tokens",
                           t->path, (unsigned long long)types.count, n);
        for (int id = 0; id < n; id++) {
            int64_t ty = ls_gguf_array_int(&types, (uint64_t)id);
            t->vocab.type[id] = (uint8_t)(ty >= 1 && ty <= 6 ? ty : TOK_T_NORMAL);
        }
    }
    if (tok_vocab_index(&t->vocab, err) != 0) {
        ls_error_prefix(err, t->path);
        return -1;
    }
    if (gguf_special(g, "tokenizer.ggml.bos_token_id", n, &t->bos, err) != 0 ||
        gguf_special(g, "tokenizer.ggml.eos_token_id", n, &t->eos, err) != 0 ||
        gguf_special(g, "tokenizer.ggml.unknown_token_id", n, &t->unk, err) != 0)
        return -1;
    /* llama.cpp matches USER_DEFINED pieces in text always, CONTROL ones only on request */
    for (int id = 0; id < n; id++)
        if (t->vocab.type[id] == TOK_T_USER &&
            tok_add_added(t, t->vocab.piece[id], t->vocab.len[id], id, false, err) != 0)
            return -1;
    return 0;
}

static int tok_setup_gguf(ls_tokenizer *t, const ls_gguf *g, ls_error *err)
{
    ls_gguf_str model;
    int rc = ls_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return ls_fail(err, "%s: tokenizer.ggml.model: missing (no tokenizer in this GGUF)",
                       t->path);
    bool is_llama = ls_gguf_str_eq(model, "llama"), is_gpt2 = ls_gguf_str_eq(model, "gpt2");
    if (!is_llama && !is_gpt2)
        return ls_fail(err, "%s: tokenizer.ggml.model: \"%.*s\" is not supported (llama and "
                       "gpt2 are)", t->path, (int)(model.len < 60 ? model.len : 60), model.ptr);
    t->source = TOK_SRC_GGUF;
    if (gguf_vocab(t, g, err) != 0)
        return -1;
    bool bos_default = true;
    if (is_llama)
        rc = tok_spm_setup_gguf(t, g, err);
    else
        rc = tok_bpe_setup_gguf(t, g, &bos_default, err);
    if (rc != 0)
        return -1;
    bool add_bos = bos_default;
    rc = ls_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, err);
    if (rc < 0)
        return -1;
    t->adds_bos = add_bos;
    snprintf(t->bos_origin, sizeof t->bos_origin, "%s",
             rc == 1 ? "GGUF tokenizer.ggml.add_bos_token"
                     : "llama.cpp default for this vocabulary");
    tok_finish(t);
    return 0;
}

/* A tokenizer from the metadata of an already parsed GGUF; path for messages. */
int ls_tokenizer_from_gguf(const struct ls_gguf *g, const char *path, ls_tokenizer **out,
                           ls_error *err)
{
    ls_tokenizer *t = tok_new(path, err);
    if (!t)
        return -1;
    if (tok_setup_gguf(t, g, err) != 0) {
        ls_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static int open_gguf_file(const char *path, ls_tokenizer **out, ls_error *err)
{
    ls_mapped_file mf;
    if (ls_map_file(path, &mf, err) != 0)
        return -1;
    ls_gguf *g = NULL;
    int rc = ls_gguf_parse(path, mf.data, mf.size, &g, err);
    if (rc == 0)
        rc = ls_tokenizer_from_gguf(g, path, out, err);
    ls_gguf_free(g);
    ls_unmap_file(&mf); /* the tokenizer holds copies of everything */
    return rc;
}

/* ---------------------------------------------------------------- opening */

typedef enum file_kind { KIND_GGUF, KIND_JSON, KIND_LLAMA2C } file_kind;

static int sniff(const char *path, file_kind *kind, ls_error *err)
{
    FILE *f = ls_fopen_regular(path, err);
    if (!f)
        return -1;
    unsigned char buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t i = 0;
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
        i = 3; /* UTF-8 byte order mark */
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    /* JSON: '{' then (after whitespace) '"' or '}'; a tok*.bin whose max_token_length is
     * 123 also starts with '{', followed by a zero byte */
    size_t j = i + 1;
    while (j < n && (buf[j] == ' ' || buf[j] == '\n' || buf[j] == '\r' || buf[j] == '\t'))
        j++;
    if (n >= 4 && memcmp(buf, "GGUF", 4) == 0)
        *kind = KIND_GGUF;
    else if (i < n && buf[i] == '{' && (j >= n || buf[j] == '"' || buf[j] == '}'))
        *kind = KIND_JSON;
    else
        *kind = KIND_LLAMA2C;
    return 0;
}

int ls_tokenizer_open(const char *path, int vocab_size, ls_tokenizer **out, ls_error *err)
{
    *out = NULL;
    file_kind kind = KIND_LLAMA2C;
    if (sniff(path, &kind, err) != 0)
        return -1;
    switch (kind) {
    case KIND_GGUF: return open_gguf_file(path, out, err);
    case KIND_JSON: return tok_json_open(path, out, err);
    case KIND_LLAMA2C:
        if (vocab_size <= 0)
            return ls_fail(err, "%s: vocab_size: a llama2.c tokenizer (tok*.bin) does not store "
                           "its size; open it with the model's vocabulary size", path);
        *out = tok_spm_read_llama2c(path, vocab_size, err);
        return *out ? 0 : -1;
    }
    return ls_fail(err, "%s: unknown tokenizer format", path);
}

static int check_vocab(const ls_model *m, ls_tokenizer *t, ls_error *err)
{
    int nm = m->cfg.vocab_size, nt = t->vocab.n;
    if (nt == nm)
        return 0;
    /* HF models may pad the embedding beyond the tokenizer (Qwen2): fewer pieces are fine */
    if (t->source == TOK_SRC_HF && nt < nm)
        return 0;
    return ls_fail(err, "%s: vocabulary: the tokenizer has %d pieces but the model %s has "
                   "vocab_size %d (a tokenizer for another model?)", t->path, nt, m->path, nm);
}

int ls_tokenizer_for_model(const ls_model *m, const char *override_path, ls_tokenizer **out,
                           ls_error *err)
{
    *out = NULL;
    ls_tokenizer *t = NULL;
    int rc;
    if (override_path)
        rc = ls_tokenizer_open(override_path, m->cfg.vocab_size, &t, err);
    else if (m->gguf)
        rc = ls_tokenizer_from_gguf(m->gguf, m->path, &t, err);
    else if (m->tokenizer_path)
        rc = ls_tokenizer_open(m->tokenizer_path, m->cfg.vocab_size, &t, err);
    else
        return ls_fail(err, "%s: tokenizer: none found (%s)", m->path,
                       m->format == LS_FORMAT_LLAMA2C
                           ? "a llama2.c checkpoint needs --tokenizer tok*.bin"
                           : "no tokenizer.json beside the model; pass --tokenizer FILE");
    if (rc == 0 && check_vocab(m, t, err) != 0)
        rc = -1;
    if (rc != 0) {
        ls_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---------------------------------------------------------------- encoding */

typedef struct enc {
    const ls_tokenizer *t;
    tok_ids *out;
    ls_error *err;
    char *buf; /* scratch for byte-level words */
    size_t buf_cap;
} enc;

static int oom(enc *e)
{
    return ls_fail(e->err, "%s: out of memory", e->t->path);
}

/* The longest added token (of the kinds in `which`: bit 0 raw, bit 1 normalized) at s[i]. */
static const tok_added *added_at(const ls_tokenizer *t, const char *s, size_t n, size_t i,
                                 unsigned which)
{
    if (!(t->added_first[(unsigned char)s[i]] & which))
        return NULL;
    for (int k = 0; k < t->n_added; k++) {
        const tok_added *a = &t->added[k];
        if ((a->normalized ? 2u : 1u) & which && a->len <= n - i && a->s[0] == s[i] &&
            memcmp(a->s, s + i, a->len) == 0)
            return a;
    }
    return NULL;
}

static int ensure_buf(enc *e, size_t need)
{
    if (need <= e->buf_cap)
        return 0;
    size_t cap = need < 256 ? 256 : need * 2;
    char *b = realloc(e->buf, cap);
    if (!b)
        return oom(e);
    e->buf = b;
    e->buf_cap = cap;
    return 0;
}

/* One byte-level pre-token: bytes to characters, then ignore_merges or BPE. */
static int byte_level_word(enc *e, const char *s, size_t n)
{
    if (ensure_buf(e, 2 * n) != 0)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)tok_utf8_encode(ls_bytelevel_cp((uint8_t)s[i]), e->buf + k);
    if (e->t->ignore_merges) {
        int id = tok_vocab_find(&e->t->vocab, e->buf, k);
        if (id >= 0)
            return tok_ids_push(e->out, id) == 0 ? 0 : oom(e);
    }
    return tok_merge_word(e->t, e->buf, k, e->out, e->err);
}

static int regex_words(enc *e, const char *s, size_t n)
{
    size_t ncp = 0;
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    size_t *off = malloc((n + 1) * sizeof *off);
    int rc = 0;
    if (!cp || !off)
        rc = oom(e);
    for (size_t i = 0; rc == 0 && i < n;) {
        int adv;
        off[ncp] = i;
        cp[ncp++] = tok_utf8_decode((const unsigned char *)s + i, n - i, &adv);
        i += (size_t)adv;
    }
    if (rc == 0)
        off[ncp] = n;
    ls_pretok_kind kind = (ls_pretok_kind)(e->t->pretok - TOK_PRE_GPT2);
    for (size_t i = 0; rc == 0 && i < ncp;) {
        size_t j = ls_pretok_match(kind, cp, ncp, i);
        const char *w = s + off[i];
        size_t wn = off[j] - off[i];
        rc = e->t->pretok_byte_level ? byte_level_word(e, w, wn)
                                     : tok_merge_word(e->t, w, wn, e->out, e->err);
        i = j;
    }
    free(cp);
    free(off);
    return rc;
}

/* Metaspace: spaces become the replacement, which is prepended per the scheme when the text
 * does not start with it; with split the text is cut before every replacement. */
static int metaspace_words(enc *e, const char *s, size_t n, bool first)
{
    const ls_tokenizer *t = e->t;
    const char *r = t->ms_repl;
    size_t rl = t->ms_repl_len;
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    if (ensure_buf(e, n + spaces * rl + rl + 1) != 0)
        return -1;
    char *b = e->buf;
    size_t k = 0;
    bool starts = n >= rl && memcmp(s, r, rl) == 0;
    starts = starts || (n > 0 && s[0] == ' ');
    bool prepend = t->ms_scheme == TOK_PREPEND_ALWAYS ||
                   (t->ms_scheme == TOK_PREPEND_FIRST && first);
    if (!starts && prepend) {
        memcpy(b, r, rl);
        k = rl;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(b + k, r, rl);
            k += rl;
        } else {
            b[k++] = s[i];
        }
    }
    if (!t->ms_split)
        return tok_merge_word(t, b, k, e->out, e->err);
    size_t start = 0;
    for (size_t i = 1; i + rl <= k; i++) {
        if (memcmp(b + i, r, rl) == 0) {
            if (tok_merge_word(t, b + start, i - start, e->out, e->err) != 0)
                return -1;
            start = i;
        }
    }
    return tok_merge_word(t, b + start, k - start, e->out, e->err);
}

static int pretokenize(enc *e, const char *s, size_t n, bool first)
{
    if (n == 0)
        return 0;
    switch (e->t->pretok) {
    case TOK_PRE_NONE: return tok_merge_word(e->t, s, n, e->out, e->err);
    case TOK_PRE_METASPACE: return metaspace_words(e, s, n, first);
    default: return regex_words(e, s, n);
    }
}

/* ---- normalisers: each maps (s, n) to a new malloc'ed buffer */

static char *norm_prepend(const tok_norm *nm, const char *s, size_t n, size_t *out_n)
{
    char *b = malloc(n + nm->s_len + 1);
    if (!b)
        return NULL;
    size_t k = 0;
    if (n > 0) {
        memcpy(b, nm->s, nm->s_len);
        k = nm->s_len;
    }
    if (n)
        memcpy(b + k, s, n);
    *out_n = k + n;
    return b;
}

static char *norm_replace(const tok_norm *nm, const char *s, size_t n, size_t *out_n)
{
    size_t hits = 0, fl = nm->from_len;
    for (size_t i = 0; fl && i + fl <= n;)
        if (memcmp(s + i, nm->from, fl) == 0) {
            hits++;
            i += fl;
        } else {
            i++;
        }
    size_t cap = n + hits * nm->s_len + 1;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (fl && i + fl <= n && memcmp(s + i, nm->from, fl) == 0) {
            memcpy(b + k, nm->s, nm->s_len);
            k += nm->s_len;
            i += fl;
        } else {
            b[k++] = s[i++];
        }
    }
    *out_n = k;
    return b;
}

/* SentencePiece's remove_extra_whitespaces: drop leading and trailing spaces, collapse runs. */
static char *norm_sp_spaces(const char *s, size_t n, size_t *out_n)
{
    char *b = malloc(n + 1);
    if (!b)
        return NULL;
    size_t k = 0;
    bool prev_space = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && prev_space)
            continue;
        prev_space = s[i] == ' ';
        b[k++] = s[i];
    }
    while (k > 0 && b[k - 1] == ' ')
        k--;
    *out_n = k;
    return b;
}

/* NFC itself is not implemented: the quick check of UAX #15 proves that the text is already
 * in NFC (then NFC is the identity), else the text is rejected, naming the code point. */
static int check_nfc(enc *e, const char *s, size_t n, size_t base)
{
    unsigned last_ccc = 0;
    for (size_t i = 0; i < n;) {
        int adv;
        uint32_t cp = tok_utf8_decode((const unsigned char *)s + i, n - i, &adv);
        unsigned ccc = cp < 0x300 ? 0 : ls_unicode_combining_class(cp);
        unsigned fl = cp < 0x300 ? 0 : ls_unicode_flags(cp);
        if ((ccc != 0 && last_ccc > ccc) || (fl & (LS_UC_NFC_NO | LS_UC_NFC_MAYBE)))
            return ls_fail(e->err, "%s: text: U+%04X near byte %zu may change under NFC "
                           "normalisation, which is not implemented (only text already in "
                           "NFC by the quick check is accepted)", e->t->path, cp, base + i);
        last_ccc = ccc;
        i += (size_t)adv;
    }
    return 0;
}

/* Applies the normaliser steps; *out is s itself or a malloc'ed buffer in *owned. */
static int normalize(enc *e, const char *s, size_t n, size_t base, const char **out,
                     size_t *out_n, char **owned)
{
    *out = s;
    *out_n = n;
    *owned = NULL;
    for (int k = 0; k < e->t->n_norm; k++) {
        const tok_norm *nm = &e->t->norm[k];
        char *b = NULL;
        size_t bn = 0;
        switch (nm->kind) {
        case TOK_NORM_PREPEND: b = norm_prepend(nm, *out, *out_n, &bn); break;
        case TOK_NORM_REPLACE: b = norm_replace(nm, *out, *out_n, &bn); break;
        case TOK_NORM_SP_SPACES: b = norm_sp_spaces(*out, *out_n, &bn); break;
        case TOK_NORM_NFC:
            if (check_nfc(e, *out, *out_n, base) != 0)
                return -1;
            continue;
        }
        if (!b)
            return oom(e);
        free(*owned);
        *owned = b;
        *out = b;
        *out_n = bn;
    }
    return 0;
}

/* A section between raw-matched added tokens: normalise, split on normalized added tokens,
 * pre-tokenise and merge. `first`: the section starts the input (Metaspace "first"). */
static int encode_section(enc *e, const char *s, size_t n, size_t base, bool first)
{
    if (n == 0)
        return 0;
    const char *ns;
    size_t nn;
    char *owned;
    if (normalize(e, s, n, base, &ns, &nn, &owned) != 0)
        return -1;
    int rc = 0;
    size_t start = 0;
    bool split = e->t->parse_special;
    for (size_t i = 0; split && rc == 0 && i < nn;) {
        const tok_added *a = added_at(e->t, ns, nn, i, 2);
        if (!a) {
            i++;
            continue;
        }
        rc = pretokenize(e, ns + start, i - start, first && start == 0);
        if (rc == 0 && tok_ids_push(e->out, a->id) != 0)
            rc = oom(e);
        i += a->len;
        start = i;
    }
    if (rc == 0)
        rc = pretokenize(e, ns + start, nn - start, first && start == 0);
    free(owned);
    return rc;
}

static int encode_text(enc *e, const char *s, size_t n)
{
    size_t start = 0;
    bool split = e->t->parse_special;
    for (size_t i = 0; split && i < n;) {
        const tok_added *a = added_at(e->t, s, n, i, 1);
        if (!a) {
            i++;
            continue;
        }
        if (encode_section(e, s + start, i - start, start, start == 0) != 0)
            return -1;
        if (tok_ids_push(e->out, a->id) != 0)
            return oom(e);
        i += a->len;
        start = i;
    }
    return encode_section(e, s + start, n - start, start, start == 0);
}

int ls_tokenizer_encode(const ls_tokenizer *t, const char *text, size_t len, bool add_bos,
                        int32_t **ids, size_t *n_ids, ls_error *err)
{
    *ids = NULL;
    *n_ids = 0;
    size_t bad;
    if (len && tok_utf8_check(text, len, &bad) != 0)
        return ls_fail(err, "%s: text: invalid UTF-8 at byte offset %zu (0x%02X)", t->path, bad,
                       bad < len ? (unsigned char)text[bad] : 0u);
    tok_ids out = {0};
    enc e = {t, &out, err, NULL, 0};
    int rc = 0;
    if (add_bos && t->bos >= 0 && tok_ids_push(&out, t->bos) != 0)
        rc = oom(&e);
    if (rc == 0 && len)
        rc = encode_text(&e, text, len);
    if (rc == 0 && !out.v && tok_ids_push(&out, 0) == 0)
        out.n = 0; /* always hand back a buffer the caller can free */
    free(e.buf);
    if (rc != 0 || !out.v) {
        free(out.v);
        return rc != 0 ? -1 : oom(&e);
    }
    *ids = out.v;
    *n_ids = out.n;
    return 0;
}

/* ---------------------------------------------------------------- decoding */

static size_t put(char *out, size_t cap, size_t k, const char *s, size_t n)
{
    if (k < cap) {
        size_t m = cap - 1 - k < n ? cap - 1 - k : n;
        memcpy(out + k, s, m);
        out[k + m] = '\0';
    }
    return k + n;
}

static size_t decode_byte_level(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int adv;
        uint32_t cp = tok_utf8_decode((const unsigned char *)p + i, n - i, &adv);
        int b = ls_bytelevel_byte(cp);
        if (b >= 0) {
            char c = (char)b;
            k = put(out, cap, k, &c, 1);
        } else {
            k = put(out, cap, k, p + i, (size_t)adv); /* outside the table: as is */
        }
        i += (size_t)adv;
    }
    return k;
}

size_t ls_tokenizer_decode(const ls_tokenizer *t, int prev, int id, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (id < 0 || id >= t->vocab.n || !t->vocab.piece[id])
        return 0;
    uint8_t type = t->vocab.type[id];
    if (type == TOK_T_CONTROL)
        return 0;
    const char *p = t->vocab.piece[id];
    size_t n = t->vocab.len[id];
    if (t->byte_level)
        return decode_byte_level(p, n, out, cap);
    if (type == TOK_T_BYTE && n == 6) {
        char c = (char)strtol(p + 3, NULL, 16);
        return put(out, cap, 0, &c, 1);
    }
    size_t k = 0;
    bool strip = prev < 0 || prev == t->bos; /* SentencePiece drops the dummy-prefix space */
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
            i += 3;
            if (!(strip && k == 0))
                k = put(out, cap, k, " ", 1);
        } else if (p[i] == ' ' && strip && k == 0) {
            i++;
        } else {
            k = put(out, cap, k, p + i, 1);
            i++;
        }
        strip = strip && k == 0 && i == 0;
    }
    return k;
}
