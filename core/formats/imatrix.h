/* llama.cpp importance matrices (imatrix): per linear input channel j, the mean squared
 * activation E[x_j^2] over a calibration text. Two formats, told apart by content:
 *   GGUF    general.type = "imatrix"; per matrix NAME.in_sum2 (F32 {n_cols, n_mat}: sums of
 *           x_j^2) and NAME.counts (F32 {1, n_mat}: tokens summed); imatrix.datasets,
 *           imatrix.chunk_count, imatrix.chunk_size.
 *   legacy  int32 entry count; per entry int32 name length, name, int32 ncall, int32 n,
 *           n float32 values (mean * ncall); optionally int32 chunks, int32 length, dataset.
 * Matrix names follow GGUF naming (blk.N.attn_q.weight ... blk.N.ffn_down.weight).
 *
 *   ls_imatrix *im;
 *   if (ls_imatrix_read("imatrix.gguf", &im, &err) < 0) ...   // one line in err
 *   double e = ls_imatrix_energy(&im->entries[0]);            // sum_j E[x_j^2]
 *   ls_imatrix_free(im);
 */
#ifndef LS_IMATRIX_H
#define LS_IMATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

/* The per-tensor statistics `llama-imatrix --show-statistics` prints, over the per-channel
 * means E[x_j^2] of one matrix's input (docs: README "Importance matrices"). */
typedef struct ls_act_stats {
    bool known;
    int64_t n;        /* input channels */
    double sum;       /* sum of E[x_j^2] = act_energy */
    double min, max, mean, stddev;
    double active;    /* fraction of channels with E[x_j^2] > 1e-5 */
    double entropy;   /* bits, of E[x_j^2] / sum */
    double entropy_norm; /* entropy / log2(n) */
    double zd;        /* fraction of channels with z-score > 1 */
    double cossim;    /* cosine similarity with the same matrix one layer earlier; NaN = none */
} ls_act_stats;

/* Where an importance matrix came from (the JSON document's "imatrix" object). */
typedef struct ls_imatrix_meta {
    char file[512];   /* "" = no imatrix */
    char format[16];  /* "gguf" or "legacy" */
    int64_t chunks;   /* -1 unknown */
    char dataset[256];
    int entries;
} ls_imatrix_meta;

typedef enum ls_imatrix_format { LS_IMATRIX_GGUF, LS_IMATRIX_LEGACY } ls_imatrix_format;

const char *ls_imatrix_format_name(ls_imatrix_format f); /* "gguf" "legacy" */

#define LS_IMATRIX_MAX_WARNINGS 8

typedef struct ls_imatrix_entry {
    char name[128];  /* matrix name, e.g. "blk.3.attn_q.weight" */
    int layer;       /* from the name */
    int module;      /* enum ls_module */
    int64_t n_cols;  /* input channels */
    float *sum2;     /* [n_cols] sums of x_j^2 (legacy: E[x_j^2] * ncall) */
    double count;    /* what sum2 is divided by: tokens (GGUF counts) or ncall (legacy) */
    bool bad;        /* NaN, infinite or negative values, or a count <= 0: left out */
} ls_imatrix_entry;

typedef struct ls_imatrix {
    char *path;
    ls_imatrix_format format;
    int n_entries;
    ls_imatrix_entry *entries; /* matrices layerscope knows; unknown names are skipped */
    int64_t chunks;            /* -1 unknown */
    int64_t chunk_size;        /* tokens per chunk (GGUF); -1 unknown */
    char dataset[256];         /* datasets joined by ", "; "" unknown */
    int n_layers;              /* highest layer + 1 */
    int n_warnings;            /* skipped names and bad entries, one line each */
    char warnings[LS_IMATRIX_MAX_WARNINGS][256];
    int n_warnings_dropped;    /* warnings beyond the table */
} ls_imatrix;

/* What a file holds, by content: an imatrix of either format, or neither. */
typedef enum ls_imatrix_kind { LS_IMATRIX_NOT, LS_IMATRIX_IS_GGUF, LS_IMATRIX_IS_LEGACY }
    ls_imatrix_kind;
ls_imatrix_kind ls_imatrix_sniff(const char *path);

/* Reads either format. Fails with one line ("FILE: FIELD: reason") on truncation, a wrong
 * general.type, expert (MoE) tensors, duplicate names, no usable entry. Unknown names and
 * entries with bad values become warnings naming them. */
int ls_imatrix_read(const char *path, ls_imatrix **out, ls_error *err);
int ls_imatrix_parse(const char *path, const uint8_t *data, size_t size, ls_imatrix **out,
                     ls_error *err);
void ls_imatrix_free(ls_imatrix *im);

/* E[x_j^2] of channel j. */
double ls_imatrix_mean(const ls_imatrix_entry *e, int64_t j);
/* act_energy = sum_j E[x_j^2] (NaN for a bad entry). */
double ls_imatrix_energy(const ls_imatrix_entry *e);
/* Index of the entry for (layer, module), or -1. */
int ls_imatrix_find(const ls_imatrix *im, int layer, int module);

/* The statistics of llama-imatrix --show-statistics for entry i (cossim against the same
 * module one layer earlier, on the raw sums as llama.cpp does). */
void ls_imatrix_stats(const ls_imatrix *im, int i, ls_act_stats *out);

/* An empty imatrix shaped like a model's 7 linear types per layer, to accumulate into. */
ls_imatrix *ls_imatrix_for_model(const ls_model *m, ls_error *err);
/* Adds rows x n_cols inputs x (row-major) to entry e. */
void ls_imatrix_accumulate(ls_imatrix_entry *e, const float *x, int64_t rows);

/* Writes im as a GGUF imatrix (llama-quantize --imatrix reads it), atomically. */
int ls_imatrix_write_gguf(const char *path, const ls_imatrix *im, ls_error *err);

#endif
