/* libFuzzer target: the CSV reader, the three toolkit importers (metrics, kurtosis,
 * sensitivity) and the manual-set reader, on the same input. */
#include <stdlib.h>

#include "base/csv.h"
#include "fuzz_common.h"
#include "method/import.h"
#include "method/manual.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ls_error err;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ls_csv c;
    if (ls_csv_parse("fuzz.csv", text, size, &c, &err) == 0) {
        volatile size_t sink = 0; /* touch every cell */
        for (size_t r = 0; r < c.n_rows; r++)
            for (int k = 0; k < c.n_cols; k++)
                sink += strlen(ls_csv_cell(&c, r, k));
        (void)sink;
    }
    ls_csv_free(&c);

    const char *path = fuzz_memfile(data, size);
    if (!path)
        return 0;
    ls_profile *p = NULL;
    if (ls_import_metrics(path, &p, &err) == 0)
        ls_profile_free(p);
    if (ls_import_kurtosis(path, &p, &err) == 0)
        ls_profile_free(p);
    if (ls_import_sensitivity(path, NULL, &p, &err) == 0)
        ls_profile_free(p);
    unsigned char flags[8 * 7];
    ls_manual_read(path, 8, flags, &err);
    return 0;
}
