/* Writes the seed corpora of the fuzz targets with the project's own model writer:
 *   make_seeds OUT  ->  OUT/safetensors/, OUT/gguf/, OUT/llama2c/, OUT/hfconfig/,
 *                       OUT/quant_json/, OUT/session/, OUT/tokbin/, OUT/tokenizer_json/,
 *                       OUT/text/, OUT/imatrix/
 * Seeds are tiny models (dim 16, 2 layers, 4 heads / 2 KV, vocab 32) so the fuzzer stays fast. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_tiny.h"
#include "formats/imatrix.h"
#include "model_writer.h"

static const char *out_dir;
static int n_written;

static int copy_file(const char *from, const char *target, const char *name)
{
    char to[1024];
    snprintf(to, sizeof to, "%s/%s/%s", out_dir, target, name);
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "make_seeds: cannot copy %s to %s\n", from, to);
    n_written += rc == 0;
    return rc;
}

static void write_text(const char *target, const char *name, const char *text)
{
    char to[1024];
    snprintf(to, sizeof to, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(to, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
        n_written++;
    }
}

static ls_synth_spec small_spec(void)
{
    ls_synth_spec s;
    ls_error e;
    ls_synth_preset("tiny", &s, &e);
    s.cfg.dim = 16, s.cfg.hidden_dim = 24, s.cfg.n_layers = 2, s.cfg.n_heads = 4;
    s.cfg.n_kv_heads = 2, s.cfg.head_dim = 4, s.cfg.vocab_size = 32, s.cfg.context = 64;
    s.seed = 7;
    return s;
}

static int fail(const ls_error *e)
{
    fprintf(stderr, "make_seeds: %s\n", e->msg);
    return 1;
}

static char *work(const char *name)
{
    static char buf[4][1024];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/work/%s", out_dir, name);
    return buf[i];
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    const char *subs[] = {"",          "/work",       "/safetensors", "/gguf",
                          "/llama2c",  "/hfconfig",   "/quant_json",  "/session",
                          "/tokbin",   "/tokenizer_json", "/text",    "/work/tiny", "/imatrix"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char d[1024];
        snprintf(d, sizeof d, "%s%s", out_dir, subs[i]);
        if (mkdir(d, 0777) != 0 && errno != EEXIST) {
            perror(d);
            return 1;
        }
    }
    ls_error e;
    static const ls_dtype dts[] = {LS_DT_F32, LS_DT_F16, LS_DT_BF16};
    for (int v = 0; v < 3; v++) {
        ls_synth_spec s = small_spec();
        s.dtype = dts[v];
        s.cfg.tied = v == 1;
        char name[64];
        if (ls_write_hf_dir(work("hf"), &s, 1, &e) != 0)
            return fail(&e);
        snprintf(name, sizeof name, "hf_%d.safetensors", v);
        copy_file(work("hf/model.safetensors"), "safetensors", name);
        snprintf(name, sizeof name, "config_%d.json", v);
        copy_file(work("hf/config.json"), "hfconfig", name);
        s.gguf_tokenizer = v != 2;
        if (ls_write_gguf(work("m.gguf"), &s, &e) != 0)
            return fail(&e);
        snprintf(name, sizeof name, "m_%d.gguf", v);
        copy_file(work("m.gguf"), "gguf", name);
        if (ls_write_llama2c(work("m.bin"), &s, &e) != 0)
            return fail(&e);
        snprintf(name, sizeof name, "m_%d.bin", v);
        copy_file(work("m.bin"), "llama2c", name);
    }
    /* sharded: the shards and the index */
    ls_synth_spec s = small_spec();
    if (ls_write_hf_dir(work("sh"), &s, 2, &e) != 0)
        return fail(&e);
    copy_file(work("sh/model-00001-of-00002.safetensors"), "safetensors", "shard1.safetensors");
    copy_file(work("sh/model.safetensors.index.json"), "hfconfig", "index.json");
    /* qwen2 with biases, head_dim override, linear RoPE */
    s.cfg.arch = LS_ARCH_QWEN2;
    s.cfg.qkv_bias = true;
    s.cfg.rope_layout = LS_ROPE_HALVES;
    if (ls_write_gguf(work("q.gguf"), &s, &e) != 0 || ls_write_hf_dir(work("q"), &s, 1, &e))
        return fail(&e);
    copy_file(work("q.gguf"), "gguf", "qwen2.gguf");
    copy_file(work("q/config.json"), "hfconfig", "qwen2.json");
    copy_file(work("q/model.safetensors"), "safetensors", "qwen2.safetensors");
    s = small_spec();
    s.cfg.head_dim = 8;
    s.cfg.rope_scaling = LS_ROPE_SCALING_LINEAR;
    s.cfg.rope_factor = 2.0;
    if (ls_write_gguf(work("hd.gguf"), &s, &e) != 0)
        return fail(&e);
    copy_file(work("hd.gguf"), "gguf", "head_dim.gguf");
    /* config spellings the writer does not produce */
    write_text("hfconfig", "llama3.json",
               "{\"model_type\":\"llama\",\"hidden_size\":16,\"intermediate_size\":24,"
               "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
               "\"vocab_size\":32,\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":"
               "\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
               "\"original_max_position_embeddings\":8192}}");
    write_text("hfconfig", "tf5.json",
               "{\"architectures\":[\"MistralForCausalLM\"],\"hidden_size\":16,"
               "\"intermediate_size\":24,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
               "\"vocab_size\":32,\"sliding_window\":null,\"rope_parameters\":{\"rope_type\":"
               "\"linear\",\"factor\":2,\"rope_theta\":1e6},\"layer_types\":"
               "[\"full_attention\",\"full_attention\"]}");
    /* the tiny model's quantized save and session (the targets load against that model) */
    ls_model *tiny = fuzz_tiny_setup(work("tiny"));
    if (!tiny)
        return 1;
    ls_model_free(tiny);
    copy_file(work("tiny/q/quant.json"), "quant_json", "quant.json");
    copy_file(work("tiny/session.json"), "session", "session.json");
    /* tok*.bin: max_token_length, then per token score, length, bytes */
    {
        char to[1024];
        snprintf(to, sizeof to, "%s/tokbin/tok32.bin", out_dir);
        FILE *f = fopen(to, "wb");
        if (f) {
            static const char *const pieces[] = {"<unk>", "<s>", "</s>", " ", "a", "e", "i",
                                                 "o", "n", "t", " t", "he", " the", "at",
                                                 " a", "in", "on", "s", ".", ",", "T", "O",
                                                 "c", "l", "y", " c", "\xc3\xa4", "m",
                                                 "<0x0A>", "\"", "r", "d"};
            int32_t maxlen = 8;
            fwrite(&maxlen, 4, 1, f);
            for (int i = 0; i < 32; i++) {
                float score = (float)-i;
                int32_t len = (int32_t)strlen(pieces[i]);
                fwrite(&score, 4, 1, f);
                fwrite(&len, 4, 1, f);
                fwrite(pieces[i], 1, (size_t)len, f);
            }
            fclose(f);
            n_written++;
        }
    }
    /* tokenizer.json: the bundled demo's (BPE), when run from the source tree */
    {
        FILE *t = fopen("samples/demo/tokenizer.json", "rb");
        if (t) {
            fclose(t);
            copy_file("samples/demo/tokenizer.json", "tokenizer_json", "demo.json");
        }
    }
    write_text("tokenizer_json", "tiny_bpe.json",
               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,"
               "\"<unk>\":3},\"merges\":[\"a b\"],\"unk_token\":\"<unk>\"},"
               "\"added_tokens\":[{\"id\":3,\"content\":\"<unk>\",\"special\":true}],"
               "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}}");
    write_text("text", "plain.txt", "Once upon a time there was a cat.\nIt sat on the mat.\n");
    write_text("text", "wiki.txt", " \n = Heading = \n \n Some text , with @-@ tokens .\n \n");
    write_text("text", "utf8.txt", "gr\xc3\xbc\xc3\x9f \xe2\x98\x83 \xf0\x9f\x98\x80\n");
    write_text("text", "bad_utf8.txt", "ok \xc3\x28 broken\n");
    /* a GGUF importance matrix shaped like the small model */
    {
        s = small_spec();
        ls_model *m = NULL;
        if (ls_write_gguf(work("im.gguf"), &s, &e) != 0 || ls_model_open(work("im.gguf"), NULL,
                                                                         &m, &e) != 0)
            return fail(&e);
        ls_imatrix *im = ls_imatrix_for_model(m, &e);
        if (!im)
            return fail(&e);
        for (int i = 0; i < im->n_entries; i++) {
            for (int64_t j = 0; j < im->entries[i].n_cols; j++)
                im->entries[i].sum2[j] = (float)(1 + (i + j) % 5);
            im->entries[i].count = 3;
        }
        im->chunks = 1;
        snprintf(im->dataset, sizeof im->dataset, "seed.txt");
        int rc = ls_imatrix_write_gguf(work("imatrix.gguf"), im, &e);
        ls_imatrix_free(im);
        ls_model_free(m);
        if (rc != 0)
            return fail(&e);
        copy_file(work("imatrix.gguf"), "imatrix", "imatrix.gguf");
    }
    printf("make_seeds: %d seed files in %s\n", n_written, out_dir);
    return 0;
}
