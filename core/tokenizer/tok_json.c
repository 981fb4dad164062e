/* tokenizer.json reader (tok_json.h). Every message reads "FILE: FIELD: reason". */
#include "tokenizer/tok_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "tokenizer/tok_bpe.h"
#include "tokenizer/tok_impl.h"
#include "tokenizer/tok_pretok.h"

#define MAX_JSON_BYTES ((size_t)1 << 30)

typedef struct jctx {
    ls_tokenizer *t;
    const char *path;
    ls_error *err;
} jctx;

static const char *type_of(const cJSON *o)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

/* An integer id in 0..INT32_MAX/2, else -1. */
static int json_id(const cJSON *v)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (d < 0 || d > INT32_MAX / 2 || d != floor(d))
        return -1;
    return (int)d;
}

/* A boolean field: absent or null gives def; another type is an error. */
static int json_bool(jctx *c, const cJSON *o, const char *key, const char *where, bool def,
                     bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return ls_fail(c->err, "%s: %s.%s: not a boolean", c->path, where, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* ---------------------------------------------------------------- vocabulary */

static bool is_byte_piece(const char *s)
{
    return strlen(s) == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>' &&
           strchr("0123456789ABCDEF", s[3]) && strchr("0123456789ABCDEF", s[4]);
}

static int vocab_size_needed(jctx *c, const cJSON *vocab, const cJSON *added, int *n)
{
    int max = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int id = json_id(e);
        if (id < 0)
            return ls_fail(c->err, "%s: model.vocab: \"%.60s\": not a valid id", c->path,
                           e->string);
        max = id > max ? id : max;
    }
    int i = 0;
    cJSON_ArrayForEach(e, added) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (id < 0 || !cJSON_IsString(content))
            return ls_fail(c->err, "%s: added_tokens[%d]: needs an integer id and a string "
                           "content", c->path, i);
        max = id > max ? id : max;
        i++;
    }
    if (max < 0)
        return ls_fail(c->err, "%s: model.vocab: empty", c->path);
    *n = max + 1;
    return 0;
}

static int read_vocab(jctx *c, const cJSON *model, const cJSON *added)
{
    ls_tokenizer *t = c->t;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab))
        return ls_fail(c->err, "%s: model.vocab: missing or not an object", c->path);
    int n = 0;
    if (vocab_size_needed(c, vocab, added, &n) != 0)
        return -1;
    if (tok_vocab_init(&t->vocab, n, c->err) != 0) {
        ls_error_prefix(c->err, c->path);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int id = json_id(e);
        if (tok_vocab_set(&t->vocab, id, e->string, strlen(e->string), c->err) != 0) {
            ls_error_prefix(c->err, c->path);
            return -1;
        }
        t->vocab.type[id] = is_byte_piece(e->string) ? TOK_T_BYTE : TOK_T_NORMAL;
    }
    cJSON_ArrayForEach(e, added) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const char *s = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        bool special;
        if (json_bool(c, e, "special", "added_tokens[]", false, &special) != 0)
            return -1;
        if (!t->vocab.piece[id] && tok_vocab_set(&t->vocab, id, s, strlen(s), c->err) != 0) {
            ls_error_prefix(c->err, c->path);
            return -1;
        }
        t->vocab.type[id] = special ? TOK_T_CONTROL : TOK_T_USER;
    }
    for (int id = 0; id < n; id++)
        if (!t->vocab.piece[id])
            t->vocab.type[id] = TOK_T_UNUSED; /* a hole in the id range */
    if (tok_vocab_index(&t->vocab, c->err) != 0) {
        ls_error_prefix(c->err, c->path);
        return -1;
    }
    return 0;
}

static int read_added(jctx *c, const cJSON *added)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const char *s = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        bool special, normalized;
        if (json_bool(c, e, "special", "added_tokens[]", false, &special) != 0 ||
            json_bool(c, e, "normalized", "added_tokens[]", !special, &normalized) != 0)
            return -1;
        if (tok_add_added(c->t, s, strlen(s), id, normalized, c->err) != 0)
            return -1;
    }
    return 0;
}

