/* A tiny model (dim 16, 2 layers, 4 heads / 2 KV, vocab 32, SentencePiece vocabulary in the
 * GGUF) written by the project's model writer, its quantized save and a session of it:
 * shared by the fuzz targets that need a model and by make_seeds (their seeds). */
#ifndef LS_FUZZ_TINY_H
#define LS_FUZZ_TINY_H

#include <stdio.h>
#include <stdlib.h>

#include "formats/model.h"
#include "io/session.h"
#include "method/analysis.h"
#include "method/kurtosis.h"
#include "method/profile.h"
#include "model_writer.h"
#include "quant/qmodel.h"
#include "io/qmodel_io.h"

static inline ls_synth_spec fuzz_tiny_spec(void)
{
    ls_synth_spec s;
    ls_error e;
    ls_synth_preset("tiny", &s, &e);
    s.cfg.dim = 16, s.cfg.hidden_dim = 24, s.cfg.n_layers = 2, s.cfg.n_heads = 4;
    s.cfg.n_kv_heads = 2, s.cfg.head_dim = 4, s.cfg.vocab_size = 32, s.cfg.context = 64;
    s.seed = 7;
    s.gguf_tokenizer = true;
    return s;
}

/* Writes DIR/m.gguf, opens it, and saves its quantized form as DIR/q (quant.json ...) and a
 * session as DIR/session.json. Returns the open model or NULL. */
static inline ls_model *fuzz_tiny_setup(const char *dir)
{
    char path[1024], q[1024], sess[1024];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    snprintf(q, sizeof q, "%s/q", dir);
    snprintf(sess, sizeof sess, "%s/session.json", dir);
    ls_synth_spec s = fuzz_tiny_spec();
    ls_error e;
    ls_model *m = NULL;
    if (ls_write_gguf(path, &s, &e) != 0 || ls_model_open(path, NULL, &m, &e) != 0) {
        fprintf(stderr, "fuzz_tiny: %s\n", e.msg);
        return NULL;
    }
    ls_profile *p = ls_profile_from_model(m, &e);
    ls_analysis *a = malloc(sizeof *a);
    ls_settings st = ls_settings_default();
    ls_qmodel *qm = NULL;
    int rc = p && a && ls_kurtosis_model(m, 1, NULL, p, &e) == 0 &&
                     ls_analyze(p, &st, NULL, a, &e) == 0
                 ? 0
                 : -1;
    if (rc == 0) {
        qm = ls_qmodel_new(m->cfg.n_layers, true, &e);
        rc = qm && ls_qmodel_quantize(qm, m, a->cfg, 1, NULL, &e) == 0 &&
                     ls_qmodel_save(q, qm, m, p, a, &e) == 0 &&
                     ls_session_save(sess, p, m, &st, NULL, NULL, &e) == 0
                 ? 0
                 : -1;
    }
    if (rc != 0) {
        fprintf(stderr, "fuzz_tiny: %s\n", e.msg);
        ls_model_free(m);
        m = NULL;
    }
    ls_qmodel_free(qm);
    free(a);
    ls_profile_free(p);
    return m;
}

#endif
