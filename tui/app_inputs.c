/* The job inputs (I): the texts and evaluation settings P, S, M and F run on. They start
 * from the command line (--eval, --calib, --ppl-protocol, --ctx, --compute) or the bundled
 * sample texts, and are checked when set: a bad value leaves the old one in place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "io/samples.h"

static const char *const field_names[APP_INPUT_COUNT] = {
    [APP_INPUT_EVAL] = "evaluation text",
    [APP_INPUT_CALIB] = "calibration text",
    [APP_INPUT_PROTOCOL] = "protocol",
    [APP_INPUT_CTX] = "ctx",
    [APP_INPUT_COMPUTE] = "compute",
};

static const char *const field_users[APP_INPUT_COUNT] = {
    [APP_INPUT_EVAL] = "P, M, F",
    [APP_INPUT_CALIB] = "S",
    [APP_INPUT_PROTOCOL] = "P, F",
    [APP_INPUT_CTX] = "P, M, F",
    [APP_INPUT_COMPUTE] = "P, S, M, F",
};

const char *app_input_name(int field)
{
    return field >= 0 && field < APP_INPUT_COUNT ? field_names[field] : "?";
}

const char *app_input_users(int field)
{
    return field >= 0 && field < APP_INPUT_COUNT ? field_users[field] : "";
}

/* The option's text, else the sample's when it is there, else "" (the job asks). */
static void default_text(const char *given, const char *sample, char *buf, size_t cap)
{
    if (given) {
        snprintf(buf, cap, "%s", given);
        return;
    }
    buf[0] = '\0';
    if (ls_sample_exists(sample))
        ls_sample_path(sample, buf, cap);
}

void app_inputs_init(app *a)
{
    const ls_options *o = a->opts;
    app_inputs *in = &a->inputs;
    default_text(o->eval_path, LS_SAMPLE_EVAL_TEXT, in->eval, sizeof in->eval);
    default_text(o->calib_path, LS_SAMPLE_CALIB_TEXT, in->calib, sizeof in->calib);
    in->protocol = o->ppl_protocol;
    in->ctx = o->ctx;
    in->compute = o->compute;
}

int app_input_check_text(const char *path, char *why, size_t cap)
{
    struct stat st;
    const char *reason = NULL;
    FILE *f = NULL;
    if (!path[0])
        reason = "no file named";
    else if (stat(path, &st) != 0)
        reason = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        reason = "not a regular file";
    else if (!(f = fopen(path, "r")))
        reason = strerror(errno);
    if (f)
        fclose(f);
    if (reason)
        snprintf(why, cap, "%s", reason);
    return reason ? -1 : 0;
}

/* path, or ".../its/end" in at most keep columns (whole trailing components when they fit). */
static void short_path(const char *path, int keep, char *buf, size_t cap)
{
    size_t n = strlen(path);
    if (n <= (size_t)keep) {
        snprintf(buf, cap, "%s", path);
        return;
    }
    const char *tail = path + n;
    for (const char *p = path + n; p > path; p--)
        if (p[-1] == '/' && (size_t)(path + n - p) + 4 <= (size_t)keep)
            tail = p;
    if (tail == path + n) /* one long name: its end */
        tail = path + n - (keep - 4);
    snprintf(buf, cap, ".../%s", tail);
}

void app_input_refused(app *a, int field, const char *path, const char *why, const char *after)
{
    /* one status line: the input, the file, the reason and what happens all stay in view */
    int cols = a->layout.cols > 0 ? a->layout.cols : 80;
    int keep = cols - 6 - wg_text_width(app_input_name(field)) - wg_text_width(why) -
               wg_text_width(after);
    char shown[1100];
    short_path(path, keep < 16 ? 16 : keep, shown, sizeof shown);
    app_msg(a, true, "%s %s: %s %s", app_input_name(field), shown, why, after);
}

void app_input_value(const app *a, int field, char *buf, size_t cap)
{
    const app_inputs *in = &a->inputs;
    switch (field) {
    case APP_INPUT_EVAL: snprintf(buf, cap, "%s", in->eval[0] ? in->eval : "(none: P asks)"); break;
    case APP_INPUT_CALIB: snprintf(buf, cap, "%s", in->calib[0] ? in->calib : "(none: S asks)"); break;
    case APP_INPUT_PROTOCOL:
        snprintf(buf, cap, "%s", ls_ppl_protocol_name((ls_ppl_protocol)in->protocol));
        break;
    case APP_INPUT_CTX:
        if (in->ctx > 0)
            snprintf(buf, cap, "%d", in->ctx);
        else
            snprintf(buf, cap, "default (%s)", in->protocol == LS_PPL_LLAMACPP
                                                   ? "512"
                                                   : "1024, clamped to the model's context");
        break;
    case APP_INPUT_COMPUTE: snprintf(buf, cap, "%s", ls_compute_name((ls_compute)in->compute)); break;
    default: buf[0] = '\0';
    }
}

