/* libFuzzer target: config.json (§2) and model.safetensors.index.json (§3.2) parsing. */
#include "fuzz_common.h"
#include "formats/hfconfig.h"
#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ls_config cfg;
    ls_error err;
    char warn[256];
    warn[0] = '\0';
    ls_hf_config_parse("config.json", (const char *)data, size, &cfg, warn, sizeof warn, &err);
    ls_st_index ix;
    if (ls_st_index_parse("model.safetensors.index.json", (const char *)data, size, &ix,
                          &err) == 0)
        ls_st_index_free(&ix);
    return 0;
}
