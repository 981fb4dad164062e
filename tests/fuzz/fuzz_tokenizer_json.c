/* libFuzzer target: a Hugging Face tokenizer.json (BPE or SentencePiece-style), opened from a
 * file, then used to encode a fixed multilingual text and to look up every piece. */
#include "fuzz_common.h"
#include "fuzz_tokenize.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

static const char sample_text[] = "Hello w\xc3\xb6rld, 123 \xe2\x98\x83 tabs\tand\nnew lines  "
                                  "don't  \xe4\xb8\xad\xe6\x96\x87 <s> </s> <unk>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfile(data, size);
    if (!path)
        return 0;
    ls_tokenizer *t = NULL;
    ls_error err;
    if (tok_json_open(path, &t, &err) == 0) {
        fuzz_encode_text(t, sample_text, sizeof sample_text - 1);
        volatile size_t sink = 0;
        for (int i = -1; i <= ls_tokenizer_vocab_size(t); i++)
            sink += strlen(ls_tokenizer_piece(t, i));
        (void)sink;
        ls_tokenizer_free(t);
    }
    return 0;
}
