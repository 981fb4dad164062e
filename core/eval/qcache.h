/* The evaluation cache (issue 10): files under ls_qcache_dir(), one per entry, each a fixed
 * header then a payload.
 *   - the fp reference of a text (kind LS_QCACHE_REF), keyed by (model fingerprint, text
 *     hash, protocol, ctx, stride);
 *   - the per-token results of one allocation (kind LS_QCACHE_ALLOC), keyed by the same plus
 *     a hash of the allocation (stop per module and the quant_meta flag).
 * Header (native byte order, this struct as is): magic "LSQCACHE", version, kind, the key
 * fields, the shape (vocab, k, layers, dim, windows, tokens, hidden rows), the payload size
 * and an FNV-1a 64 checksum of the payload. A file whose size, magic, version, checksum or key
 * does not match is ignored (the caller says so in one line) and recomputed. Files are
 * written atomically (core/base/atomic_write.h); after a write the directory is trimmed to
 * the size limit by deleting the least recently used entries (modification time; a hit
 * touches its file). An unwritable directory is reported once per process.
 *
 * Model fingerprint (ls_qcache_model_key): FNV-1a 64 over the tensor table (names, types,
 * shapes), the config, and per file its size, its first 64 KiB and 64 samples of 4 KiB spread
 * evenly over it, so edited weights anywhere change it without reading the whole model. Text hash: FNV-1a 64 of the token ids and the BOS id the protocol uses,
 * so the tokenizer and the text mode are covered too. */
#ifndef LS_QCACHE_H
#define LS_QCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/model.h"

enum { LS_QCACHE_REF = 1, LS_QCACHE_ALLOC = 2 };
#define LS_QCACHE_VERSION 1

typedef struct ls_qcache_hdr {
    char magic[8];           /* "LSQCACHE" */
    uint32_t version, kind;
    uint64_t model, text, alloc;     /* key (alloc = 0 for the reference) */
    int32_t protocol, ctx, stride;   /* key */
    int32_t vocab, k, n_layers, dim, reserved;
    int64_t n_windows, n_tokens;     /* windows covered, scored tokens stored */
    int64_t hidden_windows, hidden_rows; /* fp hidden states kept (reference only) */
    uint64_t payload_bytes, checksum;
} ls_qcache_hdr;

/* The cache directory: $LAYERSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/layerscope, else
 * $HOME/.cache/layerscope. -1 when none can be named. */
int ls_qcache_dir(char *buf, size_t cap);

uint64_t ls_qcache_model_key(const ls_model *m);
uint64_t ls_qcache_hash(uint64_t h, const void *data, size_t n); /* FNV-1a 64 step */
#define LS_QCACHE_HASH_INIT 0xcbf29ce484222325ull

/* File name of an entry (key fields of h) inside dir. */
void ls_qcache_path(const char *dir, const ls_qcache_hdr *h, char *buf, size_t cap);

/* Looks for the entry with want's kind and key. Returns 1 with *got and *payload
 * (malloc'ed) when found and intact, 0 when absent, -1 when a file was there but is
 * ignored (why says which file and what is wrong, one line). */
int ls_qcache_load(const char *dir, const ls_qcache_hdr *want, ls_qcache_hdr *got,
                   void **payload, char *why, size_t why_cap);

/* Writes h (magic, version, payload size and checksum filled here) and the payload parts
 * atomically, then evicts oldest-first beyond limit bytes. Returns 0, or -1 with why (an
 * unwritable directory: only the first time in the process; later calls return -1 with
 * why ""). */
int ls_qcache_store(const char *dir, ls_qcache_hdr *h, const void *const *parts,
                    const size_t *sizes, int n_parts, int64_t limit, char *why,
                    size_t why_cap);

/* Deletes the least recently used entries of dir until their total is <= limit, never
 * `keep` (a file name, may be NULL). Returns the number deleted. */
int ls_qcache_evict(const char *dir, int64_t limit, const char *keep);

#endif
