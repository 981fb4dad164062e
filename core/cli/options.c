#include "cli/options.h"

#include "eval/perplexity.h"
#include "eval/ppl_text.h"
#include "method/mxq.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_JSON = 256,
    OPT_EXPORT,
    OPT_METHOD,
    OPT_MODE,
    OPT_TOP_M,
    OPT_BOOST_STOP,
    OPT_BASE,
    OPT_ABLATION,
    OPT_SEED,
    OPT_MANUAL,
    OPT_TOKENIZER,
    OPT_THREADS,
    OPT_SENSI_CSV,
    OPT_KURT_CSV,
    OPT_SENSI_DATASET,
    OPT_SENSI_CONFIG,
    OPT_THRESHOLD,
    OPT_TRIM,
    OPT_KURT_OUT,
    OPT_METRICS_OUT,
    OPT_LLAMACPP_OUT,
    OPT_LIST_MODELS,
    OPT_QUANTIZE,
    OPT_NO_QUANT_META,
    OPT_SAVE_QUANTIZED,
    OPT_SESSION,
    OPT_SAVE_SESSION,
    OPT_PERPLEXITY,
    OPT_EVAL,
    OPT_PPL_PROTOCOL,
    OPT_CTX,
    OPT_STRIDE,
    OPT_CHUNKS,
    OPT_ALLOW_LONG_CTX,
    OPT_LOAD_QUANTIZED,
    OPT_SENSITIVITY,
    OPT_CALIB,
    OPT_CALIB_SAMPLES,
    OPT_CALIB_SEQLEN,
    OPT_CALIB_NO_SHUFFLE,
    OPT_SENSI_OUT,
    OPT_FNORM,
    OPT_COMPUTE,
    OPT_MAX_TEXT_MIB,
    OPT_TARGET_BPP,
    OPT_TARGET_MIB,
    OPT_TARGET_EXTRA,
    OPT_FACTOR,
    OPT_FRONTIER,
    OPT_FRONTIER_SVG,
    OPT_FRONTIER_CSV,
    /* importance matrices (issue 12) */
    OPT_IMATRIX,
    OPT_EXPORT_IMATRIX,
    OPT_AGREEMENT_TOP,
    OPT_MEASURE,
    OPT_MEASURE_TOKENS,
    OPT_MEASURE_STATE,
    OPT_MEASURE_OUT,
    OPT_KLD,
    OPT_PRECISION,
    OPT_KLD_TOP_K,
    OPT_CACHE_DIR,
    OPT_CACHE_LIMIT,
    OPT_NO_CACHE,
};

