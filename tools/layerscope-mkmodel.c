/* layerscope-mkmodel: writes a synthetic LLaMA-family model (deterministic from a seed) as
 * a Hugging Face directory, sharded directory, GGUF or llama2.c file, optionally with
 * heavy-tailed rows or columns injected into chosen (layer, module) weights. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/manual.h"
#include "model_writer.h"

static void usage(FILE *f)
{
    fputs("usage: layerscope-mkmodel [options] OUT\n"
          "  --preset NAME      tiny (16 layers, dim 64), 1b, llama2-7b      (default tiny)\n"
          "  --format F         hf | hf-sharded | gguf | llama2c             (default hf)\n"
          "  --dtype D          f32 | f16 | bf16                  (default: the preset's)\n"
          "  --layers N         number of layers                 (default: the preset's)\n"
          "  --shards N         shard count for hf-sharded                   (default 3)\n"
          "  --seed N           weight seed                                  (default 1)\n"
          "  --arch A           llama | mistral | qwen2          (default: the preset's)\n"
          "  --tied             classifier shares the embedding\n"
          "  --outlier SPEC     LAYER.MODULE[:rows|cols[:STRENGTH]], e.g. 7.down:cols:30;\n"
          "                     repeatable; heavy-tailed rows or columns in that matrix\n"
          "  -h, --help         this text\n",
          f);
}

static int parse_outlier(const char *arg, int n_layers, ls_outlier *o)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    char *kind = strchr(buf, ':');
    char *strength = NULL;
    if (kind) {
        *kind++ = '\0';
        strength = strchr(kind, ':');
        if (strength)
            *strength++ = '\0';
    }
    if (ls_manual_parse_entry(buf, n_layers, &o->layer, &o->module) < 0)
        return -1;
    o->kind = (kind && strcmp(kind, "rows") == 0) ? LS_OUTLIER_ROWS : LS_OUTLIER_COLS;
    if (kind && strcmp(kind, "rows") != 0 && strcmp(kind, "cols") != 0)
        return -1;
    o->strength = strength ? atof(strength) : 20.0;
    return o->strength > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"preset", required_argument, NULL, 'p'}, {"format", required_argument, NULL, 'f'},
        {"dtype", required_argument, NULL, 'd'},  {"layers", required_argument, NULL, 'l'},
        {"shards", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'S'},
        {"arch", required_argument, NULL, 'a'},   {"tied", no_argument, NULL, 't'},
        {"outlier", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *preset = "tiny", *format = "hf", *dtype = NULL, *arch = NULL;
    long layers = 0, shards = 3;
    unsigned long long seed = 1;
    int tied = 0;
    const char *outliers[LS_SYNTH_MAX_OUTLIERS];
    int n_out = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': preset = optarg; break;
        case 'f': format = optarg; break;
        case 'd': dtype = optarg; break;
        case 'l': layers = strtol(optarg, NULL, 10); break;
        case 's': shards = strtol(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'a': arch = optarg; break;
        case 't': tied = 1; break;
        case 'o':
            if (n_out >= LS_SYNTH_MAX_OUTLIERS) {
                fprintf(stderr, "layerscope-mkmodel: at most %d --outlier\n", LS_SYNTH_MAX_OUTLIERS);
                return 2;
            }
            outliers[n_out++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *out = argv[optind];
    ls_error err;
    ls_synth_spec spec;
    if (ls_synth_preset(preset, &spec, &err) < 0) {
        fprintf(stderr, "layerscope-mkmodel: %s\n", err.msg);
        return 2;
    }
    spec.seed = seed;
    if (layers > 0)
        spec.cfg.n_layers = (int)layers;
    if (tied)
        spec.cfg.tied = true;
    if (arch) {
        if (strcmp(arch, "llama") == 0)
            spec.cfg.arch = LS_ARCH_LLAMA;
        else if (strcmp(arch, "mistral") == 0)
            spec.cfg.arch = LS_ARCH_MISTRAL;
        else if (strcmp(arch, "qwen2") == 0) {
            spec.cfg.arch = LS_ARCH_QWEN2;
            spec.cfg.qkv_bias = true;
            spec.cfg.rope_layout = LS_ROPE_HALVES;
        } else {
            fprintf(stderr, "layerscope-mkmodel: --arch: \"%s\": use llama, mistral or qwen2\n", arch);
            return 2;
        }
    }
    if (dtype) {
        if (strcmp(dtype, "f32") == 0)
            spec.dtype = LS_DT_F32;
        else if (strcmp(dtype, "f16") == 0)
            spec.dtype = LS_DT_F16;
        else if (strcmp(dtype, "bf16") == 0)
            spec.dtype = LS_DT_BF16;
        else {
            fprintf(stderr, "layerscope-mkmodel: --dtype: \"%s\": use f32, f16 or bf16\n", dtype);
            return 2;
        }
    }
    for (int i = 0; i < n_out; i++)
        if (parse_outlier(outliers[i], spec.cfg.n_layers, &spec.outliers[i]) < 0) {
            fprintf(stderr, "layerscope-mkmodel: --outlier: \"%s\": expected "
                            "LAYER.MODULE[:rows|cols[:STRENGTH]] with a layer below %d\n",
                    outliers[i], spec.cfg.n_layers);
            return 2;
        }
    spec.n_outliers = n_out;
    int rc;
    if (strcmp(format, "hf") == 0)
        rc = ls_write_hf_dir(out, &spec, 1, &err);
    else if (strcmp(format, "hf-sharded") == 0)
        rc = ls_write_hf_dir(out, &spec, (int)(shards > 1 ? shards : 2), &err);
    else if (strcmp(format, "gguf") == 0)
        rc = ls_write_gguf(out, &spec, &err);
    else if (strcmp(format, "llama2c") == 0)
        rc = ls_write_llama2c(out, &spec, &err);
    else {
        fprintf(stderr, "layerscope-mkmodel: --format: \"%s\": use hf, hf-sharded, gguf or "
                        "llama2c\n", format);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "layerscope-mkmodel: %s\n", err.msg);
        return 2;
    }
    return 0;
}
