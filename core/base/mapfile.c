#include "base/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ls_file_kind_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "of an unknown kind";
    }
}

int ls_open_regular(const char *path, struct stat *st_out, ls_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a
     * writer; the kind is then checked on the descriptor itself (no race with a rename). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        struct stat lst; /* a socket cannot be opened at all (ENXIO): name its kind */
        if (e != ENOENT && stat(path, &lst) == 0 && !S_ISREG(lst.st_mode))
            return ls_fail(err, "%s: not a regular file (%s)", path,
                           ls_file_kind_name((unsigned)lst.st_mode));
        if (e == ENOENT)
            return ls_fail(err, "%s: not found", path);
        if (e == EACCES || e == EPERM)
            return ls_fail(err, "%s: unreadable: %s", path, strerror(e));
        return ls_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ls_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ls_fail(err, "%s: not a regular file (%s)", path,
                       ls_file_kind_name((unsigned)st.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (st_out)
        *st_out = st;
    return fd;
}

FILE *ls_fopen_regular(const char *path, ls_error *err)
{
    int fd = ls_open_regular(path, NULL, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        ls_fail(err, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int ls_map_file(const char *path, ls_mapped_file *out, ls_error *err)
{
    out->data = NULL;
    out->size = 0;
    struct stat st;
    int fd = ls_open_regular(path, &st, err);
    if (fd < 0)
        return -1;
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return ls_fail(err, "%s: cannot map: %s", path, strerror(e));
    out->data = p;
    out->size = (size_t)st.st_size;
    return 0;
}

void ls_unmap_file(ls_mapped_file *mf)
{
    if (mf->data)
        munmap((void *)mf->data, mf->size);
    mf->data = NULL;
    mf->size = 0;
}

void ls_mapped_release(const ls_mapped_file *mf, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (!mf->data || !b || b < mf->data || n > mf->size || (size_t)(b - mf->data) > mf->size - n)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    /* Whole pages only, rounded inwards: a page shared with the next tensor stays. */
    uintptr_t lo = ((uintptr_t)b + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)b + n) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

char *ls_read_text_file(const char *path, size_t max_bytes, size_t *len_out, ls_error *err)
{
    struct stat st;
    int fd = ls_open_regular(path, &st, err);
    if (fd < 0)
        return NULL;
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        close(fd);
        ls_fail(err, "%s: larger than %zu bytes (the limit for this kind of file)", path,
                max_bytes);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        ls_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        ls_fail(err, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max_bytes) {
                free(buf);
                fclose(f);
                ls_fail(err, "%s: larger than %zu bytes (the limit for this kind of file)", path,
                        max_bytes);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                ls_fail(err, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        ls_fail(err, "%s: read error", path);
        return NULL;
    }
    if (len > max_bytes) {
        free(buf);
        ls_fail(err, "%s: larger than %zu bytes (the limit for this kind of file)", path,
                        max_bytes);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}
