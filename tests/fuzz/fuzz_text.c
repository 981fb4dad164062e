/* libFuzzer target: the text reader of --eval and --calib (regular file, size limit, empty
 * file, UTF-8 check), the WikiText HF-rows rebuild, and tokenization with a tiny model's
 * SentencePiece vocabulary, as the perplexity and calibration paths use them. */
#include "eval/ppl_text.h"
#include "fuzz_common.h"
#include "fuzz_tiny.h"
#include "tokenizer/tokenizer.h"

static ls_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok) {
        static char dir[] = "/tmp/ls-fuzz-text-XXXXXX";
        ls_model *m = mkdtemp(dir) ? fuzz_tiny_setup(dir) : NULL;
        ls_error e;
        if (!m || ls_tokenizer_for_model(m, NULL, &tok, &e) != 0)
            abort();
        ls_model_free(m);
        ls_text_set_max_mib(1); /* inputs above 1 MiB exercise the limit */
    }
    const char *path = fuzz_memfile(data, size);
    if (!path)
        return 0;
    char *text = NULL;
    size_t len = 0;
    ls_error err;
    if (ls_text_read(path, &text, &len, &err) != 0)
        return 0;
    size_t rows_len = 0, n_rows = 0;
    char *rows = ls_wikitext_hf_rows(text, len, &rows_len, &n_rows);
    const char *texts[2] = {text, rows};
    size_t lens[2] = {len, rows_len};
    for (int k = 0; k < 2; k++) {
        if (!texts[k])
            continue;
        int32_t *ids = NULL;
        size_t n = 0;
        if (ls_tokenizer_encode(tok, texts[k], lens[k], true, &ids, &n, &err) == 0) {
            volatile int sink = 0;
            for (size_t i = 0; i < n; i++)
                sink += ids[i];
            (void)sink;
        }
        free(ids);
    }
    free(rows);
    free(text);
    return 0;
}
