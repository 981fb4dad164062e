#include "script.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int key;
} names[] = {
    {"Tab", '\t'},          {"BTab", KEY_BTAB},     {"Enter", '\n'},      {"Esc", 27},
    {"Space", ' '},         {"Up", KEY_UP},         {"Down", KEY_DOWN},   {"Left", KEY_LEFT},
    {"Right", KEY_RIGHT},   {"PgUp", KEY_PPAGE},    {"PgDn", KEY_NPAGE},  {"Home", KEY_HOME},
    {"End", KEY_END},       {"F1", KEY_F(1)},       {"F2", KEY_F(2)},       {"Backspace", KEY_BACKSPACE},
    {"C-u", 21},            {"C-l", 12},            {"C-r", 18},
};

static int push(script *s, int *cap, script_step st)
{
    if (s->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        script_step *ns = realloc(s->steps, sizeof *ns * (size_t)nc);
        if (!ns)
            return -1;
        s->steps = ns;
        *cap = nc;
    }
    s->steps[s->n++] = st;
    return 0;
}

static int parse_token(const char *t, script *s, int *cap)
{
    script_step st = {SOP_KEY, 0, 0, 0};
    if (strncmp(t, "text:", 5) == 0) {
        for (const char *p = t + 5; *p; p++)
            if (push(s, cap, (script_step){SOP_KEY, (unsigned char)*p, 0, 0}) < 0)
                return -1;
        return 0;
    }
    if (strcmp(t, "wait") == 0)
        st.op = SOP_WAIT;
    else if (strcmp(t, "dump") == 0)
        st.op = SOP_DUMP;
    else if (sscanf(t, "resize:%dx%d", &st.a, &st.b) == 2 && st.a > 0 && st.b > 0)
        st.op = SOP_RESIZE;
    else if (sscanf(t, "click:%d,%d", &st.a, &st.b) == 2)
        st.op = SOP_CLICK;
    else if (strlen(t) == 1)
        st.key = (unsigned char)t[0];
    else {
        st.key = -1;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(t, names[i].name) == 0)
                st.key = names[i].key;
        if (st.key < 0)
            return -2;
    }
    return push(s, cap, st);
}

int script_load(const char *path, script *s, char *err, int cap)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, (size_t)cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    int scap = 0, line_no = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        if (line[0] == '#')
            continue;
        for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t;
             t = strtok_r(NULL, " \t\r\n", &save)) {
            int rc = parse_token(t, s, &scap);
            if (rc < 0) {
                snprintf(err, (size_t)cap, "%s: line %d: %s \"%s\"", path, line_no,
                         rc == -2 ? "unknown token" : "out of memory at", t);
                fclose(f);
                script_free(s);
                return -1;
            }
        }
    }
    fclose(f);
    return 0;
}

void script_free(script *s)
{
    free(s->steps);
    memset(s, 0, sizeof *s);
}

bool script_next(script *s, script_step *out)
{
    if (s->pos >= s->n)
        return false;
    *out = s->steps[s->pos++];
    return true;
}
