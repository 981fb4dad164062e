#include "io/uiconfig.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/atomic_write.h"
#include "base/mapfile.h"

void ls_uiconfig_default(ls_uiconfig *c)
{
    memset(c, 0, sizeof *c);
    c->settings = ls_settings_default();
}

int ls_uiconfig_path(char *buf, size_t cap)
{
    const char *env = getenv("LAYERSCOPE_CONFIG");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return 0;
    }
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg) {
        snprintf(buf, cap, "%s/layerscope/config.json", xdg);
        return 0;
    }
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(buf, cap, "%s/.config/layerscope/config.json", home);
        return 0;
    }
    return -1;
}

static char *read_all(const char *path, ls_error *err, bool *missing)
{
    *missing = false;
    struct stat st;
    *missing = stat(path, &st) != 0 && errno == ENOENT;
    FILE *f = *missing ? NULL : ls_fopen_regular(path, err);
    if (!f) {
        if (*missing)
            ls_fail(err, "%s: not found", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (len + 1 >= cap) {
            if (cap > (1u << 20)) { /* a settings file is tiny; refuse anything huge */
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        ls_fail(err, "%s: too large or out of memory", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static void note_add(char *note, size_t cap, const char *key)
{
    size_t len = strlen(note);
    snprintf(note + len, cap - len, "%s%s", len ? ", " : "unknown keys ignored: ", key);
}

/* Applies one key that is not a setting; -1 with err when the value is wrong. */
static int apply_key(ls_uiconfig *c, const cJSON *it, const char *path, bool *known,
                     ls_error *err)
{
    const char *k = it->string;
    *known = true;
    if (strcmp(k, "version") == 0) {
        if (!cJSON_IsNumber(it) || it->valueint != LS_UICONFIG_VERSION)
            return ls_fail(err, "%s: version: expected %d", path, LS_UICONFIG_VERSION);
    } else if (ls_settings_json_key(LS_SETTINGS_CONFIG, k)) {
        /* read by ls_settings_from_json in ls_uiconfig_load */
    } else if (strcmp(k, "theme") == 0) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof c->theme)
            return ls_fail(err, "%s: theme: not a theme name", path);
        snprintf(c->theme, sizeof c->theme, "%s", it->valuestring);
    } else if (strcmp(k, "log_scale") == 0) {
        if (!cJSON_IsBool(it))
            return ls_fail(err, "%s: log_scale: not true or false", path);
        c->log_scale = cJSON_IsTrue(it);
    } else if (strcmp(k, "last_model") == 0) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof c->last_model)
            return ls_fail(err, "%s: last_model: not a path", path);
        snprintf(c->last_model, sizeof c->last_model, "%s", it->valuestring);
    } else {
        *known = false;
    }
    return 0;
}

int ls_uiconfig_load(const char *path, ls_uiconfig *c, char *note, size_t note_cap,
                     ls_error *err)
{
    ls_uiconfig_default(c);
    if (note_cap)
        note[0] = '\0';
    bool missing;
    char *text = read_all(path, err, &missing);
    if (!text)
        return missing ? 1 : -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return ls_fail(err, "%s: not a JSON object", path);
    }
    ls_uiconfig tmp;
    ls_uiconfig_default(&tmp);
    int rc = 0;
    for (const cJSON *it = doc->child; it && rc == 0; it = it->next) {
        bool known;
        rc = apply_key(&tmp, it, path, &known, err);
        if (rc == 0 && !known && note_cap)
            note_add(note, note_cap, it->string);
    }
    if (rc == 0) {
        char where[1100];
        snprintf(where, sizeof where, "%s: ", path);
        unsigned found;
        rc = ls_settings_from_json(doc, LS_SETTINGS_CONFIG, &tmp.settings, where, &found, err);
        tmp.has_settings = found != 0;
    }
    cJSON_Delete(doc);
    if (rc < 0)
        return -1;
    *c = tmp;
    return 0;
}

static int mkdir_parents(const char *path, ls_error *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0777) < 0 && errno != EEXIST)
                return ls_fail(err, "%s: %s", dir, strerror(errno));
            *p = '/';
        }
    if (dir[0] && mkdir(dir, 0777) < 0 && errno != EEXIST)
        return ls_fail(err, "%s: %s", dir, strerror(errno));
    return 0;
}

int ls_uiconfig_save(const char *path, const ls_uiconfig *c, ls_error *err)
{
    if (mkdir_parents(path, err) < 0)
        return -1;
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return ls_fail(err, "%s: out of memory", path);
    cJSON_AddNumberToObject(doc, "version", LS_UICONFIG_VERSION);
    ls_settings_to_json(&c->settings, LS_SETTINGS_CONFIG, doc);
    cJSON_AddStringToObject(doc, "theme", c->theme[0] ? c->theme : "default");
    cJSON_AddBoolToObject(doc, "log_scale", c->log_scale);
    cJSON_AddStringToObject(doc, "last_model", c->last_model);
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!text)
        return ls_fail(err, "%s: out of memory", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL; written with the length below */
    int rc = ls_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}
