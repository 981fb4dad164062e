#include "method/manual.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "formats/model.h"
#include "method/profile.h"

int ls_manual_parse_entry(const char *s, int n_layers, int *layer, int *module)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end;
    long l = strtol(s, &end, 10);
    if (end == s || l < 0 || l >= n_layers || (*end != '.' && !isspace((unsigned char)*end)))
        return -1;
    s = end + 1;
    while (isspace((unsigned char)*s))
        s++;
    char name[64];
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]) && n < sizeof name - 1) {
        name[n] = s[n];
        n++;
    }
    name[n] = '\0';
    for (const char *rest = s + n; *rest; rest++)
        if (!isspace((unsigned char)*rest))
            return -1;
    int m = ls_module_from_name(name);
    if (m < 0)
        return -1;
    *layer = (int)l;
    *module = m;
    return 0;
}

static int read_export_json(const char *path, const char *text, int n_layers,
                            unsigned char *flags, ls_error *err)
{
    cJSON *doc = cJSON_Parse(text);
    if (!doc)
        return ls_fail(err, "%s: not valid JSON", path);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "boosted");
    int rc = 0;
    if (!cJSON_IsArray(b)) {
        rc = ls_fail(err, "%s: \"boosted\": missing or not a list (is it a layerscope "
                          "allocation export?)", path);
    } else {
        const cJSON *it;
        int idx = 0;
        cJSON_ArrayForEach(it, b)
        {
            int l, m;
            if (!cJSON_IsString(it) || ls_manual_parse_entry(it->valuestring, n_layers, &l, &m) < 0) {
                rc = ls_fail(err, "%s: \"boosted\"[%d]: not \"LAYER.MODULE\" with a layer "
                                  "below %d", path, idx, n_layers);
                break;
            }
            flags[LS_IDX(l, m)] = 1;
            idx++;
        }
    }
    cJSON_Delete(doc);
    return rc;
}

int ls_manual_read(const char *path, int n_layers, unsigned char *flags, ls_error *err)
{
    memset(flags, 0, (size_t)n_layers * LS_N_MODULES);
    size_t len;
    char *text = ls_read_text_file(path, (size_t)16 << 20, &len, err);
    if (!text)
        return -1;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    int rc = 0;
    if (*p == '{') {
        rc = read_export_json(path, text, n_layers, flags, err);
    } else {
        int line = 0;
        for (char *s = text; s && *s;) {
            char *nl = strchr(s, '\n');
            if (nl)
                *nl = '\0';
            line++;
            char *hash = strchr(s, '#');
            if (hash)
                *hash = '\0';
            const char *q = s;
            while (isspace((unsigned char)*q))
                q++;
            if (*q) {
                int l, m;
                if (ls_manual_parse_entry(q, n_layers, &l, &m) < 0) {
                    rc = ls_fail(err, "%s: line %d: expected LAYER.MODULE with a layer below "
                                      "%d and a module such as mlp.down_proj or down",
                                 path, line, n_layers);
                    break;
                }
                flags[LS_IDX(l, m)] = 1;
            }
            s = nl ? nl + 1 : NULL;
        }
    }
    free(text);
    return rc;
}
