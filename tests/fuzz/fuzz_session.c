/* libFuzzer target: a session file (layerscope-session v1) loaded, then its metrics applied
 * to a profile of the session's own layer count and of a different one. */
#include "fuzz_common.h"
#include "io/session.h"
#include "method/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfile(data, size);
    if (!path)
        return 0;
    ls_session s;
    ls_error err;
    if (ls_session_load(path, &s, &err) == 0) {
        int counts[2] = {s.n_layers, 3};
        for (int k = 0; k < 2; k++) {
            if (counts[k] < 1 || counts[k] > 256)
                continue;
            ls_profile *p = ls_profile_new(counts[k], "fuzz", "fuzz", "fuzz", &err);
            if (!p)
                continue;
            bool changed;
            ls_session_apply_metrics(&s, p, s.fingerprint, &changed);
            ls_profile_free(p);
        }
        ls_session_free(&s);
    }
    return 0;
}