/* The text a prompt starts with when the field is edited. */
static void edit_default(const app *a, int field, char *buf, size_t cap)
{
    const app_inputs *in = &a->inputs;
    if (field == APP_INPUT_EVAL)
        snprintf(buf, cap, "%s", in->eval);
    else if (field == APP_INPUT_CALIB)
        snprintf(buf, cap, "%s", in->calib);
    else if (field == APP_INPUT_CTX && in->ctx > 0)
        snprintf(buf, cap, "%d", in->ctx);
    else if (field == APP_INPUT_PROTOCOL || field == APP_INPUT_COMPUTE)
        app_input_value(a, field, buf, cap);
    else
        buf[0] = '\0';
}

void app_input_edit(app *a, int field)
{
    char title[96], def[1100];
    snprintf(title, sizeof title, "%s (%s)%s", app_input_name(field), app_input_users(field),
             field == APP_INPUT_CTX ? ": tokens, or 0 for the protocol's default"
             : field == APP_INPUT_PROTOCOL ? ": paper or llama.cpp"
             : field == APP_INPUT_COMPUTE  ? ": f32 or bf16"
                                           : "");
    edit_default(a, field, def, sizeof def);
    a->inputs_sel = field;
    wg_prompt_open(&a->prompt, PROMPT_INPUT, title, def);
}

static void changed(app *a, int field)
{
    a->inputs_gen++;
    char v[1100];
    app_input_value(a, field, v, sizeof v);
    app_msg(a, false, "%s for %s: %s", app_input_name(field), app_input_users(field), v);
}

bool app_input_set(app *a, int field, const char *text)
{
    app_inputs *in = &a->inputs;
    char why[256];
    const char *name = app_input_name(field);
    switch (field) {
    case APP_INPUT_EVAL:
    case APP_INPUT_CALIB: {
        char *dst = field == APP_INPUT_EVAL ? in->eval : in->calib;
        if (strlen(text) >= sizeof in->eval) {
            app_msg(a, true, "%s: the path is too long (unchanged)", name);
            return false;
        }
        if (app_input_check_text(text, why, sizeof why) < 0) {
            app_input_refused(a, field, text, why, "(unchanged)");
            return false;
        }
        snprintf(dst, sizeof in->eval, "%s", text);
        break;
    }
    case APP_INPUT_PROTOCOL: {
        int p = ls_ppl_protocol_parse(text);
        if (p < 0) {
            app_msg(a, true, "protocol \"%s\": not paper or llama.cpp (unchanged)", text);
            return false;
        }
        in->protocol = p;
        break;
    }
    case APP_INPUT_CTX: {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        while (*end == ' ')
            end++;
        if (end == text || *end || errno || (v != 0 && (v < 2 || v > (1L << 20)))) {
            app_msg(a, true, "ctx \"%s\": not 0 (the default) or a token count 2 .. %ld "
                             "(unchanged)", text, 1L << 20);
            return false;
        }
        in->ctx = (int)v;
        break;
    }
    case APP_INPUT_COMPUTE: {
        int c = ls_compute_parse(text);
        if (c < 0) {
            app_msg(a, true, "compute \"%s\": not f32 or bf16 (unchanged)", text);
            return false;
        }
        in->compute = c;
        break;
    }
    default: return false;
    }
    changed(a, field);
    return true;
}

void app_input_cycle(app *a, int field)
{
    app_inputs *in = &a->inputs;
    if (field == APP_INPUT_PROTOCOL)
        in->protocol = in->protocol == LS_PPL_PAPER ? LS_PPL_LLAMACPP : LS_PPL_PAPER;
    else if (field == APP_INPUT_COMPUTE)
        in->compute = in->compute == LS_COMPUTE_BF16 ? LS_COMPUTE_F32 : LS_COMPUTE_BF16;
    else
        return;
    changed(a, field);
}

ls_quality_params app_inputs_quality(const app *a)
{
    const ls_options *o = a->opts;
    const app_inputs *in = &a->inputs;
    ls_quality_params qp = ls_quality_params_default((ls_ppl_protocol)in->protocol);
    if (in->ctx > 0)
        qp.ppl.ctx = in->ctx;
    if (o->stride)
        qp.ppl.stride = o->stride;
    qp.ppl.max_chunks = o->chunks;
    qp.ppl.allow_long_ctx = o->allow_long_ctx;
    qp.ppl.compute = (ls_compute)in->compute;
    qp.top_k = o->kld_top_k;
    qp.cache_dir = o->cache_dir;
    qp.cache_limit = o->cache_limit;
    qp.no_cache = o->no_cache;
    qp.threads = a->threads;
    return qp;
}

void app_inputs_tag(const char *text, int protocol, int ctx, int compute, char *buf,
                    size_t cap)
{
    const char *slash = strrchr(text, '/');
    snprintf(buf, cap, "[on %s, %s ctx %d, %s]", slash ? slash + 1 : text,
             ls_ppl_protocol_name((ls_ppl_protocol)protocol), ctx,
             ls_compute_name((ls_compute)compute));
}
