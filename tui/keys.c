#include "keys.h"

const ls_key ls_keys[] = {
#define KEY_ROW(ctx, code, label, action, hint, help) {CTX_##ctx, code, label, action, hint, help},
    LS_KEYS(KEY_ROW)
#undef KEY_ROW
};
const int ls_n_keys = (int)(sizeof ls_keys / sizeof ls_keys[0]);

static const struct {
    const char *title;
    ls_key_context parent;
} contexts[CTX_COUNT] = {
#define CTX_ROW(n, title, parent) [CTX_##n] = {title, parent},
    LS_KEY_CONTEXTS(CTX_ROW)
#undef CTX_ROW
};

const char *ls_key_context_title(ls_key_context context)
{
    return context >= 0 && context < CTX_COUNT ? contexts[context].title : "";
}

const ls_key *ls_key_find(ls_key_context context, int code)
{
    while (context >= 0 && context < CTX_COUNT) {
        const ls_key *other = NULL;
        for (int i = 0; i < ls_n_keys; i++) {
            if (ls_keys[i].context != context)
                continue;
            if (ls_keys[i].code == code)
                return &ls_keys[i];
            if (ls_keys[i].code == LS_KEY_OTHER)
                other = &ls_keys[i];
        }
        if (other)
            return other;
        context = contexts[context].parent;
    }
    return NULL;
}
