#include "nn/matmul_bf16.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigalloc.h"
#include "base/cpu.h"
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
 * primitives are created with one OpenMP thread (their work split is fixed then), and every
 * thread that executes one sets its own OpenMP thread count to 1.
 *
 * Large products are split by rows of x over our threads: each part converts its own rows
 * to bf16 and runs the whole width of W on them, with its own stream, scratchpad and rows of
 * the result. Split by output columns instead, each part's kernels ran on a narrow slice of
 * W and products reached about half of oneDNN's peak; by rows every part reads the same
 * packed copy of W (one copy, not one per part) and keeps the kernels' full width. */

void omp_set_num_threads(int n); /* libgomp, which libdnnl brings */

#define CACHE_SIZE 32
#define MAX_SLOTS 64

typedef struct mm_entry {
    int64_t rows, out, in;
    bool packed; /* weights in the layout oneDNN prefers (format `any` at creation) */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, wei_md, dst_md, scratch_md;
    size_t scratch_size;
    unsigned long last_use;
} mm_entry;

/* Weights the caller promised not to change (ls_mm_bf16_weights_fixed): packed once into
 * the blocked layout oneDNN's kernels want, shared by every part. With plain row-major
 * weights oneDNN repacks them on every execution. */
#define MAX_FIXED 16

typedef struct fixed_weights {
    const uint16_t *W; /* NULL: slot unused */
    int64_t out, in;
    bool valid;  /* W is fixed now (else its buffer waits for reuse) */
    bool packed; /* buf holds W in layout md */
    void *buf;
    size_t cap;
    dnnl_memory_desc_t md;
} fixed_weights;

struct ls_mm_bf16 {
    fixed_weights fixed[MAX_FIXED];
    dnnl_engine_t engine;
    dnnl_stream_t stream[MAX_SLOTS]; /* one per concurrent part, created on demand */
    mm_entry cache[CACHE_SIZE];
    int n_cached;
    unsigned long clock;
    uint16_t *xb; /* activations in bf16 */
    int64_t xb_cap;
    /* Scratchpads in user mode, one per slot: the library's default allocates one per
     * execution, and those fresh pages faulted in on every product. */
    void *scratch[MAX_SLOTS];
    size_t scratch_cap[MAX_SLOTS];
    /* Dense results of the parts when the caller's rows are strided: with a row stride
     * wider than its columns oneDNN 2.6 leaves its brgemm kernels for a slower gemm-based
     * matmul. */
    float *ybuf[MAX_SLOTS];
    int64_t ybuf_cap[MAX_SLOTS];
    int64_t direct_packs;
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
    for (int i = 0; i < MAX_FIXED; i++)
        ls_free_big(mm->fixed[i].buf);
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (mm->stream[i])
            dnnl_stream_destroy(mm->stream[i]);
        ls_free_big(mm->scratch[i]);
        ls_free_big(mm->ybuf[i]);
    }
    if (mm->engine)
        dnnl_engine_destroy(mm->engine);
    ls_free_big(mm->xb);
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
 * [out][in], i.e. strides {1, in}; when packed, format `any` and the layout oneDNN chose
 * read back) bf16, dst [rows][out] f32 dense. */
static bool entry_create(ls_mm_bf16 *mm, mm_entry *e, int64_t rows, int64_t out, int64_t in,
                         bool packed)
{
    dnnl_dims_t sd = {rows, in}, ss = {in, 1};
    dnnl_dims_t wd = {in, out}, ws = {1, in};
    dnnl_dims_t dd = {rows, out}, ds = {out, 1};
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_strides(&e->src_md, 2, sd, dnnl_bf16, ss)) ||
        (st = packed ? dnnl_memory_desc_init_by_tag(&e->wei_md, 2, wd, dnnl_bf16,
                                                    dnnl_format_tag_any)
                     : dnnl_memory_desc_init_by_strides(&e->wei_md, 2, wd, dnnl_bf16, ws)) ||
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
    if (packed) /* the layout it chose */
        e->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st)
        return fail(mm, "matmul primitive", st);
    e->rows = rows, e->out = out, e->in = in, e->packed = packed;
    return true;
}

