/* libFuzzer target: the llama2.c header parser (v0 and v1), the tensor table, and the model
 * binding when the size check passes. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "formats/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ls_l2c_header h;
    ls_error err;
    if (ls_l2c_parse_header("fuzz.bin", data, size, &h, &err) != 0)
        return 0;
    ls_tensor *t = NULL;
    int n = 0;
    ls_config cfg;
    if (ls_l2c_tensors("fuzz.bin", &h, data, &t, &n, &cfg, &err) == 0) {
        volatile float sink = 0;
        for (int i = 0; i < n; i++) /* last element of every tensor lies inside the input */
            if (t[i].n_elems > 0)
                sink += ls_tensor_get(&t[i], t[i].n_elems - 1);
        (void)sink;
        free(t);
    }
    /* a buffer that is not a GGUF reaches the llama2.c loader through ls_model_open */
    if (!(size >= 4 && memcmp(data, "GGUF", 4) == 0))
        fuzz_open_model(fuzz_memfile(data, size));
    return 0;
}