/* One merge: "a b" (split at the first space after the first byte) or ["a", "b"]. */
static int read_merge(jctx *c, const cJSON *m, int rank)
{
    char what[48];
    snprintf(what, sizeof what, "model.merges[%d]", rank);
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring;
        size_t n = strlen(s);
        const char *sp = n > 1 ? strchr(s + 1, ' ') : NULL;
        if (!sp)
            return ls_fail(c->err, "%s: %s: \"%.60s\" has no space between its two pieces",
                           c->path, what, s);
        return tok_bpe_add_merge(c->t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1,
                                 rank, what, c->err);
    }
    const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2 || !cJSON_IsString(a) ||
        !cJSON_IsString(b))
        return ls_fail(c->err, "%s: %s: neither a \"a b\" string nor a pair of strings",
                       c->path, what);
    return tok_bpe_add_merge(c->t, a->valuestring, strlen(a->valuestring), b->valuestring,
                             strlen(b->valuestring), rank, what, c->err);
}

static int read_model(jctx *c, const cJSON *root)
{
    ls_tokenizer *t = c->t;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model))
        return ls_fail(c->err, "%s: model: missing or not an object", c->path);
    const char *ty = type_of(model);
    if (ty && strcmp(ty, "BPE") != 0)
        return ls_fail(c->err, "%s: model.type: \"%.40s\" is not supported (BPE is)", c->path,
                       ty);
    const char *unsupported[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, unsupported[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && v->valuestring[0] == '\0'))
            return ls_fail(c->err, "%s: model.%s: not supported", c->path, unsupported[i]);
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) &&
        !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return ls_fail(c->err, "%s: model.dropout: BPE dropout is not supported", c->path);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return ls_fail(c->err, "%s: added_tokens: not an array", c->path);
    if (read_vocab(c, model, cJSON_IsArray(added) ? added : NULL) != 0)
        return -1;
    if (json_bool(c, model, "byte_fallback", "model", false, &t->byte_fallback) != 0 ||
        json_bool(c, model, "fuse_unk", "model", false, &t->fuse_unk) != 0 ||
        json_bool(c, model, "ignore_merges", "model", false, &t->ignore_merges) != 0)
        return -1;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        t->unk = ls_tokenizer_find(t, unk->valuestring);
        if (t->unk < 0)
            return ls_fail(c->err, "%s: model.unk_token: \"%.40s\" is not in the vocabulary",
                           c->path, unk->valuestring);
        t->vocab.type[t->unk] = TOK_T_UNKNOWN;
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (merges && !cJSON_IsNull(merges) && !cJSON_IsArray(merges))
        return ls_fail(c->err, "%s: model.merges: not an array", c->path);
    int nm = cJSON_GetArraySize(merges);
    if (tok_pairs_init(&t->pairs, (size_t)nm, c->err) != 0)
        return -1;
    int rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        if (read_merge(c, m, rank) != 0)
            return -1;
        rank++;
    }
    return cJSON_IsArray(added) ? read_added(c, added) : 0;
}

/* ---------------------------------------------------------------- normalizer */

