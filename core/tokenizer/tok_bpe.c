/* Byte-level BPE (tok_bpe.h). */
#include "tokenizer/tok_bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool maps_to_itself(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t ls_bytelevel_cp(uint8_t b)
{
    if (maps_to_itself(b))
        return b;
    uint32_t k = 0; /* rank of b among the bytes that do not map to themselves */
    for (unsigned x = 0; x < b; x++)
        if (!maps_to_itself(x))
            k++;
    return 0x100 + k;
}

int ls_bytelevel_byte(uint32_t cp)
{
    if (cp < 0x100)
        return maps_to_itself(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68)
        return -1;
    uint32_t k = cp - 0x100;
    for (unsigned x = 0; x < 256; x++)
        if (!maps_to_itself(x) && k-- == 0)
            return (int)x;
    return -1;
}

int tok_bpe_add_merge(ls_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                      int32_t rank, const char *what, ls_error *err)
{
    int ia = tok_vocab_find(&t->vocab, a, alen);
    int ib = tok_vocab_find(&t->vocab, b, blen);
    char *cat = malloc(alen + blen + 1);
    if (!cat)
        return ls_fail(err, "%s: out of memory", t->path);
    memcpy(cat, a, alen);
    memcpy(cat + alen, b, blen);
    int im = tok_vocab_find(&t->vocab, cat, alen + blen);
    free(cat);
    if (ia < 0 || ib < 0 || im < 0)
        return ls_fail(err, "%s: %s: merge \"%.*s %.*s\": %s is not in the vocabulary", t->path,
                       what, (int)(alen < 60 ? alen : 60), a, (int)(blen < 60 ? blen : 60), b,
                       ia < 0 ? "its left side" : ib < 0 ? "its right side" : "the merged piece");
    tok_pairs_add(&t->pairs, ia, ib, rank, im);
    return 0;
}

int tok_bpe_byte_chars(ls_tokenizer *t, ls_error *err)
{
    for (int b = 0; b < 256; b++) {
        char buf[4];
        int k = tok_utf8_encode(ls_bytelevel_cp((uint8_t)b), buf);
        t->byte_char_id[b] = tok_vocab_find(&t->vocab, buf, (size_t)k);
        if (t->byte_char_id[b] < 0 && t->unk < 0)
            return ls_fail(err, "%s: vocabulary: no piece for byte 0x%02X (U+%04X) and no unk "
                           "token: not a byte-level vocabulary", t->path, b,
                           ls_bytelevel_cp((uint8_t)b));
    }
    return 0;
}

static int gguf_merges(ls_tokenizer *t, const ls_gguf *g, ls_error *err)
{
    ls_gguf_array arr;
    int rc = ls_gguf_get_array(g, "tokenizer.ggml.merges", &arr, err);
    if (rc < 0)
        return -1;
    if (rc == 0 || arr.type != LS_GGUF_STRING)
        return ls_fail(err, "%s: tokenizer.ggml.merges: %s (needed by a gpt2 vocabulary)",
                       t->path, rc == 0 ? "missing" : "not a string array");
    if (tok_pairs_init(&t->pairs, (size_t)arr.count, err) != 0)
        return -1;
    const uint8_t *p = arr.data;
    for (uint64_t i = 0; i < arr.count; i++) {
        ls_gguf_str s;
        p = ls_gguf_str_next(p, &s);
        /* llama.cpp: split at the first space after the first byte */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            return ls_fail(err, "%s: tokenizer.ggml.merges: entry %llu has no space",
                           t->path, (unsigned long long)i);
        size_t alen = (size_t)(sp - s.ptr);
        if (tok_bpe_add_merge(t, s.ptr, alen, sp + 1, s.len - alen - 1, (int32_t)i,
                              "tokenizer.ggml.merges", err) != 0)
            return -1;
    }
    return 0;
}

int tok_bpe_setup_gguf(ls_tokenizer *t, const ls_gguf *g, bool *bos_default, ls_error *err)
{
    ls_gguf_str pre = {"default", 7};
    if (ls_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err) < 0)
        return -1;
    *bos_default = false;
    if (ls_gguf_str_eq(pre, "gpt-2") || ls_gguf_str_eq(pre, "gpt2")) {
        t->pretok = TOK_PRE_GPT2;
    } else if (ls_gguf_str_eq(pre, "llama-bpe") || ls_gguf_str_eq(pre, "llama3")) {
        t->pretok = TOK_PRE_LLAMA3;
        t->ignore_merges = true; /* llama.cpp does so for llama-bpe (docs/formats.md §4.4) */
        *bos_default = true;
    } else if (ls_gguf_str_eq(pre, "qwen2")) {
        t->pretok = TOK_PRE_QWEN2;
    } else {
        return ls_fail(err, "%s: tokenizer.ggml.pre: \"%.*s\" is not supported (gpt-2, "
                       "llama-bpe and qwen2 are)", t->path, (int)(pre.len < 60 ? pre.len : 60),
                       pre.ptr);
    }
    t->byte_level = true;
    t->pretok_byte_level = true;
    t->merge_by_score = false;
    if (gguf_merges(t, g, err) != 0)
        return -1;
    return tok_bpe_byte_chars(t, err);
}
