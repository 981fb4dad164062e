/* Hugging Face config.json -> ls_config (docs/formats.md §2.1, §2.2). */
#ifndef LS_HFCONFIG_H
#define LS_HFCONFIG_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/error.h"

#include "formats/model.h"

/* Parses config.json text (json[len], need not be NUL-terminated). Fills cfg, with rope_layout = LS_ROPE_HALVES (HF
 * checkpoints store q/k rows for rotate-half RoPE). Non-fatal notes (defaults that differ
 * between architectures) are appended to warn as "path: field: note" lines when warn is
 * non-NULL. `path` is only used in messages. */
int ls_hf_config_parse(const char *path, const char *json, size_t len, ls_config *cfg,
                       char *warn, size_t warn_size, ls_error *err);

/* Reads and parses the file at path. */
int ls_hf_config_load(const char *path, ls_config *cfg, char *warn, size_t warn_size,
                      ls_error *err);

/* The inverse: a config.json object for c (transformers' field names; torch_dtype is
 * "float32", "float16" or "bfloat16"). Caller owns it. */
cJSON *ls_hf_config_to_json(const ls_config *c, const char *torch_dtype);

#endif