static const struct option long_opts[] = {
    {"batch", no_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"json", required_argument, NULL, OPT_JSON},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"method", required_argument, NULL, OPT_METHOD},
    {"mode", required_argument, NULL, OPT_MODE},
    {"top-m", required_argument, NULL, OPT_TOP_M},
    {"boost-stop", required_argument, NULL, OPT_BOOST_STOP},
    {"base", required_argument, NULL, OPT_BASE},
    {"ablation", no_argument, NULL, OPT_ABLATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"manual", required_argument, NULL, OPT_MANUAL},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"sensitivity-csv", required_argument, NULL, OPT_SENSI_CSV},
    {"kurtosis-csv", required_argument, NULL, OPT_KURT_CSV},
    {"sensitivity-dataset", required_argument, NULL, OPT_SENSI_DATASET},
    {"sensitivity-config", required_argument, NULL, OPT_SENSI_CONFIG},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"trim", required_argument, NULL, OPT_TRIM},
    {"export-kurtosis-csv", required_argument, NULL, OPT_KURT_OUT},
    {"export-metrics-csv", required_argument, NULL, OPT_METRICS_OUT},
    {"export-llamacpp", required_argument, NULL, OPT_LLAMACPP_OUT},
    {"list-models", no_argument, NULL, OPT_LIST_MODELS},
    {"quantize", no_argument, NULL, OPT_QUANTIZE},
    {"no-quant-meta", no_argument, NULL, OPT_NO_QUANT_META},
    {"save-quantized", required_argument, NULL, OPT_SAVE_QUANTIZED},
    {"session", required_argument, NULL, OPT_SESSION},
    {"save-session", required_argument, NULL, OPT_SAVE_SESSION},
    {"perplexity", no_argument, NULL, OPT_PERPLEXITY},
    {"eval", required_argument, NULL, OPT_EVAL},
    {"ppl-protocol", required_argument, NULL, OPT_PPL_PROTOCOL},
    {"ctx", required_argument, NULL, OPT_CTX},
    {"stride", required_argument, NULL, OPT_STRIDE},
    {"chunks", required_argument, NULL, OPT_CHUNKS},
    {"allow-long-ctx", no_argument, NULL, OPT_ALLOW_LONG_CTX},
    {"quantized", required_argument, NULL, OPT_LOAD_QUANTIZED},
    {"sensitivity", no_argument, NULL, OPT_SENSITIVITY},
    {"calib", required_argument, NULL, OPT_CALIB},
    {"calib-samples", required_argument, NULL, OPT_CALIB_SAMPLES},
    {"calib-seqlen", required_argument, NULL, OPT_CALIB_SEQLEN},
    {"calib-no-shuffle", no_argument, NULL, OPT_CALIB_NO_SHUFFLE},
    {"export-sensitivity-csv", required_argument, NULL, OPT_SENSI_OUT},
    {"fnorm", no_argument, NULL, OPT_FNORM},
    {"compute", required_argument, NULL, OPT_COMPUTE},
    {"max-text-mib", required_argument, NULL, OPT_MAX_TEXT_MIB},
    {"target-bpp", required_argument, NULL, OPT_TARGET_BPP},
    {"target-mib", required_argument, NULL, OPT_TARGET_MIB},
    {"target-extra", required_argument, NULL, OPT_TARGET_EXTRA},
    {"factor", required_argument, NULL, OPT_FACTOR},
    {"frontier", no_argument, NULL, OPT_FRONTIER},
    {"frontier-svg", required_argument, NULL, OPT_FRONTIER_SVG},
    {"frontier-csv", required_argument, NULL, OPT_FRONTIER_CSV},
    {"imatrix", required_argument, NULL, OPT_IMATRIX},
    {"export-imatrix", required_argument, NULL, OPT_EXPORT_IMATRIX},
    {"agreement-top", required_argument, NULL, OPT_AGREEMENT_TOP},
    {"measure", no_argument, NULL, OPT_MEASURE},
    {"measure-tokens", required_argument, NULL, OPT_MEASURE_TOKENS},
    {"measure-state", required_argument, NULL, OPT_MEASURE_STATE},
    {"export-measure-csv", required_argument, NULL, OPT_MEASURE_OUT},
    {"kld", no_argument, NULL, OPT_KLD},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"kld-top-k", required_argument, NULL, OPT_KLD_TOP_K},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"cache-limit", required_argument, NULL, OPT_CACHE_LIMIT},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {NULL, 0, NULL, 0},
};

