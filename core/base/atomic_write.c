#include "base/atomic_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ls_file_kind_name_w(unsigned mode)
{
    return S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
           : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : "not a file";
}

mode_t ls_current_umask(void)
{
    /* /proc/self/status has it without changing it (umask() can only read by setting, which
     * would race with other threads creating files) */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned mask;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1) {
            fclose(f);
            return (mode_t)(mask & 0777);
        }
    if (f)
        fclose(f);
    mode_t old = umask(022);
    umask(old);
    return old;
}

mode_t ls_new_file_mode(const char *path, mode_t base)
{
    struct stat st;
    if (path && stat(path, &st) == 0)
        return st.st_mode & 07777; /* replacing keeps the file's mode */
    return base & ~ls_current_umask();
}

int ls_atomic_open(const char *path, ls_atomic_file *af, ls_error *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->tmp_path = malloc(n + 16);
    af->path = strdup(path);
    if (!af->tmp_path || !af->path) {
        ls_atomic_abort(af);
        return ls_fail(err, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(af->tmp_path);
        af->tmp_path = NULL;
        ls_atomic_abort(af);
        return ls_fail(err, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(e));
    }
    /* mkstemp creates 0600; give the file the mode open(O_CREAT, 0666) would have, or the
     * mode of the file it replaces */
    if (fchmod(fd, ls_new_file_mode(path, 0666)) != 0) {
        int e = errno;
        close(fd);
        ls_atomic_abort(af);
        return ls_fail(err, "%s: cannot set the file mode: %s", path, strerror(e));
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        ls_atomic_abort(af);
        return ls_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    return 0;
}

int ls_atomic_commit(ls_atomic_file *af, ls_error *err)
{
    int bad = fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0;
    int e = errno;
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->f = NULL;
    if (!bad && rename(af->tmp_path, af->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        ls_fail(err, "%s: write failed: %s", af->path, strerror(e));
        ls_atomic_abort(af);
        return -1;
    }
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
    return 0;
}

void ls_atomic_abort(ls_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int ls_write_file_atomic(const char *path, const void *data, size_t len, ls_error *err)
{
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        ls_atomic_abort(&af);
        return ls_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return ls_atomic_commit(&af, err);
}

int ls_check_output_path(const char *option, const char *path, bool is_dir, ls_error *err)
{
    if (!path || !*path)
        return ls_fail(err, "%s: empty path", option);
    /* the directory the file (or the temporary beside it) is created in */
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    char parent[4096];
    if (b == 0)
        snprintf(parent, sizeof parent, ".");
    else if (b >= sizeof parent)
        return ls_fail(err, "%s %s: path too long", option, path);
    else {
        memcpy(parent, path, b);
        parent[b] = '\0';
    }
    struct stat st;
    if (stat(parent, &st) != 0)
        return ls_fail(err, "%s %s: directory %s: %s", option, path, parent,
                       errno == ENOENT ? "not found" : strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ls_fail(err, "%s %s: %s is not a directory", option, path, parent);
    if (access(parent, W_OK | X_OK) != 0)
        return ls_fail(err, "%s %s: directory %s is not writable: %s", option, path, parent,
                       strerror(errno));
    if (stat(path, &st) == 0) {
        if (!is_dir && S_ISDIR(st.st_mode))
            return ls_fail(err, "%s %s: is a directory", option, path);
        if (is_dir && !S_ISDIR(st.st_mode))
            return ls_fail(err, "%s %s: exists and is not a directory", option, path);
        if (!is_dir && !S_ISREG(st.st_mode))
            return ls_fail(err, "%s %s: exists and is not a regular file (%s)", option,
                           path, ls_file_kind_name_w((unsigned)st.st_mode));
    }
    return 0;
}
