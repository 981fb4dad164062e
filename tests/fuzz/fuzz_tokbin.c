/* libFuzzer target: a llama.c tokenizer (tok*.bin: max_token_length, then per token a float
 * score, an int32 length and the bytes) read for a 32- and a 512-token vocabulary, then used
 * to encode a fixed text. */
#include "fuzz_common.h"
#include "tokenizer/tok_spm.h"
#include "tokenizer/tokenizer.h"

static const char sample_text[] = "Once upon a time, a l\xc3\xa4ttle cat sat.\n  Tom said: \"hi\" 42";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfile(data, size);
    if (!path)
        return 0;
    static const int vocab[] = {32, 512};
    for (int v = 0; v < 2; v++) {
        ls_error err;
        ls_tokenizer *t = tok_spm_read_llama2c(path, vocab[v], &err);
        if (!t)
            continue;
        int32_t *ids = NULL;
        size_t n = 0;
        if (ls_tokenizer_encode(t, sample_text, sizeof sample_text - 1, true, &ids, &n,
                                &err) == 0) {
            volatile size_t sink = 0;
            for (size_t i = 0; i < n; i++)
                sink += strlen(ls_tokenizer_piece(t, ids[i]));
            (void)sink;
        }
        free(ids);
        ls_tokenizer_free(t);
    }
    return 0;
}
