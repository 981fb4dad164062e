#include "keys.h"

const ls_key ls_keys[] = {
#define KEY_ROW(code, label, action, hint, help) {code, label, action, hint, help},
    LS_KEYS(KEY_ROW)
#undef KEY_ROW
};
const int ls_n_keys = (int)(sizeof ls_keys / sizeof ls_keys[0]);

const ls_key *ls_key_find(int code)
{
    for (int i = 0; i < ls_n_keys; i++)
        if (ls_keys[i].code == code)
            return &ls_keys[i];
    return NULL;
}