void ls_options_print_usage(FILE *f)
{
    /* In parts: ISO C guarantees string literals of 4095 characters only. */
    static const char *const parts[] = {
        "usage: layerscope [options] [MODEL|PROFILE]\n"
        "       layerscope --batch [--json FILE] [--export FILE] [options] MODEL|PROFILE\n"
        "\n"
        "MODEL is a Hugging Face directory (config.json + safetensors, sharded or not),\n"
        "a GGUF file or a llama2.c .bin checkpoint. PROFILE is a metrics CSV of the\n"
        "paper's toolkit (fnorm-<model>.csv), a kurtosis CSV or a sensitivity CSV,\n"
        "or a llama.cpp importance matrix (imatrix .gguf or legacy .dat).\n"
        "\n"
        "  -b, --batch              no interface: print the per-layer table and memory\n"
        "      --json FILE          write the result document (layerscope-result v1)\n"
        "      --export FILE        write the allocation (optimal_configs for HQQ)\n"
        "      --export-kurtosis-csv F   kurtosis in the toolkit's kurtosis-<model>.csv form\n"
        "      --export-metrics-csv F    metrics in the toolkit's fnorm-<model>.csv form\n"
        "      --fnorm              measure the toolkit's FNorm (HQQ error of all 12\n"
        "                           configs of every matrix) for that file's fnorm column\n"
        "      --export-llamacpp F  llama-quantize --tensor-type overrides (approximate)\n"
        "      --method M           sensi | kurt | both | manual      (default sensi)\n"
        "                           or a budget method: mxq | sensi-milp | kurt-milp\n"
        "      --mode D             subtract | divide: override the method's pairing\n"
        "      --top-m N            keep the N strongest outliers per module, 0..256;\n"
        "                           0 = all\n"
        "      --boost-stop N       boosted matrices move N stops up, 1..11 (default 3;\n"
        "                           0 is read as 1, as the paper's code does)\n"
        "      --base CFG           base config, b3g128 or 3.13 style  (default b3g128)\n"
        "      --ablation           random layers, as many as the method flags\n"
        "      --seed N             ablation seed                        (default 42)\n"
        "      --manual FILE        boosted set for --method manual: lines LAYER.MODULE\n"
        "      --sensitivity-csv F  take sensitivity from a toolkit sensitivity CSV\n",
        "      --target-bpp B       budget methods: at most B nominal bits per parameter\n"
        "                           over the 7 linear types (solved exactly)\n"
        "      --target-mib M       ... at most M MiB of linear weights\n"
        "      --target-extra PCT   ... at most PCT %% more memory than the base config\n"
        "      --factor F           sensi-milp/kurt-milp: cost weight of an outlier\n"
        "                           (default 2)\n"
        "      --frontier           measure the memory-quality frontier (uniform configs,\n"
        "                           SensiBoost, KurtBoost, ablation seeds, MXQ, current)\n"
        "                           with the perplexity options; needs a model\n"
        "      --frontier-svg FILE  ... and draw it as an SVG picture (implies --frontier)\n"
        "      --frontier-csv FILE  ... and write its table as CSV (implies --frontier)\n",
        "      --sensitivity-dataset NAME   rows of that file to use (default pileval,\n"
        "                           or the file's only data set)\n"
        "      --sensitivity-config CFG     bits and group of those rows (default b4g64)\n"
        "      --kurtosis-csv F     take kurtosis from a toolkit kurtosis CSV\n"
        "      --threshold Z        outlier threshold (default 3; not the paper's if set)\n"
        "      --trim F             trimmed fraction per side, 0..0.49 (default 0.05)\n"
        "      --quantize           HQQ-quantize every module with its allocated config\n"
        "                           and report errors and real stored sizes\n"
        "      --no-quant-meta      keep HQQ scale and zero unquantized (the paper's\n"
        "                           sensitivity and error measurements)\n"
        "      --save-quantized DIR write the quantized model (implies --quantize)\n"
        "      --session FILE       resume a saved session: its model (unless MODEL is\n"
        "                           given), settings (unless any is given), manual set\n"
        "                           and measured metrics\n"
        "      --save-session FILE  save the session after the run\n"
        "      --perplexity         perplexity of the unquantized model, the base and the\n"
        "                           current allocation (HQQ), with the change in percent\n"
        "      --eval FILE          evaluation text (default with the demo: its eval.txt)\n"
        "      --ppl-protocol P     paper (strided windows) | llama.cpp   (default paper)\n"
        "      --ctx N, --stride N  window and stride (paper: 1024/512 clamped to the\n"
        "                           model's context; llama.cpp: n_ctx 512)\n"
        "      --chunks N           evaluate at most N windows or chunks\n",
        "      --allow-long-ctx     honour a --ctx beyond the model's trained context\n"
        "      --kld                with --perplexity: KL divergence against fp, same top\n"
        "                           token and ln(PPL ratio) with standard errors for base\n"
        "                           and current, current vs base with a verdict, and the\n"
        "                           per-layer error; the fp reference is cached\n"
        "      --precision R        stop when the 95 % half-width of the relative KLD\n"
        "                           difference current/base falls below R (e.g. 0.1)\n"
        "      --kld-top-k K        keep the top K fp log-probs when the full ones exceed\n"
        "                           the cache limit (KLD then a lower bound; default 64)\n"
        "      --cache-dir DIR      evaluation cache (default $XDG_CACHE_HOME/layerscope)\n"
        "      --cache-limit SIZE   cache size limit, e.g. 512M or 4G (default 2G)\n"
        "      --no-cache           neither read nor write the evaluation cache\n"
        "      --quantized DIR      use a model saved by --save-quantized as the current\n"
        "                           allocation instead of quantizing again\n"
        "      --sensitivity        measure activation sensitivity (the paper's method)\n"
        "      --calib FILE         calibration text, one sample per line (default with\n"
        "                           the demo: its calib.txt)\n"
        "      --calib-samples N    samples (default 128)\n"
        "      --calib-seqlen N     block length and longest sample (default 512, clamped\n"
        "                           to the model's context)\n"
        "      --calib-no-shuffle   keep file order instead of the seeded shuffle\n"
        "      --export-sensitivity-csv F   the measurement as the toolkit's CSV\n"
        "      --compute M          f32 | bf16: matrix products of perplexity and\n"
        "                           sensitivity (default f32, the reference; bf16 runs\n"
        "                           them through oneDNN on CPUs with AVX512-BF16 or AMX,\n"
        "                           elsewhere it notes so and computes in f32)\n"
        "      --max-text-mib N     refuse --eval/--calib texts above N MiB (default 1024)\n"
        "      --imatrix FILE       a llama.cpp importance matrix (GGUF or legacy .dat):\n"
        "                           act_energy per matrix and, with a model, the\n"
        "                           imatrix-weighted HQQ error at the base config (the\n"
        "                           sensitivity column when none is measured or given)\n"
        "      --export-imatrix F   write a GGUF imatrix from the calibration pass (runs\n"
        "                           it; for llama-quantize --imatrix)\n"
        "      --agreement-top N    size of the top-N sets compared (default 10)\n"
        "      --measure            measured dKL: each matrix alone HQQ-quantized at the\n"
        "                           base config, mean KL to fp on the --eval text\n"
        "      --measure-tokens N   evaluation tokens (default 16384; windows of --ctx,\n"
        "                           default 512 clamped to the model's context)\n"
        "      --measure-state F    resumable progress file (default: in the cache dir)\n"
        "      --export-measure-csv F   the measured dKL as CSV\n"
        "      --tokenizer FILE     tokenizer for llama2.c checkpoints (tok*.bin)\n"
        "      --threads N          threads for kurtosis and HQQ (default: all cores;\n"
        "                           the forward pass always uses every core)\n"
        "      --list-models [DIR]  list the models in the Hugging Face cache and in DIR\n"
        "                           (default: the current directory), then exit\n"
        "  -h, --help               this text\n"
        "  -V, --version            version and build information\n"
        "\n"
        "Exit status: 0 success, 2 bad input (the message names file, field and reason).\n",
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        fputs(parts[i], f);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out, ls_error *err)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return ls_fail(err, "option --%s: \"%s\" is not a whole number from %ld to %ld", opt,
                       s, lo, hi);
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out,
                        ls_error *err)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi))
        return ls_fail(err, "option --%s: \"%s\" is not a number from %g to %g", opt, s, lo,
                       hi);
    *out = v;
    return 0;
}

