#include "nn/matmul_bf16.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "base/parallel.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define LS_X86 1
#endif

const char *ls_compute_name(ls_compute c) { return c == LS_COMPUTE_BF16 ? "bf16" : "f32"; }

int ls_compute_parse(const char *s)
{
    if (strcmp(s, "f32") == 0)
        return LS_COMPUTE_F32;
    if (strcmp(s, "bf16") == 0)
        return LS_COMPUTE_BF16;
    return -1;
}

#ifdef LS_X86
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* cpuid directly: compilers differ in which feature names __builtin_cpu_supports knows. */
static void cpu_bf16_features(bool *avx512_bf16, bool *amx_bf16)
{
    unsigned a, b, c, d;
    *avx512_bf16 = *amx_bf16 = false;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return;
    uint64_t xcr0 = xgetbv0();
    bool zmm_state = (xcr0 & 0xe6) == 0xe6;             /* SSE, AVX, opmask, ZMM */
    bool tile_state = (xcr0 & (3u << 17)) == (3u << 17); /* XTILECFG, XTILEDATA */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    bool avx512f = b & (1u << 16);
    bool amx = (d & (1u << 22)) && (d & (1u << 24)); /* AMX-BF16, AMX-TILE */
    unsigned a1 = 0, b1, c1, d1;
    if (a >= 1)
        __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    *avx512_bf16 = avx512f && zmm_state && (a1 & (1u << 5));
    *amx_bf16 = amx && tile_state;
}
#endif

bool ls_bf16_supported(char *why, size_t cap)
{
    if (cap)
        why[0] = '\0';
    const char *env = getenv("LAYERSCOPE_NO_BF16");
    if (env && *env && strcmp(env, "0") != 0) {
        snprintf(why, cap, "bf16 compute disabled by LAYERSCOPE_NO_BF16");
        return false;
    }
#ifdef LS_X86
    bool avx512_bf16, amx_bf16;
    cpu_bf16_features(&avx512_bf16, &amx_bf16);
    if (!avx512_bf16 && !amx_bf16) {
        snprintf(why, cap, "this CPU has neither AVX512-BF16 nor AMX-BF16");
        return false;
    }
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) !=
        (unsigned)dnnl_cpu_isa_avx512_core_bf16) {
        snprintf(why, cap, "oneDNN does not use its bf16 kernels here (ONEDNN_MAX_CPU_ISA?)");
        return false;
    }
    return true;
#else
    snprintf(why, cap, "bf16 compute needs an x86-64 CPU with AVX512-BF16 or AMX");
    return false;
#endif
}

/* ---- f32 -> bf16 ---- */

#ifdef LS_X86
/* vcvtne2ps2bf16 rounds to nearest even like ls_f32_to_bf16 (denormal inputs become 0,
 * as in oneDNN's own conversions). Only called when ls_bf16_supported() said yes. */
__attribute__((target("avx512f,avx512bf16"))) static void to_bf16_avx512(const float *s,
                                                                      int64_t n, uint16_t *d)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + i + 16), _mm512_loadu_ps(s + i));
        _mm512_storeu_si512((void *)(d + i), (__m512i)v);
    }
    for (; i < n; i++)
        d[i] = ls_f32_to_bf16(s[i]);
}
#endif

static bool have_avx512_bf16(void)
{
#ifdef LS_X86
    static int known = -1;
    if (known < 0) {
        bool a, b;
        cpu_bf16_features(&a, &b);
        known = a;
    }
    return known == 1;
#else
    return false;
#endif
}

