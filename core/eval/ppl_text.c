#include "eval/ppl_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mapfile.h"

int64_t ls_utf8_invalid_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return (int64_t)i;
        }
        if (i + n >= len)
            return (int64_t)i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return (int64_t)i;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return (int64_t)i;
        i += n + 1;
    }
    return -1;
}

/* Set once at start-up from --max-text-mib (options are parsed before any job runs). */
static size_t text_max_bytes = LS_TEXT_MAX_MIB_DEFAULT << 20;

void ls_text_set_max_mib(int64_t mib)
{
    if (mib >= 1 && mib <= LS_TEXT_MAX_MIB_LIMIT)
        text_max_bytes = (size_t)mib << 20;
}

int64_t ls_text_max_mib(void)
{
    return (int64_t)(text_max_bytes >> 20);
}

int ls_text_read(const char *path, char **text, size_t *len, ls_error *err)
{
    *text = NULL;
    *len = 0;
    struct stat st;
    int fd = ls_open_regular(path, &st, err); /* a FIFO or /dev/zero is refused here */
    if (fd < 0)
        return -1;
    size_t limit = text_max_bytes;
    if ((uint64_t)st.st_size > (uint64_t)limit) {
        close(fd);
        return ls_fail(err, "%s: %lld bytes, above the text size limit of %lld MiB (raise it "
                       "with --max-text-mib N)", path, (long long)st.st_size,
                       (long long)(limit >> 20));
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return ls_fail(err, "%s: cannot open the text file: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    bool too_big = false;
    while (buf) {
        if (n + 1 >= cap) {
            if (n > limit) { /* the file grew while we read it */
                too_big = true;
                break;
            }
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return ls_fail(err, "%s: out of memory reading the text", path);
    if (too_big || n > limit) {
        free(buf);
        return ls_fail(err, "%s: above the text size limit of %lld MiB (raise it with "
                       "--max-text-mib N)", path, (long long)(limit >> 20));
    }
    if (bad) {
        free(buf);
        return ls_fail(err, "%s: read error", path);
    }
    buf[n] = '\0';
    if (n == 0) {
        free(buf);
        return ls_fail(err, "%s: the text file is empty", path);
    }
    int64_t at = ls_utf8_invalid_at(buf, n);
    if (at >= 0) {
        free(buf);
        return ls_fail(err, "%s: byte %lld: not UTF-8 text", path, (long long)at);
    }
    *text = buf;
    *len = n;
    return 0;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f')
            return false;
    return true;
}

char *ls_wikitext_hf_rows(const char *text, size_t len, size_t *out_len, size_t *n_rows)
{
    char *out = malloc(2 * len + 2); /* each line grows by at most "\n\n" */
    if (!out)
        return NULL;
    size_t o = 0, rows = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (rows)
            out[o++] = '\n', out[o++] = '\n';
        if (!blank(text + i, end - i)) {
            memcpy(out + o, text + i, end - i);
            o += end - i;
            out[o++] = '\n';
        }
        rows++;
        i = end + 1;
    }
    out[o] = '\0';
    *out_len = o;
    if (n_rows)
        *n_rows = rows;
    return out;
}

static bool is_wiki_raw(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    return strncmp(b, "wiki.", 5) == 0 && n > 9 && strcmp(b + n - 4, ".raw") == 0;
}

int ls_ppl_text_tokens(const char *path, ls_text_mode mode, ls_ppl_protocol protocol,
                       const ls_tokenizer *tok, const ls_model *m, int32_t **ids, int64_t *n,
                       int *bos, char *note, size_t note_cap, ls_error *err)
{
    *ids = NULL;
    *n = 0;
    if (note && note_cap)
        note[0] = '\0';
    int tv = ls_tokenizer_vocab_size(tok);
    if (tv > m->cfg.vocab_size)
        return ls_fail(err, "%s: tokenizer: vocabulary of %d tokens does not match the "
                       "model's %d", m->path, tv, m->cfg.vocab_size);
    char *text;
    size_t len;
    if (ls_text_read(path, &text, &len, err) < 0)
        return -1;
    if (mode == LS_TEXT_AUTO)
        mode = protocol == LS_PPL_PAPER && is_wiki_raw(path) ? LS_TEXT_HF_ROWS : LS_TEXT_AS_IS;
    if (mode == LS_TEXT_HF_ROWS) {
        size_t rows, nl;
        char *rebuilt = ls_wikitext_hf_rows(text, len, &nl, &rows);
        free(text);
        if (!rebuilt)
            return ls_fail(err, "%s: out of memory", path);
        text = rebuilt;
        len = nl;
        if (note && note_cap)
            snprintf(note, note_cap, "text rebuilt as %zu HF rows joined by \"\\n\\n\" "
                     "(%zu bytes)", rows, len);
    }
    bool add_bos = ls_tokenizer_adds_bos(tok);
    size_t cnt = 0;
    int rc = ls_tokenizer_encode(tok, text, len, add_bos, ids, &cnt, err);
    free(text);
    if (rc < 0) {
        ls_error_prefix(err, path);
        return -1;
    }
    *n = (int64_t)cnt;
    *bos = add_bos ? ls_tokenizer_bos(tok) : -1;
    for (size_t i = 0; i < cnt; i++)
        if ((*ids)[i] < 0 || (*ids)[i] >= m->cfg.vocab_size) {
            int bad = (*ids)[i];
            free(*ids);
            *ids = NULL;
            return ls_fail(err, "%s: tokenizer: id %d is outside the model's vocabulary of "
                           "%d (tokenizer and model do not match)", path, bad,
                           m->cfg.vocab_size);
        }
    return 0;
}

void ls_ppl_compare_free(ls_ppl_compare *c)
{
    ls_ppl_result_free(&c->fp);
    ls_ppl_result_free(&c->base);
    ls_ppl_result_free(&c->current);
}

/* One overall progress across the steps: each evaluation weighs 1000, quantizing weighs
 * 1000 x the share of the model's linear weights it has to quantize (reused modules are
 * free). A rough cost model, but monotone: the ETA no longer restarts per step. */
#define PHASE_EVAL 1000
static void plan_phases(const ls_model *m, const ls_qmodel *qm, const unsigned char *cfgs[2],
                        int64_t start[5], int64_t weight[5], int *n_phases, int64_t *total)
{
    int k = 0;
    int64_t at = 0, all = 0;
    start[k] = at, weight[k] = PHASE_EVAL, at += weight[k++]; /* fp */
    const unsigned char *prev = NULL; /* the configs the cache holds after a step */
    for (int c = 0; c < 2; c++) {
        if (!cfgs[c])
            continue;
        int64_t e = ls_qmodel_pending_elems(prev ? NULL : qm, m, cfgs[c], &all);
        if (prev) { /* after the previous step the cache holds prev: count what differs */
            e = 0;
            for (int i = 0; i < m->cfg.n_layers * LS_N_MODULES; i++) {
                const ls_tensor *t = ls_model_linear(m, i / LS_N_MODULES, i % LS_N_MODULES);
                if (t && prev[i] != cfgs[c][i])
                    e += t->n_elems;
            }
        }
        start[k] = at, weight[k] = all > 0 ? (int64_t)((double)PHASE_EVAL * e / all) : 0;
        at += weight[k++];
        prev = cfgs[c];
        start[k] = at, weight[k] = PHASE_EVAL, at += weight[k++];
    }
    *n_phases = k;
    *total = at;
}

int ls_ppl_compare_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                       const ls_ppl_params *params, ls_text_mode mode,
                       const unsigned char *base_cfg, const unsigned char *cur_cfg,
                       ls_qmodel *qm, int threads, ls_progress *progress,
                       ls_ppl_window_fn on_window, void *cb_ctx, ls_ppl_compare *out,
                       ls_error *err)
{
    memset(out, 0, sizeof *out);
    out->delta_pct = out->delta_fp_pct = NAN;
    ls_ppl_compare c;
    memset(&c, 0, sizeof c);
    c.delta_pct = c.delta_fp_pct = NAN;
    int32_t *ids = NULL;
    int64_t n = 0;
    int bos = -1;
    char tnote[160];
    if (ls_ppl_text_tokens(eval_path, mode, params->protocol, tok, m, &ids, &n, &bos, tnote,
                           sizeof tnote, err) < 0)
        return -1;
    /* Validate everything (text long enough, ctx) before spending time on quantization. */
    ls_ppl_params p = *params;
    char rnote[256];
    if (ls_ppl_resolve(m, &p, n, rnote, sizeof rnote, err) < 0) {
        ls_error_prefix(err, eval_path);
        free(ids);
        return -1;
    }
    ls_qmodel *own = NULL;
    int rc = -1;
    if ((base_cfg || cur_cfg) && !qm) {
        qm = own = ls_qmodel_new(m->cfg.n_layers, true, err);
        if (!qm)
            goto done;
    }
    const unsigned char *cfgs[2] = {base_cfg, cur_cfg};
    int64_t ph_start[5], ph_weight[5], ph_total;
    int n_ph, ph = 0;
    plan_phases(m, qm, cfgs, ph_start, ph_weight, &n_ph, &ph_total);
    ls_progress_phases(progress, ph_total, n_ph);
    p = *params;
    p.label = "fp";
    ls_progress_phase(progress, ph + 1, ph_start[ph], ph_weight[ph]);
    ph++;
    if (ls_ppl_eval(m, NULL, ids, n, bos, &p, progress, on_window, cb_ctx, &c.fp, err) < 0)
        goto done;
    c.have_fp = true;
    ls_ppl_result *res[2] = {&c.base, &c.current};
    bool *have[2] = {&c.have_base, &c.have_current};
    const char *labels[2] = {"base", "current"};
    for (int k = 0; k < 2; k++) {
        if (!cfgs[k])
            continue;
        ls_progress_phase(progress, ph + 1, ph_start[ph], ph_weight[ph]);
        ph++;
        if (ls_qmodel_quantize(qm, m, cfgs[k], threads, progress, err) < 0)
            goto done;
        p.label = labels[k];
        ls_progress_phase(progress, ph + 1, ph_start[ph], ph_weight[ph]);
        ph++;
        if (ls_ppl_eval(m, qm, ids, n, bos, &p, progress, on_window, cb_ctx, res[k], err) < 0)
            goto done;
        *have[k] = true;
    }
    c.protocol = c.fp.protocol;
    c.ctx = c.fp.ctx;
    c.stride = c.fp.stride;
    c.n_tokens = n;
    if (c.have_base && c.have_current)
        c.delta_pct = 100.0 * (c.current.ppl - c.base.ppl) / c.base.ppl;
    if (c.have_current)
        c.delta_fp_pct = 100.0 * (c.current.ppl - c.fp.ppl) / c.fp.ppl;
    snprintf(c.note, sizeof c.note, "%.120s%s%.120s", tnote, *tnote && *rnote ? "; " : "",
             rnote);
    if (params->compute != c.fp.compute) { /* bf16 asked for, not available: say why */
        char why[160];
        ls_bf16_supported(why, sizeof why);
        size_t used = strlen(c.note);
        snprintf(c.note + used, sizeof c.note - used, "%s--compute %s: %.100s; computed in %s",
                 used ? "; " : "", ls_compute_name(params->compute), why,
                 ls_compute_name(c.fp.compute));
    }
    *out = c;
    rc = 0;
done:
    ls_progress_phases(progress, 0, 0);
    if (rc < 0)
        ls_ppl_compare_free(&c);
    ls_qmodel_free(own);
    free(ids);
    return rc;
}