static mm_entry *lookup(ls_mm_bf16 *mm, int64_t rows, int64_t out, int64_t in, bool packed)
{
    mm->clock++;
    for (int i = 0; i < mm->n_cached; i++) {
        mm_entry *e = &mm->cache[i];
        if (e->rows == rows && e->out == out && e->in == in && e->packed == packed) {
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
    if (!entry_create(mm, e, rows, out, in, packed)) {
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
        ls_free_big(mm->scratch[slot]);
        mm->scratch[slot] = ls_alloc_big(scratch_size);
        mm->scratch_cap[slot] = mm->scratch[slot] ? scratch_size : 0;
        if (!mm->scratch[slot])
            return fail(mm, "scratchpad allocation", dnnl_out_of_memory);
    }
    return true;
}

/* Packing fixed weights, split over threads by ranges of output columns: a reorder between
 * sub-memories of the plain and the packed descriptors, so that the ranges (whole 64-column
 * blocks, the width of oneDNN's bf16 weight blocks) are written by one thread each. */
typedef struct pack_job {
    ls_mm_bf16 *mm;
    fixed_weights *fw;
    int64_t cols; /* per task */
    dnnl_status_t st[MAX_SLOTS];
} pack_job;

static void pack_task(void *p, int64_t t)
{
    pack_job *j = p;
    ls_mm_bf16 *mm = j->mm;
    fixed_weights *fw = j->fw;
    omp_set_num_threads(1);
    int64_t c0 = t * j->cols, n = fw->out - c0 < j->cols ? fw->out - c0 : j->cols;
    dnnl_dims_t wd = {fw->in, fw->out}, ws = {1, fw->in};
    dnnl_dims_t sub = {fw->in, n}, off = {0, c0};
    dnnl_memory_desc_t plain, from_md, to_md;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_strides(&plain, 2, wd, dnnl_bf16, ws);
    if (!st)
        st = dnnl_memory_desc_init_submemory(&from_md, &plain, sub, off);
    if (!st)
        st = dnnl_memory_desc_init_submemory(&to_md, &fw->md, sub, off);
    if (!st)
        st = dnnl_reorder_primitive_desc_create(&rpd, &from_md, mm->engine, &to_md,
                                                mm->engine, NULL);
    if (!st)
        st = dnnl_primitive_create(&r, rpd);
    if (!st)
        st = dnnl_memory_create(&from, &from_md, mm->engine, (void *)fw->W);
    if (!st)
        st = dnnl_memory_create(&to, &to_md, mm->engine, fw->buf);
    if (!st) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(r, mm->stream[t], 2, args);
        if (!st)
            st = dnnl_stream_wait(mm->stream[t]);
    }
    if (from)
        dnnl_memory_destroy(from);
    if (to)
        dnnl_memory_destroy(to);
    if (r)
        dnnl_primitive_destroy(r);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    j->st[t] = st;
}

/* ---- packing without oneDNN's reorder ----
 *
 * oneDNN's bf16 kernels want W^T (in x out) in blocks: outer blocks of A_BLK rows of `in`
 * by B_BLK columns of `out`, and inside a block [A_BLK/2][B_BLK][2], so that each pair of
 * consecutive `in` values of one output column is one 32-bit word ("BA16a64b2a" with
 * AVX512-BF16). Our W is row-major [out][in], where those pairs are already adjacent: a
 * block is a transpose of B_BLK rows of A_BLK/2 words. oneDNN's generic reorder did this
 * at 1.5-6 GB/s, about a tenth of a bf16 evaluation on the bench model (ONEDNN_VERBOSE);
 * below, 16 x 16 word transposes in AVX-512 registers do it (scalar copies at the edges).
 * Used only when the layout oneDNN chose has exactly this shape (read from its
 * descriptor), else the reorder runs. */
typedef struct pair_blocks {
    int64_t a_blk, b_blk;     /* inner block sizes of in (rows of W^T) and out */
    int64_t a_stride, b_stride; /* elements between outer blocks */
} pair_blocks;

static bool pair_blocks_of(const dnnl_memory_desc_t *md, int64_t in, pair_blocks *pb)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (md->format_kind != dnnl_blocked || md->ndims != 2 || md->offset0 != 0 ||
        md->extra.flags != 0 || b->inner_nblks != 3 || b->inner_idxs[0] != 0 ||
        b->inner_idxs[1] != 1 || b->inner_idxs[2] != 0 || b->inner_blks[2] != 2 ||
        in % 2 != 0)
        return false;
    pb->a_blk = b->inner_blks[0] * 2, pb->b_blk = b->inner_blks[1];
    pb->a_stride = b->strides[0], pb->b_stride = b->strides[1];
    return pb->a_blk > 0 && pb->b_blk > 0 && md->padded_dims[0] % pb->a_blk == 0 &&
           md->padded_dims[1] % pb->b_blk == 0;
}

