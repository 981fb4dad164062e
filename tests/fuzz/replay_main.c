/* Replays inputs through a libFuzzer target without libFuzzer (any compiler): make test
 * links each tests/fuzz/fuzz_*.c with this main and runs it over the seed and regression
 * corpora, so every input that once crashed keeps being checked, with or without clang.
 *
 *   fuzz_NAME [-t SECONDS] FILE|DIR ...    (directories: their regular files, sorted)
 *
 * Prints "replayed N inputs (M bytes)"; a crash or a sanitizer report ends the process, and
 * an input that runs longer than SECONDS (default 60) is reported as a hang (exit 3). */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *current;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "HANG: an input ran past the time limit: ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0) {
    }
    _exit(3);
}

static long n_inputs, n_bytes;
static unsigned limit = 60;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    current = path;
    alarm(limit);
    LLVMFuzzerTestOneInput(buf, n);
    alarm(0);
    free(buf);
    n_inputs++;
    n_bytes += (long)n;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* an absent corpus is empty */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (names[n])
            sprintf(names[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && run_file(names[i]) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGALRM, on_alarm);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            limit = (unsigned)atoi(argv[++i]);
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc |= run_dir(argv[i]);
        else if (stat(argv[i], &st) == 0)
            rc |= run_file(argv[i]);
    }
    printf("replayed %ld inputs (%ld bytes)\n", n_inputs, n_bytes);
    return rc ? 1 : 0;
}
