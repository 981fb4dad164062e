/* Shared by the tokenizer fuzz targets: encode a fixed text with a tokenizer the input built
 * and look up the piece of every id it produced (so ASan sees any id outside the vocabulary). */
#ifndef LS_FUZZ_TOKENIZE_H
#define LS_FUZZ_TOKENIZE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static inline void fuzz_encode_text(ls_tokenizer *t, const char *text, size_t len)
{
    ls_error err;
    int32_t *ids = NULL;
    size_t n = 0;
    if (ls_tokenizer_encode(t, text, len, true, &ids, &n, &err) == 0) {
        volatile size_t sink = 0;
        for (size_t i = 0; i < n; i++)
            sink += strlen(ls_tokenizer_piece(t, ids[i]));
        (void)sink;
    }
    free(ids);
}

#endif