typedef struct pair_job {
    const fixed_weights *fw;
    pair_blocks pb;
    int64_t col_blocks; /* per task */
} pair_job;

/* Where word w (in-values 2w, 2w+1) of output column n0 + n goes, col being the column
 * block's start. */
static inline uint32_t *word_at(uint32_t *col, const pair_blocks *pb, int64_t w, int64_t n)
{
    int64_t half = pb->a_blk / 2;
    return col + w / half * (pb->a_stride / 2) + w % half * pb->b_blk + n;
}

/* Words w_lo .. w_hi-1 of rows n_lo .. n_hi-1 of the column block, one at a time. */
static void copy_words(const uint32_t *src, int64_t words, uint32_t *col,
                       const pair_blocks *pb, int64_t n0, int64_t n_lo, int64_t n_hi,
                       int64_t w_lo, int64_t w_hi)
{
    for (int64_t n = n_lo; n < n_hi; n++) {
        const uint32_t *row = src + (n0 + n) * words;
        for (int64_t w = w_lo; w < w_hi; w++)
            *word_at(col, pb, w, n) = row[w];
    }
}

#ifdef LS_X86
/* Rows 0 .. n16-1 and words 0 .. w16-1 (multiples of 16) of the column block by 16 x 16
 * transposes in registers; each result vector is 16 consecutive columns of one word, a
 * whole cache line of the packed copy, written past the caches (the copy is larger than
 * them, and is read next by the products, not by this loop). */
__attribute__((target("avx512f"))) static void copy_tiles(const uint32_t *src, int64_t words,
                                                          uint32_t *col,
                                                          const pair_blocks *pb, int64_t n0,
                                                          int64_t n16, int64_t w16)
{
    for (int64_t n = 0; n < n16; n += 16)
        for (int64_t w = 0; w < w16; w += 16) {
            __m512i r[16], t[16];
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_loadu_si512((const void *)(src + (n0 + n + i) * words + w));
            for (int i = 0; i < 16; i += 2) {
                t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
                t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
            }
            for (int i = 0; i < 16; i += 4) {
                r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
                r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
                r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
                r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
            }
            for (int i = 0; i < 4; i++) {
                t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
                t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);
                t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
                t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
            }
            for (int i = 0; i < 4; i++) {
                r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
                r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
                r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
                r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
            }
            for (int i = 0; i < 16; i++) { /* r[i]: word w + i of the 16 rows */
                uint32_t *to = word_at(col, pb, w + i, n);
                if ((uintptr_t)to % 64 == 0)
                    _mm512_stream_si512((void *)to, r[i]);
                else
                    _mm512_storeu_si512((void *)to, r[i]);
            }
        }
    _mm_sfence(); /* the streamed lines are visible before the products read them */
}

#endif

static void pair_task(void *p, int64_t t)
{
    const pair_job *j = p;
    const fixed_weights *fw = j->fw;
    const pair_blocks *pb = &j->pb;
    const uint32_t *src = (const uint32_t *)fw->W; /* [out][in/2] words */
    int64_t words = fw->in / 2;
    int64_t nb_end = (t + 1) * j->col_blocks, n_blocks = (fw->out + pb->b_blk - 1) / pb->b_blk;
    nb_end = nb_end < n_blocks ? nb_end : n_blocks;
    for (int64_t nb = t * j->col_blocks; nb < nb_end; nb++) {
        int64_t n0 = nb * pb->b_blk, nn = fw->out - n0 < pb->b_blk ? fw->out - n0 : pb->b_blk;
        uint32_t *col = (uint32_t *)((uint16_t *)fw->buf + nb * pb->b_stride);
        int64_t n16 = 0, w16 = 0;
#ifdef LS_X86
        if (pb->b_blk % 16 == 0 && ls_cpu_avx512f()) {
            n16 = nn / 16 * 16, w16 = words / 16 * 16;
            copy_tiles(src, words, col, pb, n0, n16, w16);
        }
#endif
        copy_words(src, words, col, pb, n0, 0, n16, w16, words); /* the rest */
        copy_words(src, words, col, pb, n0, n16, nn, 0, words);
    }
}

int64_t ls_mm_bf16_direct_packs(const ls_mm_bf16 *mm) { return mm->direct_packs; }

