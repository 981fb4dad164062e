/* Saving and reloading a quantized model (--save-quantized DIR). The directory holds:
 *   qmodel.safetensors  per module model.layers.L.MODULE.{W_q, scale, zero} (packed codes in
 *                       HQQ's layout; the per-group scale and zero dequantization uses, F32),
 *                       and, when the metadata was quantized, HQQ's own forms .scale_q,
 *                       .meta_scale.{scale,zero}, .zero_q, .meta_zero.{scale,zero}; the
 *                       unquantized tensors (embeddings, norms, head, biases) under their
 *                       Hugging Face names at their stored dtype; __metadata__ describes
 *                       each module as a JSON string (nbits, group_size, shape, axis, ...)
 *   quant.json          per module config and results (format layerscope-quantized v1)
 *   allocation.json     the allocation export (optimal_configs for the paper's HQQ fork)
 *   config.json         the model's Hugging Face config (copied, or written from the config)
 * The directory is written beside the target (DIR.tmp.XXXXXX) and swapped into place with
 * renameat2(RENAME_EXCHANGE) where the kernel and file system allow, else by two renames
 * (DIR.old.XXXXXX; DIR is briefly absent). An existing target is replaced only if it is
 * itself a layerscope quantized model. Directories get 0777 less the umask (a replaced
 * model's mode is kept); files 0666 less the umask. Environment: LAYERSCOPE_NO_RENAMEAT2=1
 * forces the two-rename fallback. */
#ifndef LS_QMODEL_IO_H
#define LS_QMODEL_IO_H

#include "method/analysis.h"
#include "base/error.h"
#include "formats/model.h"
#include "method/profile.h"
#include "quant/qmodel.h"

int ls_qmodel_save(const char *dir, const ls_qmodel *qm, const ls_model *m,
                   const ls_profile *p, const ls_analysis *a, ls_error *err);

/* Removes leftovers of an interrupted save of dir: directories beside it named
 * DIR.tmp.XXXXXX or DIR.old.XXXXXX that hold the marker file .layerscope-temporary (of no
 * running process) and plain files only. Nothing else is touched. ls_qmodel_save calls it
 * first. *n_removed (if given) counts what was removed. */
int ls_qmodel_clean_leftovers(const char *dir, int *n_removed);

/* Loads dir back for model m (layer count and every shape must match). */
int ls_qmodel_load(const char *dir, const ls_model *m, ls_qmodel **out, ls_error *err);

#endif
