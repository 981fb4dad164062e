/* Sessions in the explorer: s saves the exploration (model path and fingerprint, settings,
 * manual set, measured metrics, quantization and perplexity results) as one JSON file; O
 * loads one, with the same rules as --session in batch mode (core/io/session.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "nn/matmul_bf16.h"
#include "io/result_json.h"

/* The results block: the quantization totals (when the qmodel is at hand) and the last
 * perplexity comparison. */
static cJSON *results_json(app *a)
{
    cJSON *res = cJSON_CreateObject();
    if (!res)
        return NULL;
    if (a->qm && !a->qm_busy && a->q_known && a->an_ok) {
        cJSON *doc = ls_result_json(a->profile, a->an);
        if (doc) {
            ls_result_json_add_quantization(doc, a->qm);
            cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "quantization");
            if (q)
                cJSON_AddItemToObject(res, "quantization", cJSON_Duplicate(q, 1));
            cJSON_Delete(doc);
        }
    }
    if (a->ppl_known) {
        cJSON *p = cJSON_AddObjectToObject(res, "perplexity");
        cJSON_AddStringToObject(p, "text", a->ppl_text);
        cJSON_AddItemToObject(p, "fp", ls_json_exact_number(a->ppl_fp));
        cJSON_AddItemToObject(p, "base", ls_json_exact_number(a->ppl_base));
        cJSON_AddItemToObject(p, "current", ls_json_exact_number(a->ppl_cur));
        cJSON_AddItemToObject(p, "delta_pct", ls_json_exact_number(a->ppl_delta_pct));
        cJSON_AddItemToObject(p, "extra_memory_pct", ls_json_exact_number(a->ppl_mem_pct));
        cJSON_AddStringToObject(p, "compute", ls_compute_name((ls_compute)a->ppl_compute));
    }
    return res;
}

void app_save_session(app *a, const char *path)
{
    if (!a->profile) {
        app_msg(a, true, "nothing open to save");
        return;
    }
    cJSON *res = results_json(a);
    ls_error err;
    const unsigned char *manual = a->has_manual ? a->manual : NULL;
    if (ls_session_save(path, a->profile, a->model, &a->settings, manual, res, &err) < 0)
        app_msg(a, true, "session not saved: %s", err.msg);
    else
        app_msg(a, false, "session saved to %s (O loads it; --session %s resumes it)", path,
                path);
    cJSON_Delete(res);
}

void app_load_session(app *a, const char *path)
{
    ls_session s;
    memset(&s, 0, sizeof s);
    ls_error err;
    if (ls_session_load(path, &s, &err) < 0) {
        app_msg(a, true, "session not loaded: %s", err.msg);
        return;
    }
    a->msg[0] = '\0'; /* so an error after the open is the open's own (the warning) */
    a->msg_error = false;
    if (app_open_session(a, s.model_path, &s, false, &err) < 0) {
        app_msg(a, true, "session %s: cannot open its model: %s", path, err.msg);
    } else if (!a->msg_error) { /* the changed-model warning stays visible */
        app_msg(a, false, "session %s loaded: %s, %s%s", path, s.model_path,
                ls_method_name(a->settings.method), a->has_manual ? ", manual set" : "");
    }
    ls_session_free(&s);
}
