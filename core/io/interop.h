/* Files for the tools around layerscope (issue "interoperability"):
 *  - the paper toolkit's CSV formats (docs/method.md §10): kurtosis-<model>.csv and a
 *    fnorm-style metrics file, so results plot with its R scripts and reload here;
 *  - a per-tensor override list for llama.cpp's llama-quantize (--tensor-type), mapping each
 *    boosted module's bits to the closest GGUF type: an approximation, marked as such.
 * All files are written atomically. */
#ifndef LS_INTEROP_H
#define LS_INTEROP_H

#include "method/analysis.h"
#include "base/error.h"
#include "method/profile.h"

/* module, layer, param_count, kurtosis; grouped by module in the toolkit's order (q, k, v,
 * o, gate, down, up), layers ascending. Unknown values are written as NA. */
int ls_write_kurtosis_csv(const char *path, const ls_profile *p, ls_error *err);

/* layer, module, nbit1, gsize1, nbit2, gsize2, fnorm, memmb, params, kurtosis, cost_sensi,
 * sensitivity: one row per layer x module x 12 configs in the toolkit's order (layers
 * ascending; modules q, v, k, o, gate, up, down; configs by nbit1 then gsize1). fnorm is
 * NA where no quantization error is known; cost_sensi is 2 where the row's sensitivity has
 * a z-score above 3 over the whole column (mean and sample std), else 1. */
int ls_write_metrics_csv(const char *path, const ls_profile *p, ls_error *err);

/* GGUF type name closest to b bits ("q2_K", "q3_K", "q4_K", "q8_0"). */
const char *ls_gguf_type_for_bits(int nbits);

/* A text file of llama-quantize arguments: one `--tensor-type REGEX=TYPE` per boosted
 * matrix, and a comment with the suggested command and base type. */
int ls_write_llamacpp_overrides(const char *path, const ls_profile *p, const ls_analysis *a,
                                ls_error *err);

#endif
