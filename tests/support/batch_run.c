/* See batch_run.h. */
#include "batch_run.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/mapfile.h"
#include "cli/batch.h"
#include "cli/options.h"

int ls_test_run_batch(int argc, char **argv, char *errbuf, size_t cap)
{
    ls_options o;
    ls_error err;
    if (ls_options_parse(argc, argv, &o, &err) < 0) {
        snprintf(errbuf, cap, "%s", err.msg);
        return 2;
    }
    FILE *out = fopen("/dev/null", "w");
    FILE *ef = tmpfile();
    int rc = ls_batch_run(&o, out, ef);
    rewind(ef);
    size_t n = fread(errbuf, 1, cap - 1, ef);
    errbuf[n] = '\0';
    fclose(out);
    fclose(ef);
    return rc;
}

cJSON *ls_test_read_json(const char *path)
{
    ls_error err;
    char *text = ls_read_text_file(path, 64 << 20, NULL, &err);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    return doc;
}
