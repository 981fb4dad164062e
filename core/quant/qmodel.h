/* Whole-model HQQ quantization (issue "HQQ engine", part 3): every (layer, module) with its
 * config from an allocation, streamed from the mapped weights one module at a time. The
 * quantized model is kept (packed codes and metadata, about the size of the quantized
 * model); modules whose config did not change since the last run are not quantized again. */
#ifndef LS_QMODEL_H
#define LS_QMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "quant/hqq.h"
#include "formats/model.h"
#include "base/progress.h"

typedef struct ls_qmodule {
    int stop;               /* stop index quantized with; -1 = not quantized */
    ls_hqq_result q;        /* packed codes and metadata (owned) */
    double qerr;            /* ||W - deq(Q(W))||_F */
    double qerr_mean_abs;   /* mean |W - deq(Q(W))| */
} ls_qmodule;

typedef struct ls_qmodel {
    int n_layers;
    bool quant_meta;        /* the paper's model config: 8-bit scale (g128) and zero */
    ls_qmodule *mods;       /* [n_layers * 7], LS_IDX order */
    int n_last_quantized;   /* modules quantized by the last run (the rest were reused) */
    double last_seconds;
} ls_qmodel;

ls_qmodel *ls_qmodel_new(int n_layers, bool quant_meta, ls_error *err);
void ls_qmodel_free(ls_qmodel *qm);

/* The HQQ config of a stop as the paper's fork runs model quantization: axis 0, optimize,
 * round_zero for 4-bit, metadata quantized unless quant_meta is false. */
void ls_qmodel_hqq_cfg(int stop, bool quant_meta, ls_hqq_cfg *cfg);

/* Quantizes every module whose stop in cfg[] (LS_IDX order) differs from what qm holds.
 * Progress is per module; on cancel (or error) the modules done so far stay valid and the
 * function returns -1. */
int ls_qmodel_quantize(ls_qmodel *qm, const ls_model *m, const unsigned char *cfg,
                       int threads, ls_progress *progress, ls_error *err);

/* Weights (elements) ls_qmodel_quantize would quantize to bring qm (NULL: empty) to cfg, and
 * in *all the linear weights of the model; for progress plans that weigh steps by work. */
int64_t ls_qmodel_pending_elems(const ls_qmodel *qm, const ls_model *m,
                                const unsigned char *cfg, int64_t *all);

typedef struct ls_qtotals {
    int n_modules;          /* quantized modules */
    int64_t params;
    double nominal_mib;     /* paper's bits per parameter */
    double stored_mib;      /* what HQQ 0.1.x stores */
    double stored_bpp, nominal_bpp;
    double fro_total;       /* sqrt of the summed squared errors */
    int64_t nonfinite;      /* non-finite weights met */
    int scale_meta_skipped; /* modules whose scale stayed unquantized (128 does not divide) */
} ls_qtotals;

void ls_qmodel_totals(const ls_qmodel *qm, ls_qtotals *out);

#endif