static int apply(ls_options *o, int c, const char *arg, ls_error *err)
{
    long v;
    switch (c) {
    case 'b': o->batch = true; return 0;
    case 'h': o->help = true; return 0;
    case 'V': o->version = true; return 0;
    case OPT_JSON: o->json_path = arg; return 0;
    case OPT_EXPORT: o->export_path = arg; return 0;
    case OPT_KURT_OUT: o->kurtosis_out = arg; return 0;
    case OPT_LIST_MODELS: o->list_models = true; return 0;
    case OPT_QUANTIZE: o->quantize = true; return 0;
    case OPT_NO_QUANT_META: o->no_quant_meta = true; return 0;
    case OPT_SESSION: o->session = arg; return 0;
    case OPT_PERPLEXITY: o->perplexity = true; return 0;
    case OPT_EVAL: o->eval_path = arg; return 0;
    case OPT_PPL_PROTOCOL: {
        int p = ls_ppl_protocol_parse(arg);
        if (p < 0)
            return ls_fail(err, "option --ppl-protocol: \"%s\": use paper or llama.cpp", arg);
        o->ppl_protocol = p;
        return 0;
    }
    case OPT_CTX:
        if (parse_int("ctx", arg, 2, 1 << 20, &v, err) < 0)
            return -1;
        o->ctx = (int)v;
        return 0;
    case OPT_STRIDE:
        if (parse_int("stride", arg, 1, 1 << 20, &v, err) < 0)
            return -1;
        o->stride = (int)v;
        return 0;
    case OPT_CHUNKS:
        if (parse_int("chunks", arg, 1, 1 << 30, &v, err) < 0)
            return -1;
        o->chunks = (int)v;
        return 0;
    case OPT_ALLOW_LONG_CTX: o->allow_long_ctx = true; return 0;
    case OPT_LOAD_QUANTIZED: o->load_quantized = arg; return 0;
    case OPT_SENSITIVITY: o->measure_sensitivity = true; return 0;
    case OPT_FNORM: o->measure_fnorm = true; return 0;
    case OPT_COMPUTE: {
        int m = ls_compute_parse(arg);
        if (m < 0)
            return ls_fail(err, "option --compute: \"%s\": use f32 or bf16", arg);
        o->compute = m;
        return 0;
    }
    case OPT_FRONTIER: o->frontier = true; return 0;
    case OPT_FRONTIER_SVG:
        o->frontier_svg = arg;
        o->frontier = true;
        return 0;
    case OPT_FRONTIER_CSV:
        o->frontier_csv = arg;
        o->frontier = true;
        return 0;
    case OPT_IMATRIX: o->imatrix_path = arg; return 0;
    case OPT_EXPORT_IMATRIX:
        o->imatrix_out = arg;
        o->measure_sensitivity = true;
        return 0;
    case OPT_MEASURE: o->measure = true; return 0;
    case OPT_MEASURE_TOKENS:
        if (parse_int("measure-tokens", arg, 2, 1 << 24, &v, err) < 0)
            return -1;
        o->measure_tokens = v;
        return 0;
    case OPT_MEASURE_STATE: o->measure_state = arg; return 0;
    case OPT_MEASURE_OUT:
        o->measure_out = arg;
        o->measure = true;
        return 0;
    case OPT_AGREEMENT_TOP:
        if (parse_int("agreement-top", arg, 1, 100000, &v, err) < 0)
            return -1;
        o->agreement_top = (int)v;
        return 0;
    case OPT_KLD: o->kld = true; o->perplexity = true; return 0;
    case OPT_PRECISION: {
        char *end;
        double d = strtod(arg, &end);
        if (*arg == '\0' || *end != '\0' || !(d > 0 && d <= 100))
            return ls_fail(err, "option --precision: \"%s\" is not a number above 0 (a "
                                "relative half-width such as 0.1)", arg);
        o->precision = d;
        return 0;
    }
    case OPT_KLD_TOP_K:
        if (parse_int("kld-top-k", arg, 1, 1 << 20, &v, err) < 0)
            return -1;
        o->kld_top_k = (int)v;
        return 0;
    case OPT_CACHE_DIR: o->cache_dir = arg; return 0;
    case OPT_CACHE_LIMIT: {
        char *end;
        double x = strtod(arg, &end);
        double mult = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0
                      : *end == 'G' || *end == 'g' ? 1073741824.0 : 1.0;
        if (mult != 1.0)
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*arg == '\0' || *end != '\0' || !(x * mult >= 4096) || x * mult > 1e15)
            return ls_fail(err, "option --cache-limit: \"%s\" is not a size such as 512M or "
                                "4G (at least 4K)", arg);
        o->cache_limit = (long long)(x * mult);
        return 0;
    }
    case OPT_NO_CACHE: o->no_cache = true; return 0;
    case OPT_CALIB: o->calib_path = arg; return 0;
    case OPT_CALIB_SAMPLES:
        if (parse_int("calib-samples", arg, 1, 1 << 24, &v, err) < 0)
            return -1;
        o->calib_samples = (int)v;
        return 0;
    case OPT_CALIB_SEQLEN:
        if (parse_int("calib-seqlen", arg, 2, 1 << 20, &v, err) < 0)
            return -1;
        o->calib_seqlen = (int)v;
        return 0;
    case OPT_CALIB_NO_SHUFFLE: o->calib_no_shuffle = true; return 0;
    case OPT_SENSI_OUT: o->sensitivity_out = arg; return 0;
    case OPT_SAVE_SESSION: o->save_session = arg; return 0;
    case OPT_SAVE_QUANTIZED:
        o->save_quantized = arg;
        o->quantize = true;
        return 0;
    case OPT_METRICS_OUT: o->metrics_out = arg; return 0;
    case OPT_LLAMACPP_OUT: o->llamacpp_out = arg; return 0;
    case OPT_MANUAL: o->manual_path = arg; return 0;
    case OPT_TOKENIZER: o->tokenizer_path = arg; return 0;
    case OPT_SENSI_CSV: o->sensitivity_csv = arg; return 0;
    case OPT_KURT_CSV: o->kurtosis_csv = arg; return 0;
    case OPT_SENSI_DATASET: o->sensi_select.dataset = arg; return 0;
    case OPT_SENSI_CONFIG: {
        int s = ls_stop_parse(arg);
        if (s < 0)
            return ls_fail(err, "option --sensitivity-config: \"%s\" is not one of the 12 "
                                "configs (b2g128 ... b8g32)", arg);
        o->sensi_select.nbits = ls_stop_get(s)->nbits;
        o->sensi_select.group_size = ls_stop_get(s)->group_size;
        return 0;
    }
    case OPT_THREADS:
        if (parse_int("threads", arg, 1, 256, &v, err) < 0)
            return -1;
        o->threads = (int)v;
        return 0;
    case OPT_MAX_TEXT_MIB:
        if (parse_int("max-text-mib", arg, 1, LS_TEXT_MAX_MIB_LIMIT, &v, err) < 0)
            return -1;
        o->max_text_mib = v;
        ls_text_set_max_mib(v); /* one process-wide limit, read by ls_text_read */
        return 0;
    default:
        break;
    }
    o->settings_given = true;
    ls_settings *s = &o->settings;
    switch (c) { /* the rules and their messages are method/settings.c's */
    case OPT_METHOD: return ls_setting_parse(s, LS_SET_METHOD, arg, LS_WHERE_OPTION, err);
    case OPT_MODE: return ls_setting_parse(s, LS_SET_MODE, arg, LS_WHERE_OPTION, err);
    case OPT_TOP_M: return ls_setting_parse(s, LS_SET_TOP_M, arg, LS_WHERE_OPTION, err);
    case OPT_BOOST_STOP:
        return ls_setting_parse(s, LS_SET_BOOST_STOP, arg, LS_WHERE_OPTION, err);
    case OPT_BASE: return ls_setting_parse(s, LS_SET_BASE, arg, LS_WHERE_OPTION, err);
    case OPT_ABLATION: s->ablation = true; return 0;
    case OPT_SEED: return ls_setting_parse(s, LS_SET_SEED, arg, LS_WHERE_OPTION, err);
    case OPT_THRESHOLD:
        return ls_setting_parse(s, LS_SET_THRESHOLD, arg, LS_WHERE_OPTION, err);
    case OPT_TRIM: return ls_setting_parse(s, LS_SET_TRIM, arg, LS_WHERE_OPTION, err);
    case OPT_TARGET_BPP:
    case OPT_TARGET_MIB:
    case OPT_TARGET_EXTRA: {
        double d = 0;
        const char *name = c == OPT_TARGET_BPP   ? "target-bpp"
                           : c == OPT_TARGET_MIB ? "target-mib"
                                                 : "target-extra";
        if (parse_double(name, arg, c == OPT_TARGET_EXTRA ? -100 : 0, 1e12, &d, err) < 0)
            return -1;
        s->target_kind = c == OPT_TARGET_BPP   ? LS_TARGET_BPP
                         : c == OPT_TARGET_MIB ? LS_TARGET_MIB
                                               : LS_TARGET_EXTRA;
        s->target = d;
        return 0;
    }
    case OPT_FACTOR: return ls_setting_parse(s, LS_SET_FACTOR, arg, LS_WHERE_OPTION, err);
    default:
        return ls_fail(err, "unknown option");
    }
}

