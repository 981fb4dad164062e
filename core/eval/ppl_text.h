/* Perplexity on a text file: reading and checking the text (non-empty, UTF-8), the
 * HF-rows rebuild of WikiText for the paper protocol (docs/method.md §9.1), tokenizing once,
 * and the paper's central comparison: PPL of the unquantized model (fp), of the base
 * allocation and of the current allocation (HQQ with the paper's model config per module),
 * with the delta in percent.
 *
 *   ls_ppl_compare c;
 *   ls_ppl_compare_run(m, tok, "wiki.test.raw", &params, LS_TEXT_AUTO, base_cfg, cur_cfg,
 *                      qm, threads, progress, on_window, ctx, &c, &err);
 *   ... c.fp.ppl, c.base.ppl, c.current.ppl, c.delta_pct ...
 *   ls_ppl_compare_free(&c);
 */
#ifndef LS_PPL_TEXT_H
#define LS_PPL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "eval/perplexity.h"
#include "base/progress.h"
#include "quant/qmodel.h"
#include "tokenizer/tokenizer.h"

typedef enum ls_text_mode {
    LS_TEXT_AUTO,    /* HF rows for the paper protocol on a file named wiki.*.raw, else as is */
    LS_TEXT_AS_IS,   /* the file's bytes */
    LS_TEXT_HF_ROWS  /* WikiText rebuilt as the HF data set rows joined by "\n\n" */
} ls_text_mode;

/* Reads a whole regular file; fails on a missing, non-regular (FIFO, device, directory) or
 * empty file, on a file above the text size limit and on invalid UTF-8 (naming the byte
 * offset). *text is NUL-terminated and malloc'ed. */
int ls_text_read(const char *path, char **text, size_t *len, ls_error *err);

/* The text size limit in MiB (--max-text-mib): a guard against a wrong path (a device, a
 * disk image) filling memory. Values outside 1..LS_TEXT_MAX_MIB_LIMIT are ignored. */
#define LS_TEXT_MAX_MIB_DEFAULT ((size_t)1024)
#define LS_TEXT_MAX_MIB_LIMIT 1048576
void ls_text_set_max_mib(int64_t mib);
int64_t ls_text_max_mib(void);

/* Offset of the first invalid UTF-8 byte, or -1 when the text is valid. */
int64_t ls_utf8_invalid_at(const char *s, size_t len);

/* WikiText raw -> HF rows joined by "\n\n": split at "\n" (ignoring the empty piece after
 * the last "\n"), whitespace-only lines become "", others get their "\n" back. */
char *ls_wikitext_hf_rows(const char *text, size_t len, size_t *out_len, size_t *n_rows);

/* The text of path tokenized once as the protocol wants it (BOS first when the tokenizer
 * adds one). *bos is the BOS id or -1. note says which text mode was used. */
int ls_ppl_text_tokens(const char *path, ls_text_mode mode, ls_ppl_protocol protocol,
                       const ls_tokenizer *tok, const ls_model *m, int32_t **ids, int64_t *n,
                       int *bos, char *note, size_t note_cap, ls_error *err);

typedef struct ls_ppl_compare {
    ls_ppl_protocol protocol;
    int ctx, stride;
    int64_t n_tokens;
    bool have_fp, have_base, have_current;
    ls_ppl_result fp, base, current;
    double delta_pct;       /* 100 * (current - base) / base; NaN without both */
    double delta_fp_pct;    /* 100 * (current - fp) / fp; NaN without both */
    char note[256];
} ls_ppl_compare;

void ls_ppl_compare_free(ls_ppl_compare *c);

/* Tokenizes eval_path once, then evaluates: fp always, base when base_cfg != NULL, current
 * when cur_cfg != NULL (stop index per LS_IDX(layer, module)). qm is a cache of quantized
 * modules (core/quant/qmodel.h) reused across calls; NULL = a temporary one. Modules equal in
 * base and current are quantized once. Nothing is filled on error or cancel. */
int ls_ppl_compare_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                       const ls_ppl_params *params, ls_text_mode mode,
                       const unsigned char *base_cfg, const unsigned char *cur_cfg,
                       ls_qmodel *qm, int threads, ls_progress *progress,
                       ls_ppl_window_fn on_window, void *cb_ctx, ls_ppl_compare *out,
                       ls_error *err);

#endif
