/* Tokenizer internals (tok_impl.h): vocabulary hash, merge-pair table, UTF-8 helpers and the
 * merge engine shared by the SentencePiece-style and the byte-level tokenizers. */
#include "tokenizer/tok_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- id array */

int tok_ids_push(tok_ids *a, int32_t id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return 0;
}

/* ---------------------------------------------------------------- vocabulary */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

int tok_vocab_init(tok_vocab *v, int n, ls_error *err)
{
    memset(v, 0, sizeof *v);
    if (n <= 0)
        return ls_fail(err, "vocabulary: empty");
    v->n = n;
    v->piece = calloc((size_t)n, sizeof *v->piece);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->type = calloc((size_t)n, sizeof *v->type);
    if (!v->piece || !v->len || !v->score || !v->type)
        return ls_fail(err, "vocabulary: out of memory");
    for (int i = 0; i < n; i++)
        v->type[i] = TOK_T_NORMAL;
    return 0;
}

void tok_vocab_free(tok_vocab *v)
{
    if (v->piece)
        for (int i = 0; i < v->n; i++)
            free(v->piece[i]);
    free(v->piece);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

int tok_vocab_set(tok_vocab *v, int id, const char *s, size_t len, ls_error *err)
{
    if (id < 0 || id >= v->n)
        return ls_fail(err, "vocabulary: id %d out of range 0..%d", id, v->n - 1);
    if (len > UINT32_MAX / 2)
        return ls_fail(err, "vocabulary: piece %d too long", id);
    char *p = malloc(len + 1);
    if (!p)
        return ls_fail(err, "vocabulary: out of memory");
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    free(v->piece[id]);
    v->piece[id] = p;
    v->len[id] = (uint32_t)len;
    return 0;
}

int tok_vocab_index(tok_vocab *v, ls_error *err)
{
    size_t cap = 16;
    while (cap < (size_t)v->n * 2)
        cap *= 2;
    free(v->slots);
    v->slots = malloc(cap * sizeof *v->slots);
    if (!v->slots)
        return ls_fail(err, "vocabulary: out of memory");
    for (size_t i = 0; i < cap; i++)
        v->slots[i] = -1;
    v->mask = cap - 1;
    for (int id = 0; id < v->n; id++) {
        if (!v->piece[id])
            continue; /* hole: an id no source defined */
        if (tok_vocab_find(v, v->piece[id], v->len[id]) >= 0)
            continue; /* duplicate piece: keep the lower id */
        size_t h = (size_t)hash_bytes(v->piece[id], v->len[id]) & v->mask;
        while (v->slots[h] >= 0)
            h = (h + 1) & v->mask;
        v->slots[h] = id;
    }
    return 0;
}

int tok_vocab_find(const tok_vocab *v, const char *s, size_t len)
{
    if (!v->slots)
        return -1;
    size_t h = (size_t)hash_bytes(s, len) & v->mask;
    for (;;) {
        int32_t id = v->slots[h];
        if (id < 0)
            return -1;
        if (v->len[id] == len && memcmp(v->piece[id], s, len) == 0)
            return id;
        h = (h + 1) & v->mask;
    }
}

/* ---------------------------------------------------------------- merge pairs */

static uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static size_t pair_slot(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & mask;
}

int tok_pairs_init(tok_pairs *p, size_t expected, ls_error *err)
{
    size_t cap = 16;
    while (cap < expected * 2 + 1)
        cap *= 2;
    p->slots = malloc(cap * sizeof *p->slots);
    if (!p->slots)
        return ls_fail(err, "merges: out of memory");
    for (size_t i = 0; i < cap; i++)
        p->slots[i].key = UINT64_MAX;
    p->mask = cap - 1;
    p->n = 0;
    return 0;
}

void tok_pairs_free(tok_pairs *p)
{
    free(p->slots);
    memset(p, 0, sizeof *p);
}

/* The table is sized for `expected` entries up front, so it never fills. */
void tok_pairs_add(tok_pairs *p, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = pair_key(left, right);
    size_t h = pair_slot(key, p->mask);
    while (p->slots[h].key != UINT64_MAX) {
        if (p->slots[h].key == key)
            return;
        h = (h + 1) & p->mask;
    }
    if (p->n + 1 > p->mask)
        return;
    p->slots[h].key = key;
    p->slots[h].rank = rank;
    p->slots[h].merged = merged;
    p->n++;
}

const tok_pair *tok_pairs_find(const tok_pairs *p, int32_t left, int32_t right)
{
    if (!p->slots)
        return NULL;
    uint64_t key = pair_key(left, right);
    size_t h = pair_slot(key, p->mask);
    while (p->slots[h].key != UINT64_MAX) {
        if (p->slots[h].key == key)
            return &p->slots[h];
        h = (h + 1) & p->mask;
    }
    return NULL;
}

/* ---------------------------------------------------------------- UTF-8 */

int tok_utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

int tok_utf8_check(const char *str, size_t n, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int k = tok_utf8_len(c);
        if (k == 0) {
            *bad = i;
            return -1;
        }
        /* the second byte's range excludes overlongs, surrogates and > U+10FFFF */
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        for (int j = 1; j < k; j++) {
            if (i + (size_t)j >= n) {
                *bad = i + (size_t)j;
                return -1;
            }
            unsigned char d = s[i + (size_t)j];
            if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) {
                *bad = i + (size_t)j;
                return -1;
            }
        }
        i += (size_t)k;
    }
    return 0;
}

