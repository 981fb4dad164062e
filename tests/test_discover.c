/* Model discovery: Hugging Face cache snapshots and a directory of models and profiles. */
#include "test.h"

#include <sys/stat.h>

#include "io/discover.h"
#include "model_writer.h"

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{}", f);
        fclose(f);
    }
}

static const ls_found_model *find(const ls_found_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

static void test_hf_cache(void)
{
    const char *hub = t_tmpdir("discover_hub");
    char p[700];
    snprintf(p, sizeof p, "%s/models--meta-llama--Llama-2-7b-hf", hub);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/models--meta-llama--Llama-2-7b-hf/snapshots", hub);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/models--meta-llama--Llama-2-7b-hf/snapshots/abc123", hub);
    mkdir(p, 0777);
    char f[800];
    snprintf(f, sizeof f, "%s/config.json", p);
    touch(f);
    snprintf(f, sizeof f, "%s/model.safetensors.index.json", p);
    touch(f);
    /* a snapshot without weights and a dataset repo are not models */
    snprintf(p, sizeof p, "%s/datasets--x--y", hub);
    mkdir(p, 0777);
    ls_found_list l = {0};
    ls_discover_hf_cache(hub, &l);
    CHECK(l.n == 1);
    const ls_found_model *m = find(&l, "meta-llama/Llama-2-7b-hf");
    CHECK(m != NULL);
    if (m) {
        CHECK_STR(m->kind, "hf-sharded");
        CHECK_STR(m->origin, "hf-cache");
        CHECK(strstr(m->path, "snapshots/abc123") != NULL);
    }
    ls_found_list_free(&l);
}

static void test_directory(void)
{
    const char *dir = t_tmpdir("discover_dir");
    ls_synth_spec spec;
    ls_error err;
    CHECK(ls_synth_preset("tiny", &spec, &err) == 0);
    spec.cfg.n_layers = 2;
    char p[700];
    snprintf(p, sizeof p, "%s/hfmodel", dir);
    CHECK(ls_write_hf_dir(p, &spec, 1, &err) == 0);
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    CHECK(ls_write_gguf(p, &spec, &err) == 0);
    snprintf(p, sizeof p, "%s/m.bin", dir);
    CHECK(ls_write_llama2c(p, &spec, &err) == 0);
    snprintf(p, sizeof p, "%s/kurtosis-x.csv", dir);
    FILE *f = fopen(p, "w");
    fputs("module,layer,param_count,kurtosis\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/notes.csv", dir);
    f = fopen(p, "w");
    fputs("a,b\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/random.bin", dir);
    f = fopen(p, "w");
    fputs("not a model", f);
    fclose(f);
    ls_found_list l = {0};
    ls_discover_directory(dir, &l);
    ls_found_list_sort(&l);
    CHECK(l.n == 4);
    const ls_found_model *m;
    CHECK((m = find(&l, "hfmodel")) && strcmp(m->kind, "hf") == 0);
    CHECK((m = find(&l, "m.gguf")) && strcmp(m->kind, "gguf") == 0);
    CHECK((m = find(&l, "m.bin")) && strcmp(m->kind, "llama2c") == 0);
    CHECK((m = find(&l, "kurtosis-x.csv")) && strcmp(m->kind, "profile") == 0);
    CHECK(find(&l, "notes.csv") == NULL && find(&l, "random.bin") == NULL);
    ls_found_list_free(&l);
}

int main(void)
{
    RUN(test_hf_cache);
    RUN(test_directory);
    return t_summary();
}
