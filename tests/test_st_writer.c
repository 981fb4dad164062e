/* The safetensors writer (core/formats/st_writer): entries streamed by a fill callback give
 * the same bytes as entries held in memory; a fill that writes more or less than announced
 * fails, naming the file and the tensor, and leaves nothing behind. The synthetic model
 * writer (tests/support) writes its safetensors through this streaming form. */
#include "test.h"

#include <dirent.h>

#include "base/mapfile.h"
#include "formats/safetensors.h"
#include "formats/st_writer.h"

static float a_data[6] = {1, 2, 3, 4, 5, 6};
static uint16_t b_data[5] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500};

typedef struct chunk {
    const void *data;
    size_t bytes; /* what the fill writes */
} chunk;

static int fill_chunk(FILE *f, void *ctx, ls_error *err)
{
    const chunk *c = ctx;
    for (size_t i = 0; i < c->bytes; i++) /* a byte at a time: a stream, not one block */
        if (fputc(((const unsigned char *)c->data)[i], f) == EOF)
            return ls_fail(err, "fill: write failed");
    return 0;
}

static int write_file(const char *path, bool stream, size_t b_written, ls_error *err)
{
    static const int64_t a_shape[2] = {2, 3}, b_shape[1] = {5};
    chunk a = {a_data, sizeof a_data}, b = {b_data, b_written};
    ls_st_writer w;
    ls_st_writer_init(&w);
    int rc = ls_st_writer_meta(&w, "format", "pt", err);
    if (rc == 0)
        rc = stream ? ls_st_writer_add_stream(&w, "a", "F32", 2, a_shape, sizeof a_data,
                                              fill_chunk, &a, err)
                    : ls_st_writer_add(&w, "a", "F32", 2, a_shape, a_data, sizeof a_data, err);
    if (rc == 0)
        rc = stream ? ls_st_writer_add_stream(&w, "b", "F16", 1, b_shape, sizeof b_data,
                                              fill_chunk, &b, err)
                    : ls_st_writer_add(&w, "b", "F16", 1, b_shape, b_data, sizeof b_data, err);
    if (rc == 0)
        rc = ls_st_writer_write(&w, path, err);
    ls_st_writer_free(&w);
    return rc;
}

static int files_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_stream_equals_memory(void)
{
    const char *dir = t_tmpdir("st_writer_same");
    char mem[600], str[600];
    snprintf(mem, sizeof mem, "%s/mem.safetensors", dir);
    snprintf(str, sizeof str, "%s/stream.safetensors", dir);
    ls_error err;
    CHECK(write_file(mem, false, sizeof b_data, &err) == 0);
    CHECK(write_file(str, true, sizeof b_data, &err) == 0);
    size_t n1 = 0, n2 = 0;
    char *x = ls_read_text_file(mem, 1 << 20, &n1, &err);
    char *y = ls_read_text_file(str, 1 << 20, &n2, &err);
    CHECK(x && y && n1 == n2 && n1 > sizeof a_data + sizeof b_data && memcmp(x, y, n1) == 0);
    /* and the file reads back: the streamed bytes are where the header says */
    ls_st_file f;
    bool parsed = y && ls_st_parse(str, (const uint8_t *)y, n2, &f, &err) == 0;
    CHECK(parsed);
    if (parsed) {
        int a = ls_st_find(&f, "a"), b = ls_st_find(&f, "b");
        CHECK(f.n_tensors == 2 && f.n_meta == 1);
        CHECK(a >= 0 && f.tensors[a].n_dims == 2 && f.tensors[a].n_elems == 6 &&
              memcmp(f.tensors[a].data, a_data, sizeof a_data) == 0);
        CHECK(b >= 0 && f.tensors[b].n_elems == 5 &&
              memcmp(f.tensors[b].data, b_data, sizeof b_data) == 0);
        ls_st_free(&f);
    }
    free(x);
    free(y);
}

static void test_fill_of_the_wrong_size_fails(void)
{
    const char *dir = t_tmpdir("st_writer_short");
    char path[600];
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    ls_error err;
    CHECK(write_file(path, true, sizeof b_data - 2, &err) < 0);
    CHECK(strstr(err.msg, "short.safetensors: b: 8 bytes written for 10 announced") != NULL);
    CHECK(files_in(dir) == 0); /* neither the file nor its temporary */
}

int main(void)
{
    RUN(test_stream_equals_memory);
    RUN(test_fill_of_the_wrong_size_fails);
    return t_summary();
}