uint32_t tok_utf8_decode(const unsigned char *s, size_t n, int *adv)
{
    int k = tok_utf8_len(s[0]);
    if (k == 0 || (size_t)k > n) {
        *adv = 1;
        return s[0];
    }
    *adv = k;
    if (k == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7F >> k);
    for (int j = 1; j < k; j++)
        cp = cp << 6 | (s[j] & 0x3F);
    return cp;
}

int tok_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------- merge engine */

/* A symbol of the word being merged: a byte span of the text and its current id
 * (-1: a code point that is not a piece; it never merges and falls back to bytes). */
typedef struct msym {
    uint32_t start, len;
    int32_t id;
    int32_t prev, next;
} msym;

/* A candidate merge of symbol `left` with its right neighbour `right`. Stale entries (one
 * side already merged elsewhere) are recognised by the length sum: symbols only grow. */
typedef struct bigram {
    double key; /* higher first: the merged piece's score, or minus the merge rank */
    uint32_t pos;
    int32_t left, right;
    uint32_t len;
    int32_t merged;
} bigram;

typedef struct bheap {
    bigram *v;
    size_t n, cap;
} bheap;

static bool bg_before(const bigram *a, const bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->pos < b->pos);
}

static int heap_push(bheap *h, bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bg_before(&b, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return 0;
}

static bigram heap_pop(bheap *h)
{
    bigram top = h->v[0];
    bigram last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && bg_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!bg_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

static bool mergeable_type(uint8_t type)
{
    return type == TOK_T_NORMAL || type == TOK_T_USER || type == TOK_T_UNUSED;
}

/* Queues the merge of symbols a and b if the vocabulary allows it. */
static int try_pair(const ls_tokenizer *t, const char *s, const msym *sy, int32_t a,
                    int32_t b, bheap *h)
{
    if (a < 0 || b < 0 || sy[a].id < 0 || sy[b].id < 0)
        return 0;
    bigram bg = {0, sy[a].start, a, b, sy[a].len + sy[b].len, -1};
    if (t->merge_by_score) {
        int id = tok_vocab_find(&t->vocab, s + sy[a].start, bg.len);
        if (id < 0 || !mergeable_type(t->vocab.type[id]))
            return 0;
        bg.key = t->vocab.score[id];
        bg.merged = id;
    } else {
        const tok_pair *p = tok_pairs_find(&t->pairs, sy[a].id, sy[b].id);
        if (!p)
            return 0;
        bg.key = -(double)p->rank;
        bg.merged = p->merged;
    }
    return heap_push(h, bg);
}

/* Appends the symbols of one code point at s[pos..pos+k): its piece, else byte pieces,
 * else unk (fused with a preceding unk when fuse_unk). */
static int add_symbols(const ls_tokenizer *t, const char *s, uint32_t pos, uint32_t k,
                       msym *sy, int32_t *n, bool *prev_unk, ls_error *err)
{
    int id = tok_vocab_find(&t->vocab, s + pos, k);
    if (id >= 0 && (!t->merge_by_score || mergeable_type(t->vocab.type[id]))) {
        sy[(*n)++] = (msym){pos, k, id, 0, 0};
        *prev_unk = false;
        return 0;
    }
    if (t->merge_by_score) { /* run.c / SentencePiece: byte fallback after merging */
        sy[(*n)++] = (msym){pos, k, -1, 0, 0};
        *prev_unk = false;
        return 0;
    }
    bool bytes_ok = t->byte_fallback;
    for (uint32_t j = 0; j < k && bytes_ok; j++)
        bytes_ok = t->byte_id[(unsigned char)s[pos + j]] >= 0;
    if (bytes_ok) {
        for (uint32_t j = 0; j < k; j++)
            sy[(*n)++] = (msym){pos + j, 1, t->byte_id[(unsigned char)s[pos + j]], 0, 0};
        *prev_unk = false;
        return 0;
    }
    if (t->unk < 0)
        return ls_fail(err, "%s: text: a character at byte %u of a word is not in the "
                       "vocabulary and there is no unk token", t->path, pos);
    if (t->fuse_unk && *prev_unk) {
        sy[*n - 1].len += k;
        return 0;
    }
    sy[(*n)++] = (msym){pos, k, t->unk, 0, 0};
    *prev_unk = true;
    return 0;
}

/* Output of a symbol that never became a piece: its bytes as byte pieces, else unk. */
static int emit_unknown(const ls_tokenizer *t, const char *s, const msym *m, tok_ids *out,
                        ls_error *err)
{
    bool bytes_ok = true;
    for (uint32_t j = 0; j < m->len && bytes_ok; j++)
        bytes_ok = t->byte_id[(unsigned char)s[m->start + j]] >= 0;
    if (bytes_ok) {
        for (uint32_t j = 0; j < m->len; j++)
            if (tok_ids_push(out, t->byte_id[(unsigned char)s[m->start + j]]) != 0)
                return ls_fail(err, "%s: out of memory", t->path);
        return 0;
    }
    if (t->unk < 0)
        return ls_fail(err, "%s: text: a character is not in the vocabulary and there is no "
                       "byte piece or unk token for it", t->path);
    return tok_ids_push(out, t->unk) == 0 ? 0 : ls_fail(err, "%s: out of memory", t->path);
}

/* Merges s[0..n) as one sequence of symbols, appending the ids to out. sy has room for n
 * symbols; the heap is reused between calls. */
static int merge_segment(const ls_tokenizer *t, const char *s, size_t n, msym *sy, bheap *h,
                         tok_ids *out, ls_error *err)
{
    int rc = 0;
    int32_t ns = 0;
    bool prev_unk = false;
    h->n = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        int k;
        tok_utf8_decode((const unsigned char *)s + i, n - i, &k);
        rc = add_symbols(t, s, (uint32_t)i, (uint32_t)k, sy, &ns, &prev_unk, err);
        i += (size_t)k;
    }
    for (int32_t i = 0; i < ns; i++) {
        sy[i].prev = i - 1;
        sy[i].next = i + 1 < ns ? i + 1 : -1;
    }
    for (int32_t i = 0; rc == 0 && i + 1 < ns; i++)
        if (try_pair(t, s, sy, i, i + 1, h) != 0)
            rc = ls_fail(err, "%s: out of memory", t->path);
    while (rc == 0 && h->n > 0) {
        bigram bg = heap_pop(h);
        msym *l = &sy[bg.left], *r = &sy[bg.right];
        if (l->len == 0 || r->len == 0 || l->next != bg.right || l->len + r->len != bg.len)
            continue;
        l->len = bg.len;
        l->id = bg.merged;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = bg.left;
        if (try_pair(t, s, sy, l->prev, bg.left, h) != 0 ||
            try_pair(t, s, sy, bg.left, l->next, h) != 0)
            rc = ls_fail(err, "%s: out of memory", t->path);
    }
    for (int32_t i = 0; rc == 0 && i >= 0 && ns > 0; i = sy[i].next) {
        if (sy[i].id >= 0)
            rc = tok_ids_push(out, sy[i].id) == 0 ? 0 : ls_fail(err, "%s: out of memory",
                                                               t->path);
        else
            rc = emit_unknown(t, s, &sy[i], out, err);
    }
    return rc;
}

/* Whether a segment boundary lies before s[i]: merges cannot cross it (tok_finish proved
 * that no piece spans it), so merging segment by segment equals merging the whole text and
 * keeps the heap small. */
static bool cut_before(const ls_tokenizer *t, const char *s, size_t n, size_t i)
{
    if (i == 0)
        return false;
    if (t->split_nl && (s[i] == '\n' || s[i - 1] == '\n'))
        return true;
    if (t->split_space && s[i] == ' ')
        return true;
    return t->split_meta && n - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0;
}

int tok_merge_word(const ls_tokenizer *t, const char *s, size_t n, tok_ids *out,
                   ls_error *err)
{
    if (n == 0)
        return 0;
    if (n > INT32_MAX / 2)
        return ls_fail(err, "%s: text: section of %zu bytes too long", t->path, n);
    msym *sy = malloc(n * sizeof *sy); /* at most one symbol per byte */
    bheap h = {0};
    if (!sy)
        return ls_fail(err, "%s: out of memory", t->path);
    int rc = 0;
    size_t start = 0;
    for (size_t i = 1; rc == 0 && i <= n; i++)
        if (i == n || cut_before(t, s, n, i)) {
            rc = merge_segment(t, s + start, i - start, sy, &h, out, err);
            start = i;
        }
    free(h.v);
    free(sy);
    return rc;
}

/* ---------------------------------------------------------------- construction helpers */

ls_tokenizer *tok_new(const char *path, ls_error *err)
{
    ls_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path ? path : "tokenizer"))) {
        free(t);
        ls_fail(err, "%s: out of memory", path ? path : "tokenizer");
        return NULL;
    }
    t->bos = t->eos = t->unk = -1;
    t->parse_special = true;
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = t->byte_char_id[i] = -1;
    return t;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int tok_add_norm(ls_tokenizer *t, tok_norm_kind kind, const char *s, const char *from,
                 ls_error *err)
{
    tok_norm *v = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *v);
    if (!v)
        return ls_fail(err, "%s: out of memory", t->path);
    t->norm = v;
    tok_norm *nm = &t->norm[t->n_norm];
    memset(nm, 0, sizeof *nm);
    nm->kind = kind;
    nm->s = dup_bytes(s ? s : "", s ? strlen(s) : 0);
    nm->from = dup_bytes(from ? from : "", from ? strlen(from) : 0);
    if (!nm->s || !nm->from) {
        free(nm->s);
        free(nm->from);
        return ls_fail(err, "%s: out of memory", t->path);
    }
    nm->s_len = strlen(nm->s);
    nm->from_len = strlen(nm->from);
    t->n_norm++;
    return 0;
}