int ls_options_parse(int argc, char **argv, ls_options *o, ls_error *err)
{
    memset(o, 0, sizeof *o);
    o->settings = ls_settings_default();
    o->sensi_select = LS_SENSI_SELECT_PAPER;
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = 0;
        int c = getopt_long(argc, argv, ":bhV", long_opts, &idx);
        if (c == -1)
            break;
        if (c == '?')
            return ls_fail(err, "unknown option \"%s\" (see --help)", argv[optind - 1]);
        if (c == ':')
            return ls_fail(err, "option \"%s\" needs a value", argv[optind - 1]);
        if (apply(o, c, optarg, err) < 0)
            return -1;
    }
    if (optind < argc)
        o->model_path = argv[optind++];
    if (optind < argc)
        return ls_fail(err, "unexpected argument \"%s\": give one MODEL or PROFILE",
                       argv[optind]);
    if (ls_settings_validate(&o->settings, LS_WHERE_OPTION, err) < 0)
        return -1;
    if (o->settings.target_kind != LS_TARGET_NONE && !ls_method_is_budget(o->settings.method))
        return ls_fail(err, "option --target-*: applies to --method mxq, sensi-milp or "
                            "kurt-milp (the boost methods have no target)");
    if (ls_method_is_budget(o->settings.method) && o->settings.target_kind == LS_TARGET_NONE &&
        o->batch && !o->session)
        return ls_fail(err, "option --method %s: needs a target (--target-bpp B, --target-mib "
                            "M or --target-extra PCT)", ls_method_name(o->settings.method));
    if (o->settings.method == LS_METHOD_MANUAL && !o->manual_path && !o->session && o->batch)
        return ls_fail(err, "option --method manual: needs --manual FILE (or --session) in "
                            "batch mode");
    return 0;
}
