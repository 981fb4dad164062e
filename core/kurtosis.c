#include "kurtosis.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "parallel.h"

#define BLOCK 2048              /* elements converted to double at once: 16 KiB, in L1 */
#define CHUNK ((int64_t)1 << 18) /* elements per task; fixed so results never depend on threads */

/* Central moment sums of a set: n, mean, M2 = sum (x-mean)^2, M3, M4. */
typedef struct moments {
    double n, mean, M2, M3, M4;
} moments;

/* Pebay (2008) pairwise update: a <- a U b. */
static void merge(moments *a, const moments *b)
{
    if (b->n == 0)
        return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double na = a->n, nb = b->n, n = na + nb;
    double d = b->mean - a->mean, d2 = d * d;
    double M2 = a->M2 + b->M2 + d2 * na * nb / n;
    double M3 = a->M3 + b->M3 + d * d2 * na * nb * (na - nb) / (n * n) +
                3.0 * d * (na * b->M2 - nb * a->M2) / n;
    double M4 = a->M4 + b->M4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n) +
                6.0 * d2 * (na * na * b->M2 + nb * nb * a->M2) / (n * n) +
                4.0 * d * (na * b->M3 - nb * a->M3) / n;
    a->mean += d * nb / n;
    a->M2 = M2;
    a->M3 = M3;
    a->M4 = M4;
    a->n = n;
}

/* Converts up to BLOCK elements to double, dropping non-finite ones. Returns the count. */
static int load_block(const void *data, ls_dtype dt, int64_t start, int len, double *buf,
                      int64_t *nonfinite)
{
    int k = 0;
    switch (dt) {
    case LS_DT_F32: {
        const float *f = (const float *)data + start;
        for (int i = 0; i < len; i++) {
            buf[k] = f[i];
            k += isfinite(f[i]) ? 1 : 0;
        }
        break;
    }
    case LS_DT_F16: {
        const uint16_t *h = (const uint16_t *)data + start;
        for (int i = 0; i < len; i++) {
            buf[k] = ls_f16_to_f32(h[i]);
            k += (h[i] & 0x7c00u) != 0x7c00u ? 1 : 0;
        }
        break;
    }
    case LS_DT_BF16: {
        const uint16_t *h = (const uint16_t *)data + start;
        for (int i = 0; i < len; i++) {
            buf[k] = ls_bf16_to_f32(h[i]);
            k += (h[i] & 0x7f80u) != 0x7f80u ? 1 : 0;
        }
        break;
    }
    }
    *nonfinite += len - k;
    return k;
}

/* Moments of one block in two passes over data that sits in L1. Eight independent
 * accumulators let the compiler vectorise without reassociating a single sum. */
static moments block_moments(const double *x, int n)
{
    moments m = {0};
    if (n == 0)
        return m;
    double s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += x[i + j];
    double sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        sum += x[i];
    double mean = sum / n;
    double a2[8] = {0}, a3[8] = {0}, a4[8] = {0};
    i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            double d = x[i + j] - mean, d2 = d * d;
            a2[j] += d2;
            a3[j] += d2 * d;
            a4[j] += d2 * d2;
        }
    double M2 = 0, M3 = 0, M4 = 0;
    for (int j = 0; j < 8; j++) {
        M2 += a2[j];
        M3 += a3[j];
        M4 += a4[j];
    }
    for (; i < n; i++) {
        double d = x[i] - mean, d2 = d * d;
        M2 += d2;
        M3 += d2 * d;
        M4 += d2 * d2;
    }
    m.n = n;
    m.mean = mean;
    m.M2 = M2;
    m.M3 = M3;
    m.M4 = M4;
    return m;
}

typedef struct kurt_job {
    const void *data;
    ls_dtype dt;
    int64_t n;
    moments *chunk_moments;
    int64_t *chunk_nonfinite;
} kurt_job;

/* Moments of elements [begin, end), merged block by block in index order. */
static void range_moments(const void *data, ls_dtype dt, int64_t begin, int64_t end,
                          moments *out, int64_t *nonfinite)
{
    double buf[BLOCK];
    moments acc = {0};
    int64_t nf = 0;
    for (int64_t b = begin; b < end; b += BLOCK) {
        int len = (int)(end - b < BLOCK ? end - b : BLOCK);
        int k = load_block(data, dt, b, len, buf, &nf);
        moments bm = block_moments(buf, k);
        merge(&acc, &bm);
    }
    *out = acc;
    *nonfinite = nf;
}

static void chunk_task(void *ctx, int64_t task)
{
    kurt_job *job = ctx;
    int64_t begin = task * CHUNK, end = begin + CHUNK < job->n ? begin + CHUNK : job->n;
    range_moments(job->data, job->dt, begin, end, &job->chunk_moments[task],
                  &job->chunk_nonfinite[task]);
}

void ls_kurtosis_data(const void *data, ls_dtype dt, int64_t n, int threads,
                      ls_kurtosis_result *out)
{
    memset(out, 0, sizeof *out);
    out->kurtosis = out->mean = out->m2 = out->m4 = NAN;
    if (n <= 0)
        return;
    int64_t n_chunks = (n + CHUNK - 1) / CHUNK;
    kurt_job job = {data, dt, n, malloc((size_t)n_chunks * sizeof(moments)),
                    malloc((size_t)n_chunks * sizeof(int64_t))};
    bool parallel = job.chunk_moments && job.chunk_nonfinite;
    if (parallel)
        ls_parallel_for(n_chunks, threads, chunk_task, &job);
    moments total = {0};
    int64_t nonfinite = 0;
    for (int64_t c = 0; c < n_chunks; c++) { /* fixed order: deterministic */
        moments cm;
        int64_t nf;
        if (parallel) {
            cm = job.chunk_moments[c];
            nf = job.chunk_nonfinite[c];
        } else { /* no memory for the chunk table: same chunks, computed serially */
            int64_t begin = c * CHUNK, end = begin + CHUNK < n ? begin + CHUNK : n;
            range_moments(data, dt, begin, end, &cm, &nf);
        }
        merge(&total, &cm);
        nonfinite += nf;
    }
    free(job.chunk_moments);
    free(job.chunk_nonfinite);
    out->n_finite = (int64_t)total.n;
    out->n_nonfinite = nonfinite;
    if (total.n < 1)
        return;
    out->mean = total.mean;
    out->m2 = total.M2 / total.n;
    out->m4 = total.M4 / total.n;
    if (total.n >= 2 && out->m2 > 0)
        out->kurtosis = out->m4 / (out->m2 * out->m2);
}

int ls_kurtosis_model(const ls_model *m, int threads, ls_progress *progress, ls_profile *p,
                      ls_error *err)
{
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights: kurtosis needs a model with tensors", m->path);
    int L = m->cfg.n_layers, total = L * LS_N_MODULES, done = 0;
    for (int l = 0; l < L; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++, done++) {
            char what[96];
            snprintf(what, sizeof what, "kurtosis layer %d %s", l, ls_module_name(mod));
            if (ls_progress_tick(progress, done, total, what))
                return ls_fail(err, "kurtosis: cancelled");
            const ls_tensor *t = ls_model_linear(m, l, mod);
            if (!t)
                continue;
            ls_kurtosis_result r;
            ls_kurtosis_data(t->data, t->dtype, t->n_elems, threads, &r);
            p->kurtosis[LS_IDX(l, mod)] = r.kurtosis;
            p->nonfinite[LS_IDX(l, mod)] = r.n_nonfinite;
        }
    ls_progress_tick(progress, total, total, "kurtosis done");
    return 0;
}
