/* libFuzzer target: the importance matrix reader (GGUF and legacy), its statistics, the
 * profile built from it, the recognition by content and the GGUF writer on what it read. */
#include "fuzz_common.h"
#include "formats/imatrix.h"
#include "io/imatrix_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfile(data, size);
    if (path)
        (void)ls_imatrix_sniff(path);
    ls_imatrix *im = NULL;
    ls_error err;
    if (ls_imatrix_parse("fuzz.imatrix", data, size, &im, &err) != 0)
        return 0;
    volatile double sink = 0;
    for (int i = 0; i < im->n_entries; i++) {
        ls_act_stats st;
        ls_imatrix_stats(im, i, &st);
        sink += st.sum + ls_imatrix_energy(&im->entries[i]);
    }
    (void)sink;
    ls_profile *p = NULL;
    if (ls_imatrix_to_profile(im, &p, &err) == 0)
        ls_profile_free(p);
    static char out[64];
    if (!out[0])
        snprintf(out, sizeof out, "/tmp/fuzz_imatrix_%d.gguf", (int)getpid());
    if (ls_imatrix_write_gguf(out, im, &err) == 0) {
        ls_imatrix *back = NULL;
        if (ls_imatrix_read(out, &back, &err) == 0)
            ls_imatrix_free(back);
    }
    ls_imatrix_free(im);
    return 0;
}
