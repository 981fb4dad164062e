/* libFuzzer target: a llama.c tokenizer (tok*.bin: max_token_length, then per token a float
 * score, an int32 length and the bytes) read for a 32- and a 512-token vocabulary, then used
 * to encode a fixed text. */
#include "fuzz_common.h"
#include "fuzz_tokenize.h"
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
        fuzz_encode_text(t, sample_text, sizeof sample_text - 1);
        ls_tokenizer_free(t);
    }
    return 0;
}