int tok_add_added(ls_tokenizer *t, const char *s, size_t len, int32_t id, bool normalized,
                  ls_error *err)
{
    if (len == 0)
        return 0;
    tok_added *v = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *v);
    if (!v)
        return ls_fail(err, "%s: out of memory", t->path);
    t->added = v;
    char *p = dup_bytes(s, len);
    if (!p)
        return ls_fail(err, "%s: out of memory", t->path);
    /* keep the list sorted longest first, so the first match is the longest */
    int i = t->n_added;
    while (i > 0 && t->added[i - 1].len < len) {
        t->added[i] = t->added[i - 1];
        i--;
    }
    t->added[i] = (tok_added){p, len, id, normalized};
    t->n_added++;
    return 0;
}

void tok_find_byte_pieces(ls_tokenizer *t)
{
    char buf[8];
    for (int b = 0; b < 256; b++) {
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        t->byte_id[b] = tok_vocab_find(&t->vocab, buf, 6);
    }
}

/* A character that never becomes unk: a piece itself or covered by byte pieces. */
static bool known_char(const ls_tokenizer *t, const char *c)
{
    size_t n = strlen(c);
    if (tok_vocab_find(&t->vocab, c, n) >= 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!t->byte_fallback || t->byte_id[(unsigned char)c[i]] < 0)
            return false;
    return true;
}