/* Packs fixed weights into layout md (the one the primitive e chose). False when that
 * failed (the products then use the plain weights). */
static bool pack_fixed(ls_mm_bf16 *mm, int threads, fixed_weights *fw, const mm_entry *e)
{
    size_t need = dnnl_memory_desc_get_size(&e->wei_md);
    if (need > fw->cap) {
        ls_free_big(fw->buf);
        fw->buf = ls_alloc_big(need);
        fw->cap = fw->buf ? need : 0;
        if (!fw->buf)
            return fail(mm, "packed weights allocation", dnnl_out_of_memory);
    }
    fw->md = e->wei_md;
    /* Blocks padded beyond the matrix are read by the kernels: zeros there. */
    if (need > (size_t)(fw->out * fw->in) * sizeof(uint16_t))
        memset(fw->buf, 0, need);
    pair_job pj = {fw, {0, 0, 0, 0}, 0};
    const char *how = getenv("LAYERSCOPE_BF16_PACK"); /* "onednn": the reorder (tests) */
    if (!(how && strcmp(how, "onednn") == 0) && pair_blocks_of(&fw->md, fw->in, &pj.pb)) {
        int64_t blocks = (fw->out + pj.pb.b_blk - 1) / pj.pb.b_blk;
        int64_t tasks = threads < 1 ? 1 : threads < blocks ? threads : blocks;
        pj.col_blocks = (blocks + tasks - 1) / tasks;
        if (tasks == 1)
            pair_task(&pj, 0);
        else
            (void)ls_parallel_for(tasks, threads, pair_task, &pj);
        fw->packed = true;
        mm->direct_packs++;
        return true;
    }
    pack_job j;
    memset(&j, 0, sizeof j);
    j.mm = mm, j.fw = fw;
    int64_t blocks = (fw->out + 63) / 64;
    int64_t tasks = threads < blocks ? threads : blocks;
    tasks = tasks < 1 ? 1 : tasks > MAX_SLOTS ? MAX_SLOTS : tasks;
    j.cols = (blocks + tasks - 1) / tasks * 64;
    tasks = (fw->out + j.cols - 1) / j.cols;
    for (int64_t t = 0; t < tasks; t++)
        if (!slot_ready(mm, (int)t, 0))
            return false;
    if (tasks == 1)
        pack_task(&j, 0);
    else
        (void)ls_parallel_for(tasks, threads, pack_task, &j);
    for (int64_t t = 0; t < tasks; t++)
        if (j.st[t] != dnnl_success)
            return fail(mm, "weights packing", j.st[t]);
    fw->packed = true;
    return true;
}

typedef struct part_job {
    ls_mm_bf16 *mm;
    const mm_entry *e[MAX_SLOTS];
    const void *wdata[MAX_SLOTS]; /* packed or plain weights of each part */
    const float *x;
    float *y;
    int64_t ldx, ldy, rows, per, out, in;
    dnnl_status_t st[MAX_SLOTS];
} part_job;

/* Part t: rows t*per .. of x and y on slot t. Memory objects are made per call (cheap)
 * so that parts sharing a primitive never share them. */
static void part_task(void *p, int64_t t)
{
    part_job *j = p;
    ls_mm_bf16 *mm = j->mm;
    const mm_entry *e = j->e[t];
    omp_set_num_threads(1); /* oneDNN's own parallel loops stay on this thread */
    int64_t r0 = t * j->per, n = j->rows - r0 < j->per ? j->rows - r0 : j->per;
    uint16_t *xb = mm->xb + r0 * j->in;
    convert_rows(1, j->x + r0 * j->ldx, j->ldx, n, j->in, xb);
    bool dense = j->ldy == j->out;
    float *dst_data = dense ? j->y + r0 * j->ldy : mm->ybuf[t];
    dnnl_memory_t src = NULL, wei = NULL, dst = NULL, scr = NULL;
    dnnl_status_t st;
    if (!(st = dnnl_memory_create(&src, &e->src_md, mm->engine, xb)) &&
        !(st = dnnl_memory_create(&wei, &e->wei_md, mm->engine, (void *)j->wdata[t])) &&
        !(st = dnnl_memory_create(&dst, &e->dst_md, mm->engine, dst_data)) &&
        !(e->scratch_size &&
          (st = dnnl_memory_create(&scr, &e->scratch_md, mm->engine, mm->scratch[t])))) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei},
                                   {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scr}};
        st = dnnl_primitive_execute(e->prim, mm->stream[t], scr ? 4 : 3, args);
        if (!st)
            st = dnnl_stream_wait(mm->stream[t]);
        if (!st && !dense)
            for (int64_t r = 0; r < n; r++)
                memcpy(j->y + (r0 + r) * j->ldy, dst_data + r * j->out,
                       (size_t)j->out * sizeof(float));
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

