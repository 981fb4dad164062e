/* libFuzzer target: quant.json of a --save-quantized directory, loaded against a tiny model
 * whose quantized save (qmodel.safetensors) stays in place: every header field, module key
 * and per-module field of the input goes through ls_qmodel_load. */
#include <fcntl.h>

#include "fuzz_common.h"
#include "fuzz_tiny.h"

static ls_model *model;
static char qdir[512];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        static char dir[] = "/tmp/ls-fuzz-quant-XXXXXX";
        if (!mkdtemp(dir) || !(model = fuzz_tiny_setup(dir)))
            abort(); /* the set-up itself must work */
        snprintf(qdir, sizeof qdir, "%s/q", dir);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/quant.json", qdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 0;
    int ok = size == 0 || write(fd, data, size) == (ssize_t)size;
    close(fd);
    if (!ok)
        return 0;
    ls_qmodel *qm = NULL;
    ls_error err;
    if (ls_qmodel_load(qdir, model, &qm, &err) == 0) {
        volatile float sink = 0; /* dequantize every module: sizes must hold */
        for (int i = 0; i < qm->n_layers * LS_N_MODULES; i++) {
            const ls_hqq_result *r = &qm->mods[i].q;
            if (qm->mods[i].stop < 0)
                continue;
            float *w = malloc((size_t)(r->rows * r->cols) * sizeof *w);
            if (w) {
                ls_hqq_dequantize(r, w);
                sink += w[r->rows * r->cols - 1];
                free(w);
            }
        }
        (void)sink;
        ls_qmodel_free(qm);
    }
    return 0;
}
