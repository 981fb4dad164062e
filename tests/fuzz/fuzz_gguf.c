/* libFuzzer target: the GGUF reader, the metadata lookup API, the llama/qwen2 config mapping
 * and the model binding. */
#include "fuzz_common.h"
#include "formats/gguf.h"

static void walk_arrays(const ls_gguf *g)
{
    volatile double sink = 0;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const ls_gguf_kv *kv = &g->kv[i];
        if (kv->type != LS_GGUF_ARRAY)
            continue;
        const ls_gguf_array *a = &kv->v.a;
        if (a->type == LS_GGUF_STRING) {
            const uint8_t *p = a->data;
            for (uint64_t k = 0; k < a->count; k++) {
                ls_gguf_str s;
                p = ls_gguf_str_next(p, &s);
                if (s.len)
                    sink += (uint8_t)s.ptr[s.len - 1];
            }
        } else if (a->count > 0) {
            sink += (double)ls_gguf_array_int(a, a->count - 1);
            sink += ls_gguf_array_float(a, 0);
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ls_gguf *g = NULL;
    ls_error err;
    if (ls_gguf_parse("fuzz.gguf", data, size, &g, &err) != 0)
        return 0;
    walk_arrays(g);
    ls_config cfg;
    ls_gguf_config(g, &cfg, &err);
    ls_gguf_str s;
    int64_t v;
    double d;
    bool b;
    ls_gguf_get_str(g, "tokenizer.ggml.model", &s, &err);
    ls_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v, &err);
    ls_gguf_get_float(g, "llama.rope.freq_base", &d, &err);
    ls_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &err);
    ls_gguf_free(g);
    fuzz_open_model(fuzz_memfile(data, size));
    return 0;
}
