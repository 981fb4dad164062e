/* Model discovery: Hugging Face cache snapshots ($HF_HOME/hub, else
 * ~/.cache/huggingface/hub) and the models and toolkit profiles in one directory. */
#ifndef LS_DISCOVER_H
#define LS_DISCOVER_H

#include <stddef.h>

typedef struct ls_found_model {
    char *path;   /* directory or file */
    char *name;   /* "meta-llama/Llama-2-7b-hf" for the cache, else the base name */
    char *kind;   /* "hf", "hf-sharded", "gguf", "llama2c", "profile" */
    char *origin; /* "hf-cache" or "directory" */
} ls_found_model;

typedef struct ls_found_list {
    ls_found_model *items;
    size_t n, cap;
} ls_found_list;

/* Appends what it finds (never fails: unreadable places are skipped). hub_dir NULL means the
 * default cache location; dir NULL means the current directory. Sorted by origin, name. */
void ls_discover_hf_cache(const char *hub_dir, ls_found_list *out);
void ls_discover_directory(const char *dir, ls_found_list *out);
/* The bundled demo model (core/io/samples.h) when it exists, origin "bundled", so
 * the picker and --list-models offer it from any directory, the repository root included.
 * Skipped when the list already holds the same directory. */
void ls_discover_bundled(ls_found_list *out);
void ls_found_list_sort(ls_found_list *l);
void ls_found_list_free(ls_found_list *l);

#endif