static int read_normalizer(jctx *c, const cJSON *n, const char *where)
{
    if (!n || cJSON_IsNull(n))
        return 0;
    const char *ty = type_of(n);
    if (!ty)
        return ls_fail(c->err, "%s: %s.type: missing", c->path, where);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list))
            return ls_fail(c->err, "%s: %s.normalizers: missing or not an array", c->path, where);
        const cJSON *e;
        cJSON_ArrayForEach(e, list) if (read_normalizer(c, e, "normalizer.normalizers[]") != 0)
            return -1;
        return 0;
    }
    if (strcmp(ty, "Prepend") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "prepend");
        if (!cJSON_IsString(p))
            return ls_fail(c->err, "%s: %s.prepend: missing or not a string", c->path, where);
        return tok_add_norm(c->t, TOK_NORM_PREPEND, p->valuestring, NULL, c->err);
    }
    if (strcmp(ty, "Replace") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(n, "content");
        if (!cJSON_IsString(str) || str->valuestring[0] == '\0')
            return ls_fail(c->err, "%s: %s.pattern: only a non-empty {\"String\": ...} pattern "
                           "is supported", c->path, where);
        if (!cJSON_IsString(content))
            return ls_fail(c->err, "%s: %s.content: missing or not a string", c->path, where);
        return tok_add_norm(c->t, TOK_NORM_REPLACE, content->valuestring, str->valuestring,
                            c->err);
    }
    if (strcmp(ty, "NFC") == 0)
        return tok_add_norm(c->t, TOK_NORM_NFC, NULL, NULL, c->err);
    return ls_fail(c->err, "%s: %s.type: \"%.40s\" is not supported (Prepend, Replace, NFC and "
                   "Sequence are)", c->path, where, ty);
}

/* ---------------------------------------------------------------- pre-tokenizer */

static int read_metaspace(jctx *c, const cJSON *p, const char *where)
{
    ls_tokenizer *t = c->t;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "replacement");
    const char *repl = cJSON_IsString(r) ? r->valuestring : "\xE2\x96\x81";
    if (strlen(repl) == 0 || strlen(repl) >= sizeof t->ms_repl)
        return ls_fail(c->err, "%s: %s.replacement: must be one character", c->path, where);
    memcpy(t->ms_repl, repl, strlen(repl) + 1);
    t->ms_repl_len = strlen(repl);
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(p, "prepend_scheme");
    if (cJSON_IsString(scheme)) {
        const char *s = scheme->valuestring;
        if (strcmp(s, "always") == 0)
            t->ms_scheme = TOK_PREPEND_ALWAYS;
        else if (strcmp(s, "first") == 0)
            t->ms_scheme = TOK_PREPEND_FIRST;
        else if (strcmp(s, "never") == 0)
            t->ms_scheme = TOK_PREPEND_NEVER;
        else
            return ls_fail(c->err, "%s: %s.prepend_scheme: \"%.20s\" (always, first or never)",
                           c->path, where, s);
    } else { /* older files: add_prefix_space */
        bool add;
        if (json_bool(c, p, "add_prefix_space", where, true, &add) != 0)
            return -1;
        t->ms_scheme = add ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    }
    t->pretok = TOK_PRE_METASPACE;
    return json_bool(c, p, "split", where, true, &t->ms_split);
}

