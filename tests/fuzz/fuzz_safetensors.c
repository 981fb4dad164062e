/* libFuzzer target: the safetensors header parser, then the HF loader on a directory holding
 * the input as model.safetensors next to a fixed tiny config.json. */
#include "fuzz_common.h"
#include "formats/safetensors.h"

#include <sys/stat.h>

/* Matches the seed corpus written by make_seeds.c (dim 16, 2 layers, 4/2 heads, vocab 32). */
static const char *const config_json =
    "{\"model_type\":\"llama\",\"hidden_size\":16,\"intermediate_size\":24,"
    "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"vocab_size\":32,\"rms_norm_eps\":1e-5}";

static char dir[64];

static void remove_scratch(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

static const char *scratch_dir(void)
{
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "/tmp/ls-fuzz-st-XXXXXX");
    if (!mkdtemp(dir))
        return NULL;
    atexit(remove_scratch);
    char p[128];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "wb");
    if (!f)
        return NULL;
    fputs(config_json, f);
    fclose(f);
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ls_st_file st;
    ls_error err;
    if (ls_st_parse("fuzz.safetensors", data, size, &st, &err) != 0)
        return 0;
    for (int i = 0; i < st.n_tensors; i++) /* every accepted range lies inside the input */
        if (st.tensors[i].end > st.tensors[i].begin)
            (void)*(volatile const uint8_t *)(st.tensors[i].data + (st.tensors[i].end -
                                                                   st.tensors[i].begin - 1));
    ls_st_free(&st);
    const char *scratch = scratch_dir();
    if (!scratch)
        return 0;
    char p[128];
    snprintf(p, sizeof p, "%s/model.safetensors", scratch);
    FILE *f = fopen(p, "wb");
    if (!f)
        return 0;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w == size)
        fuzz_open_model(scratch);
    return 0;
}