static fixed_weights *find_fixed(ls_mm_bf16 *mm, const uint16_t *W)
{
    for (int i = 0; i < MAX_FIXED; i++)
        if (mm->fixed[i].W == W)
            return &mm->fixed[i];
    return NULL;
}

void ls_mm_bf16_weights_fixed(ls_mm_bf16 *mm, const uint16_t *W, int64_t out, int64_t in)
{
    if (!mm || !W)
        return;
    fixed_weights *fw = find_fixed(mm, W);
    for (int i = 0; !fw && i < MAX_FIXED; i++)
        if (!mm->fixed[i].valid)
            fw = &mm->fixed[i]; /* reuse an idle slot and its buffer */
    if (!fw)
        return; /* all slots busy: this one stays plain */
    fw->W = W, fw->out = out, fw->in = in, fw->valid = true, fw->packed = false;
}

void ls_mm_bf16_weights_changed(ls_mm_bf16 *mm, const uint16_t *W)
{
    if (!mm)
        return;
    for (int i = 0; i < MAX_FIXED; i++)
        if (mm->fixed[i].valid && (!W || mm->fixed[i].W == W))
            mm->fixed[i].valid = mm->fixed[i].packed = false;
}

void ls_mm_bf16_xwt(ls_mm_bf16 *mm, int threads, const float *x, int64_t ldx, int64_t rows,
                    const uint16_t *W, int64_t out, int64_t in, float *y, int64_t ldy)
{
    if (rows <= 0 || out <= 0)
        return;
    if (rows * in > mm->xb_cap) {
        ls_free_big(mm->xb);
        mm->xb = ls_alloc_big((size_t)(rows * in) * sizeof *mm->xb);
        mm->xb_cap = mm->xb ? rows * in : 0;
        if (!mm->xb) {
            fail(mm, "activation buffer allocation", dnnl_out_of_memory);
            goto zero;
        }
    }
    /* Parts over rows when the product is large enough to pay for a thread. */
    threads = threads < 1 ? 1 : threads > MAX_SLOTS ? MAX_SLOTS : threads;
    int64_t per = rows;
    if (threads > 1 && rows * out * in >= ((int64_t)1 << 22) && rows >= 16 * threads)
        per = (rows + threads - 1) / threads;
    int64_t n_parts = (rows + per - 1) / per;
    part_job j;
    memset(&j, 0, sizeof j);
    j.mm = mm, j.x = x, j.y = y, j.ldx = ldx, j.ldy = ldy;
    j.rows = rows, j.per = per, j.out = out, j.in = in;
    fixed_weights *fw = find_fixed(mm, W);
    if (fw && (!fw->valid || fw->out != out || fw->in != in))
        fw = NULL;
    if (fw && !fw->packed) {
        /* the first product after fixing packs, for the layout of its first part */
        mm_entry *e = lookup(mm, per, out, in, true);
        if (!e)
            goto zero;
        if (!pack_fixed(mm, threads, fw, e))
            goto zero;
    }
    for (int64_t t = 0; t < n_parts; t++) {
        int64_t n = rows - t * per < per ? rows - t * per : per;
        if (ldy != out && n * out > mm->ybuf_cap[t]) {
            ls_free_big(mm->ybuf[t]);
            mm->ybuf[t] = ls_alloc_big((size_t)(n * out) * sizeof(float));
            mm->ybuf_cap[t] = mm->ybuf[t] ? n * out : 0;
            if (!mm->ybuf[t]) {
                fail(mm, "result buffer allocation", dnnl_out_of_memory);
                goto zero;
            }
        }
        mm_entry *e = fw ? lookup(mm, n, out, in, true) : NULL;
        if (e && dnnl_memory_desc_equal(&e->wei_md, &fw->md)) {
            j.wdata[t] = fw->buf;
        } else { /* not fixed, or this row count wants another layout: plain */
            e = lookup(mm, n, out, in, false);
            j.wdata[t] = W;
        }
        j.e[t] = e;
        if (!e || !slot_ready(mm, (int)t, e->scratch_size))
            goto zero;
    }
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