/* Proves the segment boundaries of tok_merge_word: no piece that merging can produce
 * contains a newline, or a space / '▁' after its first byte. Merges of byte or unk pieces
 * (whose text is not the text they cover) switch the shortcut off. */
static void find_barriers(ls_tokenizer *t)
{
    t->split_nl = t->split_space = t->split_meta = !t->byte_level;
    if (t->byte_level)
        return;
    for (int id = 0; id < t->vocab.n; id++) {
        const char *p = t->vocab.piece[id];
        size_t n = t->vocab.len[id];
        if (!p || n <= 1 || (t->merge_by_score && !mergeable_type(t->vocab.type[id])))
            continue;
        if (memchr(p, '\n', n))
            t->split_nl = false;
        if (memchr(p + 1, ' ', n - 1))
            t->split_space = false;
        for (size_t i = 1; i + 3 <= n; i++)
            if (memcmp(p + i, "\xE2\x96\x81", 3) == 0)
                t->split_meta = false;
    }
    if (t->merge_by_score)
        return;
    /* fuse_unk joins neighbouring unknown characters: a cut must not separate them */
    if (t->fuse_unk) {
        t->split_nl = t->split_nl && known_char(t, "\n");
        t->split_space = t->split_space && known_char(t, " ");
        t->split_meta = t->split_meta && known_char(t, "\xE2\x96\x81");
    }
    for (size_t i = 0; t->pairs.slots && i <= t->pairs.mask; i++) {
        const tok_pair *pr = &t->pairs.slots[i];
        if (pr->key == UINT64_MAX)
            continue;
        int32_t a = (int32_t)(pr->key >> 32), b = (int32_t)(pr->key & 0xFFFFFFFFu);
        uint8_t ta = t->vocab.type[a], tb = t->vocab.type[b];
        if (ta == TOK_T_BYTE || tb == TOK_T_BYTE || a == t->unk || b == t->unk)
            t->split_nl = t->split_space = t->split_meta = false;
    }
}

void tok_finish(ls_tokenizer *t)
{
    find_barriers(t);
    memset(t->added_first, 0, sizeof t->added_first);
    for (int i = 0; i < t->n_added; i++)
        t->added_first[(unsigned char)t->added[i].s[0]] |= t->added[i].normalized ? 2 : 1;
}
