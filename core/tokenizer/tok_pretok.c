/* Pre-tokenizer scanners (tok_pretok.h). Each function tries the alternatives of its
 * pattern in order, as the regex engine would, and returns where the first that matches at
 * position i ends. */
#include "tokenizer/tok_pretok.h"

#include <stdbool.h>
#include <string.h>

#include "tokenizer/unicode_tables.h"

static const char *const regexes[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

static unsigned fl(const uint32_t *cp, size_t n, size_t i)
{
    return i < n ? ls_unicode_flags(cp[i]) : 0;
}

static bool is_ws(const uint32_t *cp, size_t n, size_t i)
{
    return i < n && (ls_unicode_flags(cp[i]) & LS_UC_WS);
}

/* [^\s\p{L}\p{N}]: any code point that is neither whitespace, letter nor number. */
static bool is_other(const uint32_t *cp, size_t n, size_t i)
{
    return i < n && !(ls_unicode_flags(cp[i]) & (LS_UC_WS | LS_UC_L | LS_UC_N));
}

static bool is_nl(const uint32_t *cp, size_t n, size_t i)
{
    return i < n && (cp[i] == '\r' || cp[i] == '\n');
}

static uint32_t ascii_lower(uint32_t c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's 't 're 've 'm 'll 'd at i: the end of the match, or i. */
static size_t contraction(const uint32_t *cp, size_t n, size_t i, bool fold)
{
    if (cp[i] != '\'' || i + 1 >= n)
        return i;
    uint32_t a = fold ? ascii_lower(cp[i + 1]) : cp[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return i + 2;
    if (i + 2 >= n)
        return i;
    uint32_t b = fold ? ascii_lower(cp[i + 2]) : cp[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return i + 3;
    return i;
}

/* \s+(?!\S)|\s+ at i (cp[i] is whitespace): a run followed by a non-space gives its last
 * code point to the next pre-token, unless the run is a single code point. */
static size_t ws_run(const uint32_t *cp, size_t n, size_t i)
{
    size_t k = i;
    while (is_ws(cp, n, k))
        k++;
    if (k < n && k - i > 1)
        return k - 1;
    return k;
}

static size_t gpt2_at(const uint32_t *cp, size_t n, size_t i)
{
    size_t j = contraction(cp, n, i, false);
    if (j > i)
        return j;
    j = i + (cp[i] == ' ' ? 1 : 0); /* the optional space of the next three */
    unsigned f = fl(cp, n, j);
    if (j < n && (f & LS_UC_L)) { /* ?\p{L}+ */
        while (fl(cp, n, j) & LS_UC_L)
            j++;
        return j;
    }
    if (j < n && (f & LS_UC_N)) { /* ?\p{N}+ */
        while (fl(cp, n, j) & LS_UC_N)
            j++;
        return j;
    }
    if (is_other(cp, n, j)) { /* ?[^\s\p{L}\p{N}]+ */
        while (is_other(cp, n, j))
            j++;
        return j;
    }
    if (is_ws(cp, n, i))
        return ws_run(cp, n, i);
    return i + 1; /* not reached: every code point falls in one class above */
}

static size_t llama3_at(const uint32_t *cp, size_t n, size_t i, size_t max_digits)
{
    size_t j = contraction(cp, n, i, true);
    if (j > i)
        return j;
    unsigned f0 = fl(cp, n, i);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (!is_nl(cp, n, i) && !(f0 & LS_UC_N) && ((f0 & LS_UC_L) || (fl(cp, n, i + 1) & LS_UC_L))) {
        j = i + 1;
        while (fl(cp, n, j) & LS_UC_L)
            j++;
        return j;
    }
    if (f0 & LS_UC_N) { /* \p{N}{1,max_digits} */
        j = i + 1;
        while (j - i < max_digits && (fl(cp, n, j) & LS_UC_N))
            j++;
        return j;
    }
    j = i + (cp[i] == ' ' ? 1 : 0); /* ?[^\s\p{L}\p{N}]+[\r\n]* */
    if (is_other(cp, n, j)) {
        while (is_other(cp, n, j))
            j++;
        while (is_nl(cp, n, j))
            j++;
        return j;
    }
    /* \s*[\r\n]+: the whitespace run up to and including its last newline */
    size_t k = i, last_nl = n;
    while (is_ws(cp, n, k)) {
        if (is_nl(cp, n, k))
            last_nl = k;
        k++;
    }
    if (last_nl < n)
        return last_nl + 1;
    if (k > i)
        return ws_run(cp, n, i);
    return i + 1;
}

size_t ls_pretok_match(ls_pretok_kind kind, const uint32_t *cp, size_t n, size_t i)
{
    if (i >= n)
        return n;
    switch (kind) {
    case LS_PRETOK_GPT2: return gpt2_at(cp, n, i);
    case LS_PRETOK_LLAMA3: return llama3_at(cp, n, i, 3);
    case LS_PRETOK_QWEN2: return llama3_at(cp, n, i, 1);
    }
    return i + 1;
}

int ls_pretok_from_regex(const char *regex)
{
    for (int k = 0; k < 3; k++)
        if (strcmp(regex, regexes[k]) == 0)
            return k;
    return -1;
}

const char *ls_pretok_regex(ls_pretok_kind kind)
{
    return (unsigned)kind < 3 ? regexes[kind] : "";
}

const char *ls_pretok_name(ls_pretok_kind kind)
{
    static const char *const names[] = {"gpt2", "llama3", "qwen2"};
    return (unsigned)kind < 3 ? names[kind] : "?";
}