static void to_bf16(const float *s, int64_t n, uint16_t *d)
{
#ifdef LS_X86
    if (have_avx512_bf16()) {
        to_bf16_avx512(s, n, d);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        d[i] = ls_f32_to_bf16(s[i]);
}

typedef struct conv_job {
    const float *src;
    int64_t lds, width, rows_per_task, rows;
    uint16_t *dst;
} conv_job;

static void conv_task(void *p, int64_t t)
{
    const conv_job *j = p;
    int64_t r0 = t * j->rows_per_task, r1 = r0 + j->rows_per_task;
    r1 = r1 < j->rows ? r1 : j->rows;
    if (j->lds == j->width) {
        to_bf16(j->src + r0 * j->width, (r1 - r0) * j->width, j->dst + r0 * j->width);
        return;
    }
    for (int64_t r = r0; r < r1; r++)
        to_bf16(j->src + r * j->lds, j->width, j->dst + r * j->width);
}

/* dst[rows][width] = bf16(src[rows][lds]) */
static void convert_rows(int threads, const float *src, int64_t lds, int64_t rows,
                         int64_t width, uint16_t *dst)
{
    const int64_t work = 1 << 18;
    int64_t per = width >= work ? 1 : work / width;
    conv_job j = {src, lds, width, per, rows, dst};
    int64_t tasks = (rows + per - 1) / per;
    if (tasks <= 1 || threads <= 1) {
        j.rows_per_task = rows;
        conv_task(&j, 0);
        return;
    }
    (void)ls_parallel_for(tasks, threads, conv_task, &j);
}

void ls_f32_to_bf16_array(int threads, const float *src, int64_t n, uint16_t *dst)
{
    const int64_t piece = 1 << 18;
    convert_rows(threads, src, piece, n / piece, piece, dst);
    int64_t done = n / piece * piece;
    to_bf16(src + done, n - done, dst + done);
}

/* ---- oneDNN matmul ----
 *
 * Threads. Debian's oneDNN runs on OpenMP (libgomp), whose idle workers spin after every
 * parallel region; between the products they competed with our threads for attention and
 * the element-wise steps (the demo ran 5x slower in bf16 than with OMP_WAIT_POLICY=passive
 * on this 2-core machine). So, as with OpenBLAS, oneDNN runs on the calling thread only:
 * primitives are created with one OpenMP thread (their work split is fixed then), every
 * thread that executes one sets its own OpenMP thread count to 1, and large products are
 * split by output columns over our threads, each part with its own stream and scratchpad. */

void omp_set_num_threads(int n); /* libgomp, which libdnnl brings */

#define CACHE_SIZE 32
#define MAX_SLOTS 64

typedef struct mm_entry {
    int64_t rows, out, in, ldy;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, wei_md, dst_md, scratch_md;
    size_t scratch_size;
    unsigned long last_use;
} mm_entry;

struct ls_mm_bf16 {
    dnnl_engine_t engine;
    dnnl_stream_t stream[MAX_SLOTS];   /* one per concurrent part, created on demand */
    mm_entry cache[CACHE_SIZE];
    int n_cached;
    unsigned long clock;
    uint16_t *xb; /* activations in bf16 */
    int64_t xb_cap;
    /* Scratchpads in user mode, one per slot: the library's default allocates one per
     * execution, and those fresh pages faulted in on every product. */
    void *scratch[MAX_SLOTS];
    size_t scratch_cap[MAX_SLOTS];
    bool failed;
    char msg[256];
};

static void entry_free(mm_entry *e)
{
    if (e->prim)
        dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

int ls_mm_bf16_new(ls_mm_bf16 **out, ls_error *err)
{
    *out = NULL;
    ls_mm_bf16 *mm = calloc(1, sizeof *mm);
    if (!mm)
        return ls_fail(err, "bf16: out of memory");
    if (dnnl_engine_create(&mm->engine, dnnl_cpu, 0) != dnnl_success) {
        ls_mm_bf16_free(mm);
        return ls_fail(err, "bf16: oneDNN could not create its CPU engine");
    }
    *out = mm;
    return 0;
}

void ls_mm_bf16_free(ls_mm_bf16 *mm)
{
    if (!mm)
        return;
    for (int i = 0; i < mm->n_cached; i++)
        entry_free(&mm->cache[i]);
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (mm->stream[i])
            dnnl_stream_destroy(mm->stream[i]);
        free(mm->scratch[i]);
    }
    if (mm->engine)
        dnnl_engine_destroy(mm->engine);
    free(mm->xb);
    free(mm);
}

static bool fail(ls_mm_bf16 *mm, const char *what, dnnl_status_t st)
{
    if (!mm->failed)
        snprintf(mm->msg, sizeof mm->msg, "bf16: oneDNN %s failed (status %d)", what, (int)st);
    mm->failed = true;
    return false;
}

/* The primitive for src [rows][in] bf16 dense, weights W^T (in x out; W row-major
 * [out][in], i.e. strides {1, in}) bf16, dst [rows][out] f32 with row stride ldy. */
static bool entry_create(ls_mm_bf16 *mm, mm_entry *e, int64_t rows, int64_t out, int64_t in,
                         int64_t ldy)
{
    dnnl_dims_t sd = {rows, in}, ss = {in, 1};
    dnnl_dims_t wd = {in, out}, ws = {1, in};
    dnnl_dims_t dd = {rows, out}, ds = {ldy, 1};
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_strides(&e->src_md, 2, sd, dnnl_bf16, ss)) ||
        (st = dnnl_memory_desc_init_by_strides(&e->wei_md, 2, wd, dnnl_bf16, ws)) ||
        (st = dnnl_memory_desc_init_by_strides(&e->dst_md, 2, dd, dnnl_f32, ds)))
        return fail(mm, "memory descriptor", st);
    dnnl_matmul_desc_t md;
    if ((st = dnnl_matmul_desc_init(&md, &e->src_md, &e->wei_md, NULL, &e->dst_md)))
        return fail(mm, "matmul descriptor", st);
    dnnl_primitive_attr_t attr;
    if ((st = dnnl_primitive_attr_create(&attr)))
        return fail(mm, "attributes", st);
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    omp_set_num_threads(1); /* this thread's setting: the primitive's split is one part */
    dnnl_primitive_desc_t pd;
    st = dnnl_primitive_desc_create(&pd, &md, attr, mm->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st)
        return fail(mm, "matmul primitive descriptor", st);
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_size = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (e->scratch_size)
        e->scratch_md = *sp;
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st)
        return fail(mm, "matmul primitive", st);
    e->rows = rows, e->out = out, e->in = in, e->ldy = ldy;
    return true;
}