static int read_pretok(jctx *c, const cJSON *p, const char *where, bool *saw_split)
{
    ls_tokenizer *t = c->t;
    if (!p || cJSON_IsNull(p))
        return 0;
    const char *ty = type_of(p);
    if (!ty)
        return ls_fail(c->err, "%s: %s.type: missing", c->path, where);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (!cJSON_IsArray(list))
            return ls_fail(c->err, "%s: %s.pretokenizers: missing or not an array", c->path,
                           where);
        const cJSON *e;
        cJSON_ArrayForEach(e, list) if (read_pretok(c, e, "pre_tokenizer.pretokenizers[]",
                                                    saw_split) != 0)
            return -1;
        return 0;
    }
    if (t->pretok == TOK_PRE_METASPACE || t->pretok_byte_level)
        return ls_fail(c->err, "%s: %s: only Split followed by ByteLevel can be combined",
                       c->path, where);
    if (strcmp(ty, "Metaspace") == 0)
        return *saw_split ? ls_fail(c->err, "%s: %s: Metaspace after Split is not supported",
                                    c->path, where)
                          : read_metaspace(c, p, where);
    if (strcmp(ty, "Split") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        bool invert;
        if (json_bool(c, p, "invert", where, false, &invert) != 0)
            return -1;
        if (!cJSON_IsString(re))
            return ls_fail(c->err, "%s: %s.pattern: only {\"Regex\": ...} is supported", c->path,
                           where);
        int kind = ls_pretok_from_regex(re->valuestring);
        if (kind < 0)
            return ls_fail(c->err, "%s: %s.pattern.Regex: not one of the known GPT-2 / Llama-3 / "
                           "Qwen2 patterns: \"%.80s\"", c->path, where, re->valuestring);
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0 || invert)
            return ls_fail(c->err, "%s: %s.behavior: only \"Isolated\" without invert is "
                           "supported", c->path, where);
        if (*saw_split)
            return ls_fail(c->err, "%s: %s: two Split steps are not supported", c->path, where);
        *saw_split = true;
        t->pretok = (tok_pretok_kind)(TOK_PRE_GPT2 + kind);
        return 0;
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        bool prefix, use_regex;
        if (json_bool(c, p, "add_prefix_space", where, true, &prefix) != 0 ||
            json_bool(c, p, "use_regex", where, true, &use_regex) != 0)
            return -1;
        if (prefix)
            return ls_fail(c->err, "%s: %s.add_prefix_space: true is not supported", c->path,
                           where);
        if (use_regex) {
            if (*saw_split)
                return ls_fail(c->err, "%s: %s.use_regex: true after a Split is not supported",
                               c->path, where);
            t->pretok = TOK_PRE_GPT2;
        }
        t->pretok_byte_level = true;
        return 0;
    }
    return ls_fail(c->err, "%s: %s.type: \"%.40s\" is not supported (Metaspace, ByteLevel, "
                   "Split and Sequence are)", c->path, where, ty);
}

/* ---------------------------------------------------------------- BOS decision */

/* The special token a TemplateProcessing "single" template starts with: 1 with *id set, 0
 * when it starts with the sequence, -1 on error. */
static int template_bos(jctx *c, const cJSON *pp, int *id)
{
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *first = cJSON_GetArrayItem(single, 0);
    if (!cJSON_IsArray(single) || !first)
        return ls_fail(c->err, "%s: post_processor.single: missing or empty", c->path);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(first, "SpecialToken");
    if (!sp)
        return 0;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
    if (!cJSON_IsString(name))
        return ls_fail(c->err, "%s: post_processor.single[0].SpecialToken.id: not a string",
                       c->path);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pp, "special_tokens"), name->valuestring);
    int v = json_id(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "ids"), 0));
    if (v < 0)
        v = ls_tokenizer_find(c->t, name->valuestring);
    if (v < 0 || v >= c->t->vocab.n)
        return ls_fail(c->err, "%s: post_processor.special_tokens: no id for \"%.40s\"", c->path,
                       name->valuestring);
    *id = v;
    return 1;
}

/* 1: decided (*adds, *id when adding), 0: no decision, -1: error. */
static int post_processor_bos(jctx *c, const cJSON *pp, bool *adds, int *id)
{
    if (!pp || cJSON_IsNull(pp))
        return 0;
    const char *ty = type_of(pp);
    if (ty && strcmp(ty, "TemplateProcessing") == 0) {
        int rc = template_bos(c, pp, id);
        if (rc < 0)
            return -1;
        *adds = rc == 1;
        return 1;
    }
    if (ty && strcmp(ty, "Sequence") == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pp, "processors")) {
            int rc = post_processor_bos(c, e, adds, id);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (ty && strcmp(ty, "ByteLevel") == 0)
        return 0; /* offsets only: adds nothing */
    return ls_fail(c->err, "%s: post_processor.type: \"%.40s\" is not supported "
                   "(TemplateProcessing, ByteLevel and Sequence are)", c->path, ty ? ty : "?");
}

/* A token named in tokenizer_config.json: a string or {"content": ...}. */
static int config_token(const ls_tokenizer *t, const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? ls_tokenizer_find(t, v->valuestring) : -1;
}

static int first_found(const ls_tokenizer *t, const char *const *names)
{
    for (; *names; names++) {
        int id = ls_tokenizer_find(t, *names);
        if (id >= 0)
            return id;
    }
    return -1;
}

