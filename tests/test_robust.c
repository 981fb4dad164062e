/* Robustness at the edges (issue 15): non-regular files refused without blocking (FIFO,
 * directory, character device) by every reader, "not found" vs "not a regular file" vs
 * "unreadable", the text size limit, non-finite CSV metrics, a NaN perplexity, output paths
 * checked before any work, and file modes. A watchdog (alarm) turns any hang into a failure
 * instead of a stuck test run. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/atomic_write.h"
#include "base/csv.h"
#include "base/mapfile.h"
#include "cli/batch.h"
#include "cli/options.h"
#include "eval/ppl_text.h"
#include "formats/hfconfig.h"
#include "formats/model.h"
#include "io/samples.h"
#include "io/source.h"
#include "io/session.h"
#include "method/import.h"
#include "method/manual.h"
#include "io/qmodel_io.h"
#include "tokenizer/tokenizer.h"

/* The bundled samples directory (samples/ of this tree). */
static const char *ls_samples_dir_for_tests(void)
{
    static char buf[4096];
    ls_sample_path("", buf, sizeof buf);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return buf;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_robust: watchdog: a read blocked for 120 s (hang)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(3); /* no summary line: run_all.sh counts it as a failure */
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool has(const ls_error *e, const char *want)
{
    if (strstr(e->msg, want))
        return true;
    fprintf(stderr, "  want \"%s\" in: %s\n", want, e->msg);
    return false;
}

typedef struct kind_case {
    const char *path, *want;
} kind_case;

/* Every reader on a FIFO (no writer: a blocking open would wait forever), a directory and
 * /dev/zero (endless): refused at once with the kind named. */
static void test_non_regular_everywhere(void)
{
    const char *dir = t_tmpdir("robust_kinds");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char fifo[600], sub[600];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    CHECK(mkfifo(fifo, 0666) == 0);
    CHECK(mkdir(sub, 0777) == 0);
    kind_case cases[] = {{fifo, "not a regular file (a FIFO)"},
                         {sub, "not a regular file (a directory)"},
                         {"/dev/zero", "not a regular file (a character device)"}};
    int n_cases = 0;
    for (int k = 0; k < 3; k++) {
        const char *p = cases[k].path, *want = cases[k].want;
        ls_error e;
        ls_mapped_file mf;
        CHECK(ls_map_file(p, &mf, &e) == -1 && has(&e, want));
        size_t len;
        CHECK(ls_read_text_file(p, 1 << 20, &len, &e) == NULL && has(&e, want));
        char *text;
        CHECK(ls_text_read(p, &text, &len, &e) == -1 && has(&e, want)); /* --eval, --calib */
        ls_session s;
        CHECK(ls_session_load(p, &s, &e) == -1 && has(&e, want));
        ls_csv c;
        CHECK(ls_csv_read(p, &c, &e) == -1 && has(&e, want));
        ls_profile *prof = NULL;
        CHECK(ls_import_sensitivity(p, NULL, &prof, &e) == -1 && has(&e, want));
        CHECK(ls_import_kurtosis(p, &prof, &e) == -1 && has(&e, want));
        unsigned char flags[7 * 4];
        CHECK(ls_manual_read(p, 4, flags, &e) == -1 && has(&e, want));
        ls_tokenizer *tok = NULL;
        CHECK(ls_tokenizer_open(p, 0, &tok, &e) == -1 && has(&e, want));
        ls_config cfg;
        char warn[256];
        CHECK(ls_hf_config_load(p, &cfg, warn, sizeof warn, &e) == -1 && has(&e, want));
        CHECK(ls_csv_kind_of(p) == LS_CSV_UNKNOWN); /* the open picker's sniffing */
        if (k != 1) { /* a directory is a model directory: see the config.json test */
            ls_model *m = NULL;
            CHECK(ls_model_open(p, NULL, &m, &e) == -1 && has(&e, want));
            ls_source_options so = {0};
            CHECK(ls_source_open(p, &so, &m, &prof, &e) == -1 && has(&e, want));
        }
        n_cases += 13;
    }
    printf("  %d non-regular cases refused\n", n_cases);
}

/* config.json, model.safetensors or tokenizer.json of a model directory that are a FIFO or a
 * directory: "not a regular file", not "not found". */
static void test_hf_dir_members(void)
{
    const char *dir = t_tmpdir("robust_hf");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char cfg[600], st[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    ls_error e;
    ls_model *m = NULL;
    CHECK(mkfifo(cfg, 0666) == 0);
    CHECK(ls_model_open(dir, NULL, &m, &e) == -1 && has(&e, "config.json: not a regular file (a FIFO)"));
    unlink(cfg);
    CHECK(mkdir(cfg, 0777) == 0);
    CHECK(ls_model_open(dir, NULL, &m, &e) == -1 &&
          has(&e, "config.json: not a regular file (a directory)"));
    rmdir(cfg);
    CHECK(ls_model_open(dir, NULL, &m, &e) == -1 && has(&e, "config.json: not found"));
    /* a real config with the weights file a FIFO */
    char src[600];
    snprintf(src, sizeof src, "%s/demo/config.json", ls_samples_dir_for_tests());
    char *text = ls_read_text_file(src, 1 << 20, NULL, &e);
    CHECK(text != NULL);
    if (text) {
        write_file(cfg, text);
        free(text);
        CHECK(mkfifo(st, 0666) == 0);
        CHECK(ls_model_open(dir, NULL, &m, &e) == -1 &&
              has(&e, "model.safetensors: not a regular file (a FIFO)"));
    }
}

/* "not found" vs "unreadable" vs "not a regular file". Root reads anything, so the
 * unreadable case runs in a child that drops to an unprivileged user. */
static void test_not_found_unreadable(void)
{
    const char *dir = t_tmpdir("robust_perm");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char f[600], missing[600];
    snprintf(f, sizeof f, "%s/secret.txt", dir);
    snprintf(missing, sizeof missing, "%s/missing.txt", dir);
    write_file(f, "hello world\n");
    CHECK(chmod(f, 0000) == 0);
    ls_error e;
    CHECK(ls_open_regular(missing, NULL, &e) == -1 && has(&e, "missing.txt: not found"));
    char *text;
    size_t len;
    CHECK(ls_text_read(missing, &text, &len, &e) == -1 && has(&e, "not found"));
    if (geteuid() != 0) {
        CHECK(ls_open_regular(f, NULL, &e) == -1 &&
              has(&e, "secret.txt: unreadable: Permission denied"));
        return;
    }
    /* the build directory must be traversable by the unprivileged user */
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(77);
        ls_error ce;
        int fd = ls_open_regular(f, NULL, &ce);
        if (fd >= 0)
            _exit(1);
        if (strstr(ce.msg, "secret.txt: unreadable: Permission denied"))
            _exit(0);
        if (strstr(ce.msg, "not found")) /* a parent directory is not searchable */
            _exit(77);
        fprintf(stderr, "  child: %s\n", ce.msg);
        _exit(2);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        printf("  (unreadable case not checked: cannot drop to an unprivileged user here)\n");
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The text size limit: a clear line naming the limit and the option; --max-text-mib parses. */
static void test_text_limit(void)
{
    const char *dir = t_tmpdir("robust_text");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char f[600];
    snprintf(f, sizeof f, "%s/big.txt", dir);
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    for (int i = 0; i < 3 * 65536; i++) /* 3 MiB of text */
        fputs("hello world, ", fp), fputs("abc\n", fp);
    fclose(fp);
    int64_t before = ls_text_max_mib();
    CHECK(before == (int64_t)LS_TEXT_MAX_MIB_DEFAULT);
    char *argv[] = {"layerscope", "--batch", "--max-text-mib", "2", NULL};
    ls_options o;
    ls_error e;
    CHECK(ls_options_parse(4, argv, &o, &e) == 0 && o.max_text_mib == 2);
    CHECK(ls_text_max_mib() == 2);
    char *text = NULL;
    size_t len;
    CHECK(ls_text_read(f, &text, &len, &e) == -1 && has(&e, "above the text size limit of 2 MiB") &&
          has(&e, "--max-text-mib"));
    ls_text_set_max_mib(4);
    CHECK(ls_text_read(f, &text, &len, &e) == 0 && len == (size_t)3 * 65536 * 17);
    free(text);
    char *bad[] = {"layerscope", "--max-text-mib", "0", NULL};
    CHECK(ls_options_parse(3, bad, &o, &e) == -1 && has(&e, "--max-text-mib"));
    ls_text_set_max_mib(before);
}

/* A sensitivity CSV with a negative, an infinite or a NaN value: refused, naming the line. */
static void test_csv_nonfinite(void)
{
    const char *dir = t_tmpdir("robust_csv");
    CHECK(dir != NULL);
    if (!dir)
        return;
    static const char *const vals[] = {"-0.5", "inf", "-inf", "nan", "1e999"};
    static const char *const want[] = {"negative", "infinite", "infinite", "NaN", "infinite"};
    for (int v = 0; v < 5; v++) {
        char f[600], text[2048];
        snprintf(f, sizeof f, "%s/s%d.csv", dir, v);
        int n = snprintf(text, sizeof text, "dataset,part,model,nbits,group_size,layer,sensitivity\n");
        static const char *const parts[] = {"attn_in", "attn_out", "mlp_gate", "mlp_down"};
        for (int l = 0; l < 2; l++)
            for (int p = 0; p < 4; p++)
                n += snprintf(text + n, sizeof text - (size_t)n, "pileval,%s,toy,4,64,%d,%s\n",
                              parts[p], l, l == 1 && p == 2 ? vals[v] : "0.25");
        write_file(f, text);
        ls_profile *prof = NULL;
        ls_error e;
        CHECK(ls_import_sensitivity(f, NULL, &prof, &e) == -1);
        CHECK(has(&e, "line 8") && has(&e, "column \"sensitivity\"") && has(&e, want[v]));
        ls_profile_free(prof);
    }
    /* the metrics CSV: an infinite kurtosis */
    char f[600];
    snprintf(f, sizeof f, "%s/k.csv", dir);
    write_file(f, "module,layer,kurtosis\nself_attn.q_proj,0,inf\n");
    ls_profile *prof = NULL;
    ls_error e;
    CHECK(ls_import_kurtosis(f, &prof, &e) == -1 && has(&e, "column \"kurtosis\"") &&
          has(&e, "infinite"));
    ls_profile_free(prof);
}

static int run_batch(int argc, char **argv, char *outbuf, size_t ocap, char *errbuf,
                     size_t cap)
{
    ls_options o;
    ls_error err;
    if (ls_options_parse(argc, argv, &o, &err) < 0) {
        snprintf(errbuf, cap, "%s", err.msg);
        return -1;
    }
    FILE *out = tmpfile(), *ef = tmpfile();
    int rc = ls_batch_run(&o, out, ef);
    rewind(ef);
    size_t n = fread(errbuf, 1, cap - 1, ef);
    errbuf[n] = '\0';
    rewind(out);
    n = fread(outbuf, 1, ocap - 1, out);
    outbuf[n] = '\0';
    fclose(out);
    fclose(ef);
    return rc;
}

/* Output paths that cannot be written fail before any work: nothing on stdout. */
static void test_outputs_checked_first(void)
{
    const char *dir = t_tmpdir("robust_out");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char demo[600], nodir[600], adir[600], notours[600], fifo[600];
    snprintf(demo, sizeof demo, "%s/demo", ls_samples_dir_for_tests());
    snprintf(nodir, sizeof nodir, "%s/none/r.json", dir);
    snprintf(adir, sizeof adir, "%s/adir", dir);
    snprintf(notours, sizeof notours, "%s/notours", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    mkdir(adir, 0777);
    mkdir(notours, 0777);
    CHECK(mkfifo(fifo, 0666) == 0);
    struct {
        const char *opt, *path, *want;
    } cases[] = {
        {"--json", nodir, "--json"},
        {"--export", adir, "is a directory"},
        {"--export-metrics-csv", nodir, "not found"},
        {"--export-kurtosis-csv", fifo, "not a regular file (a FIFO)"},
        {"--save-session", adir, "is a directory"},
        {"--save-quantized", notours, "not a layerscope quantized model"},
        {"--save-quantized", fifo, "exists and is not a directory"},
        {"--eval", fifo, "--eval: "},
        {"--calib", adir, "not a regular file (a directory)"},
        {"--quantized", fifo, "not a directory (a FIFO)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"layerscope", "--batch", (char *)cases[i].opt, (char *)cases[i].path,
                        demo, NULL};
        char out[4096], err[1024];
        int rc = run_batch(5, argv, out, sizeof out, err, sizeof err);
        CHECK(rc == 2);
        CHECK(out[0] == '\0'); /* failed before the analysis printed anything */
        if (!strstr(err, cases[i].want)) {
            fprintf(stderr, "  %s %s: want \"%s\" in: %s\n", cases[i].opt, cases[i].path,
                    cases[i].want, err);
            CHECK(strstr(err, cases[i].want) != NULL);
        }
        /* one line */
        char *nl = strchr(err, '\n');
        CHECK(nl && nl[1] == '\0');
    }
    /* a FIFO as the model in batch mode */
    char *argv[] = {"layerscope", "--batch", fifo, NULL};
    char out[4096], err[1024];
    CHECK(run_batch(3, argv, out, sizeof out, err, sizeof err) == 2);
    CHECK(strstr(err, "not a regular file (a FIFO)") != NULL);
}

/* A NaN in the weights: the perplexity run fails (status 2) naming the cause instead of
 * printing "+nan %" with status 0. */
static void test_nan_perplexity(void)
{
    const char *dir = t_tmpdir("robust_nan");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char cmd[1400], model[600];
    snprintf(model, sizeof model, "%s/demo", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo' '%s'", ls_samples_dir_for_tests(), model);
    CHECK(system(cmd) == 0);
    ls_model *m = NULL;
    ls_error e;
    CHECK(ls_model_open(model, NULL, &m, &e) == 0);
    if (!m)
        return;
    const ls_tensor *norm = m->final_norm;
    CHECK(norm != NULL);
    ls_dtype dt = norm ? norm->dtype : LS_DT_F32;
    long off = norm ? (long)((const char *)norm->data - (const char *)m->files[0].data) : -1;
    ls_model_free(m);
    if (off < 0)
        return;
    char st[700];
    snprintf(st, sizeof st, "%s/model.safetensors", model);
    int fd = open(st, O_WRONLY);
    float nan32 = NAN;
    uint16_t nan16 = dt == LS_DT_BF16 ? 0x7FC0 : 0x7E00; /* quiet NaN in bf16 / f16 */
    const void *nan = dt == LS_DT_F32 ? (const void *)&nan32 : (const void *)&nan16;
    size_t nsz = dt == LS_DT_F32 ? 4 : 2;
    CHECK(fd >= 0 && pwrite(fd, nan, nsz, off) == (ssize_t)nsz);
    if (fd >= 0)
        close(fd);
    char eval[700];
    snprintf(eval, sizeof eval, "%s/eval.txt", ls_samples_dir_for_tests());
    char *argv[] = {"layerscope", "--batch", "--perplexity", "--eval", eval, "--chunks", "1",
                    model, NULL};
    static char out[1 << 16];
    char err[2048];
    int rc = run_batch(8, argv, out, sizeof out, err, sizeof err);
    CHECK(rc == 2);
    CHECK(strstr(err, "perplexity (fp)") != NULL && strstr(err, "NaN") != NULL &&
          strstr(err, "logits are not finite") != NULL);
    CHECK(strstr(out, "+nan") == NULL && strstr(out, "perplexity on") == NULL);
    if (rc != 2 || !strstr(err, "logits") || strstr(out, "perplexity on"))
        fprintf(stderr, "  rc %d, stderr: %s\nstdout: %s\n", rc, err, out);
}

/* Files written get 0666 less the umask; replacing keeps the file's mode. */
static void test_modes(void)
{
    const char *dir = t_tmpdir("robust_modes");
    CHECK(dir != NULL);
    if (!dir)
        return;
    char f[600];
    snprintf(f, sizeof f, "%s/a.json", dir);
    mode_t old = umask(027);
    ls_error e;
    CHECK(ls_write_file_atomic(f, "{}", 2, &e) == 0);
    struct stat st;
    CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK(ls_current_umask() == 027);
    umask(0);
    CHECK(chmod(f, 0604) == 0);
    CHECK(ls_write_file_atomic(f, "{\"a\":1}", 7, &e) == 0);
    CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0604);
    snprintf(f, sizeof f, "%s/b.json", dir);
    CHECK(ls_write_file_atomic(f, "{}", 2, &e) == 0);
    CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0666);
    umask(old);
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    RUN(test_non_regular_everywhere);
    RUN(test_hf_dir_members);
    RUN(test_not_found_unreadable);
    RUN(test_text_limit);
    RUN(test_csv_nonfinite);
    RUN(test_outputs_checked_first);
    RUN(test_nan_perplexity);
    RUN(test_modes);
    return t_summary();
}