static mm_entry *lookup(ls_mm_bf16 *mm, int64_t rows, int64_t out, int64_t in, int64_t ldy)
{
    mm->clock++;
    for (int i = 0; i < mm->n_cached; i++) {
        mm_entry *e = &mm->cache[i];
        if (e->rows == rows && e->out == out && e->in == in && e->ldy == ldy) {
            e->last_use = mm->clock;
            return e;
        }
    }
    /* A new shape: a free slot, else the least recently used one. */
    mm_entry *e = NULL;
    if (mm->n_cached < CACHE_SIZE) {
        e = &mm->cache[mm->n_cached++];
    } else {
        e = &mm->cache[0];
        for (int i = 1; i < CACHE_SIZE; i++)
            if (mm->cache[i].last_use < e->last_use)
                e = &mm->cache[i];
        entry_free(e);
    }
    if (!entry_create(mm, e, rows, out, in, ldy)) {
        entry_free(e); /* rows 0 never matches a real product */
        return NULL;
    }
    e->last_use = mm->clock;
    return e;
}

/* Stream and scratchpad of a slot, made on the caller's thread before the parts run. */
static bool slot_ready(ls_mm_bf16 *mm, int slot, size_t scratch_size)
{
    dnnl_status_t st;
    if (!mm->stream[slot] &&
        (st = dnnl_stream_create(&mm->stream[slot], mm->engine, dnnl_stream_default_flags)))
        return fail(mm, "stream", st);
    if (scratch_size > mm->scratch_cap[slot]) {
        free(mm->scratch[slot]);
        mm->scratch[slot] = aligned_alloc(64, (scratch_size + 63) / 64 * 64);
        mm->scratch_cap[slot] = mm->scratch[slot] ? scratch_size : 0;
        if (!mm->scratch[slot])
            return fail(mm, "scratchpad allocation", dnnl_out_of_memory);
    }
    return true;
}

typedef struct part_job {
    ls_mm_bf16 *mm;
    mm_entry *e[MAX_SLOTS];
    const uint16_t *W;
    float *y;
    int64_t in, per;
    dnnl_status_t st[MAX_SLOTS];
} part_job;

/* Part t: output columns t*per .. on slot t. Memory objects are made per call (cheap)
 * so that parts sharing a primitive never share them. */
