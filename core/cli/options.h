/* Command-line options shared by batch mode and the explorer. Parsing is pure: no output,
 * no exit; --help and --version are reported as flags for the caller to act on. */
#ifndef LS_OPTIONS_H
#define LS_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "method/analysis.h"
#include "base/error.h"
#include "method/import.h"

typedef struct ls_options {
    bool batch, help, version;
    bool list_models;            /* --list-models: print what discovery finds and exit */
    bool quantize;               /* --quantize: HQQ over the whole model (batch mode) */
    bool no_quant_meta;          /* --no-quant-meta: keep scale and zero unquantized */
    const char *save_quantized;  /* --save-quantized DIR (implies --quantize) */
    const char *session;         /* --session FILE: resume a saved exploration */
    /* perplexity (--perplexity and its parameters) */
    bool perplexity;
    const char *eval_path;       /* --eval FILE; NULL = the sample's text with the demo */
    int ppl_protocol;            /* enum ls_ppl_protocol */
    int ctx, stride, chunks;     /* 0 = the protocol's defaults */
    bool allow_long_ctx;         /* --allow-long-ctx: a ctx beyond the model's context */
    const char *load_quantized;  /* --quantized DIR: the current allocation from a save */
    /* KL divergence against fp (--kld and its parameters; issue 10) */
    bool kld;                    /* --kld: the "quality" measures with --perplexity */
    double precision;            /* --precision R: sequential stop; 0 = off */
    int kld_top_k;               /* --kld-top-k K: reference top-k when full logits do not
                                    fit the cache limit; 0 = 64 */
    const char *cache_dir;       /* --cache-dir DIR; NULL = $LAYERSCOPE_CACHE_DIR, XDG */
    long long cache_limit;       /* --cache-limit SIZE in bytes; 0 = 2 GiB */
    bool no_cache;               /* --no-cache */
    /* activation sensitivity (--sensitivity and its parameters) */
    bool measure_sensitivity;
    const char *calib_path;      /* --calib FILE; NULL = the sample's text with the demo */
    int calib_samples, calib_seqlen; /* 0 = defaults (128, 512) */
    bool calib_no_shuffle;
    const char *sensitivity_out; /* --export-sensitivity-csv FILE */
    const char *save_session;    /* --save-session FILE */
    const char *model_path;      /* MODEL directory/file or PROFILE csv; NULL = none */
    const char *json_path;       /* --json FILE */
    const char *export_path;     /* --export FILE */
    const char *kurtosis_out;    /* --export-kurtosis-csv FILE */
    const char *metrics_out;     /* --export-metrics-csv FILE */
    bool measure_fnorm;          /* --fnorm: the toolkit's FNorm for all 12 configs */
    const char *llamacpp_out;    /* --export-llamacpp FILE */
    const char *manual_path;     /* --manual FILE */
    const char *tokenizer_path;  /* --tokenizer FILE */
    const char *sensitivity_csv; /* --sensitivity-csv FILE */
    const char *kurtosis_csv;    /* --kurtosis-csv FILE */
    ls_sensi_select sensi_select;
    const char *imatrix_path;    /* --imatrix FILE: a llama.cpp importance matrix */
    const char *imatrix_out;     /* --export-imatrix FILE (implies --sensitivity) */
    int agreement_top;           /* --agreement-top N; 0 = 10 */
    bool measure;                /* --measure: the measured ΔKL per matrix */
    long measure_tokens;         /* --measure-tokens N; 0 = 16384 */
    const char *measure_state;   /* --measure-state FILE; NULL = in the cache directory */
    const char *measure_out;     /* --export-measure-csv FILE (implies --measure) */
    int threads;                 /* 0 = all cores */
    int compute;                 /* --compute: enum ls_compute (f32 default, or bf16) */
    long max_text_mib;           /* --max-text-mib N; 0 = the default limit */
    ls_settings settings;
    bool frontier;               /* --frontier: measure the memory-quality frontier */
    const char *frontier_svg;    /* --frontier-svg FILE (implies --frontier) */
    const char *frontier_csv;    /* --frontier-csv FILE (implies --frontier) */
    bool settings_given;         /* any of method/mode/top-m/stop/base/seed/ablation given */
} ls_options;

/* Fills o from argv (defaults: the paper's headline setting). Returns -1 with a one-line
 * message naming the option on bad input. */
int ls_options_parse(int argc, char **argv, ls_options *o, ls_error *err);

/* Prints the --help text. */
void ls_options_print_usage(FILE *f);

#endif