/* tokenizer_config.json beside tokenizer.json; NULL when absent or unreadable (optional). */
static cJSON *read_config(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *cfg_path = malloc(dir + sizeof "tokenizer_config.json");
    if (!cfg_path)
        return NULL;
    memcpy(cfg_path, path, dir);
    strcpy(cfg_path + dir, "tokenizer_config.json");
    ls_error e;
    size_t len;
    char *text = ls_read_text_file(cfg_path, (size_t)64 << 20, &len, &e);
    free(cfg_path);
    cJSON *cfg = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    return cfg;
}

static int decide_bos(jctx *c, const cJSON *root)
{
    ls_tokenizer *t = c->t;
    static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", NULL};
    static const char *const eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", NULL};
    bool adds = false;
    int id = -1;
    int rc = post_processor_bos(c, cJSON_GetObjectItemCaseSensitive(root, "post_processor"),
                                &adds, &id);
    if (rc < 0)
        return -1;
    cJSON *cfg = read_config(c->path);
    t->bos = config_token(t, cfg, "bos_token");
    t->eos = config_token(t, cfg, "eos_token");
    if (rc == 1) {
        t->adds_bos = adds;
        if (adds)
            t->bos = id;
        snprintf(t->bos_origin, sizeof t->bos_origin, "tokenizer.json post_processor");
    } else {
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        t->adds_bos = cJSON_IsTrue(ab);
        snprintf(t->bos_origin, sizeof t->bos_origin, "%s",
                 cJSON_IsBool(ab) ? "tokenizer_config.json add_bos_token"
                                  : "no post_processor template: no BOS");
    }
    cJSON_Delete(cfg);
    if (t->bos < 0 && (t->adds_bos || ls_tokenizer_find(t, "<s>") >= 0))
        t->bos = first_found(t, bos_names);
    if (t->eos < 0)
        t->eos = first_found(t, eos_names);
    if (t->adds_bos && t->bos < 0)
        return ls_fail(c->err, "%s: add_bos_token: BOS requested but no BOS token found",
                       c->path);
    return 0;
}

/* ---------------------------------------------------------------- entry */

static int read_all(jctx *c, const cJSON *root)
{
    ls_tokenizer *t = c->t;
    if (!cJSON_IsObject(root))
        return ls_fail(c->err, "%s: top level: not a JSON object", c->path);
    if (read_model(c, root) != 0 ||
        read_normalizer(c, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer") != 0)
        return -1;
    bool saw_split = false;
    if (read_pretok(c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer",
                    &saw_split) != 0)
        return -1;
    if (saw_split && !t->pretok_byte_level)
        return ls_fail(c->err, "%s: pre_tokenizer: Split without ByteLevel is not supported",
                       c->path);
    t->byte_level = t->pretok_byte_level;
    t->merge_by_score = false;
    if (t->byte_fallback)
        tok_find_byte_pieces(t);
    if (t->byte_level && tok_bpe_byte_chars(t, c->err) != 0)
        return -1;
    if (decide_bos(c, root) != 0)
        return -1;
    tok_finish(t);
    return 0;
}

int tok_json_open(const char *path, ls_tokenizer **out, ls_error *err)
{
    *out = NULL;
    size_t len;
    char *text = ls_read_text_file(path, MAX_JSON_BYTES, &len, err);
    if (!text)
        return -1;
    const char *at = NULL; /* where parsing stopped (not cJSON's global error pointer) */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &at, 0);
    if (!root) {
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        free(text);
        return ls_fail(err, "%s: JSON: syntax error near byte %ld", path, off);
    }
    free(text);
    ls_tokenizer *t = tok_new(path, err);
    jctx c = {t, path, err};
    int rc = t ? read_all(&c, root) : -1;
    cJSON_Delete(root);
    if (rc != 0) {
        ls_tokenizer_free(t);
        return -1;
    }
    t->source = TOK_SRC_HF;
    *out = t;
    return 0;
}