static void part_task(void *p, int64_t t)
{
    part_job *j = p;
    ls_mm_bf16 *mm = j->mm;
    const mm_entry *e = j->e[t];
    omp_set_num_threads(1); /* oneDNN's own parallel loops stay on this thread */
    int64_t c0 = t * j->per;
    dnnl_memory_t src = NULL, wei = NULL, dst = NULL, scr = NULL;
    dnnl_status_t st;
    if (!(st = dnnl_memory_create(&src, &e->src_md, mm->engine, mm->xb)) &&
        !(st = dnnl_memory_create(&wei, &e->wei_md, mm->engine, (void *)(j->W + c0 * j->in))) &&
        !(st = dnnl_memory_create(&dst, &e->dst_md, mm->engine, j->y + c0)) &&
        !(e->scratch_size &&
          (st = dnnl_memory_create(&scr, &e->scratch_md, mm->engine, mm->scratch[t])))) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei},
                                   {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scr}};
        st = dnnl_primitive_execute(e->prim, mm->stream[t], scr ? 4 : 3, args);
        if (!st)
            st = dnnl_stream_wait(mm->stream[t]);
    }
    j->st[t] = st;
    if (src)
        dnnl_memory_destroy(src);
    if (wei)
        dnnl_memory_destroy(wei);
    if (dst)
        dnnl_memory_destroy(dst);
    if (scr)
        dnnl_memory_destroy(scr);
}

void ls_mm_bf16_xwt(ls_mm_bf16 *mm, int threads, const float *x, int64_t ldx, int64_t rows,
                    const uint16_t *W, int64_t out, int64_t in, float *y, int64_t ldy)
{
    if (rows <= 0 || out <= 0)
        return;
    if (rows * in > mm->xb_cap) {
        uint16_t *nb = realloc(mm->xb, (size_t)(rows * in) * sizeof *nb);
        if (!nb) {
            fail(mm, "activation buffer allocation", dnnl_out_of_memory);
            goto zero;
        }
        mm->xb = nb;
        mm->xb_cap = rows * in;
    }
    /* Parts over output columns when the product is large enough to pay for a thread. */
    threads = threads < 1 ? 1 : threads > MAX_SLOTS ? MAX_SLOTS : threads;
    int64_t per = out;
    if (threads > 1 && rows * out * in >= ((int64_t)1 << 22) && out >= 64 * threads) {
        per = (out + threads - 1) / threads;
        per = (per + 31) / 32 * 32;
    }
    int64_t n_parts = (out + per - 1) / per;
    part_job j;
    memset(&j, 0, sizeof j);
    j.mm = mm, j.W = W, j.y = y, j.in = in, j.per = per;
    for (int64_t t = 0; t < n_parts; t++) {
        int64_t n = out - t * per < per ? out - t * per : per;
        j.e[t] = lookup(mm, rows, n, in, ldy);
        if (!j.e[t] || !slot_ready(mm, (int)t, j.e[t]->scratch_size))
            goto zero;
    }
    convert_rows(threads, x, ldx, rows, in, mm->xb);
    if (n_parts == 1)
        part_task(&j, 0);
    else
        (void)ls_parallel_for(n_parts, threads, part_task, &j);
    for (int64_t t = 0; t < n_parts; t++)
        if (j.st[t] != dnnl_success) {
            fail(mm, "matmul", j.st[t]);
            goto zero;
        }
    return;
zero:
    for (int64_t r = 0; r < rows; r++)
        memset(y + r * ldy, 0, (size_t)out * sizeof *y);
}

bool ls_mm_bf16_failed(ls_mm_bf16 *mm, ls_error *err)
{
    if (!mm || !mm->failed)
        return false;
    ls_fail(err, "%s", mm->msg);
    mm->failed = false;
    return true;
}

void ls_onednn_describe(char *buf, size_t cap)
{
    const dnnl_version_t *v = dnnl_version();
    const char *rt = v->cpu_runtime == DNNL_RUNTIME_OMP        ? "OpenMP"
                     : v->cpu_runtime == DNNL_RUNTIME_TBB      ? "TBB"
                     : v->cpu_runtime == DNNL_RUNTIME_SEQ      ? "sequential"
                     : v->cpu_runtime == DNNL_RUNTIME_THREADPOOL ? "threadpool"
                                                                 : "other";
    char why[160];
    bool ok = ls_bf16_supported(why, sizeof why);
    snprintf(buf, cap, "oneDNN %d.%d.%d (%s runtime); --compute bf16: %s%s", v->major,
             v->minor, v->patch, rt, ok ? "available" : "falls back to f32: ",
             ok ? "" : why);
}
