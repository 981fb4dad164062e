/* HQQ bit packing; see bitpack.h for the layout. */
#include "quant/bitpack.h"

#include <string.h>

const char *ls_bitpack_name(int nbits)
{
    switch (nbits) {
    case 8: return "8bit_u8";
    case 4: return "4bit_u8";
    case 3: return "3bit_32";
    case 2: return "2bit_u8";
    default: return NULL;
    }
}

bool ls_bitpack_ok(int nbits, int64_t R)
{
    if (R <= 0)
        return false;
    switch (nbits) {
    case 8: return true;
    case 4: return R % 2 == 0;
    case 3: return true;
    case 2: return R % 4 == 0;
    default: return false;
    }
}

int64_t ls_bitpack_rows(int nbits, int64_t R)
{
    switch (nbits) {
    case 4: return R / 2;
    case 3: return (R + 9) / 10;
    case 2: return R / 4;
    default: return R;
    }
}

int ls_bitpack_elem_size(int nbits)
{
    return nbits == 3 ? 4 : 1;
}

size_t ls_bitpack_bytes(int nbits, int64_t R, int64_t C)
{
    return (size_t)ls_bitpack_rows(nbits, R) * (size_t)C * (size_t)ls_bitpack_elem_size(nbits);
}

void ls_bitpack_range(int nbits, const uint8_t *q, int64_t R, int64_t C, void *out,
                      int64_t x0, int64_t x1)
{
    int64_t n = R * C;
    if (nbits == 8) {
        memcpy((uint8_t *)out + x0, q + x0, (size_t)(x1 - x0));
    } else if (nbits == 4) {
        uint8_t *o = out;
        int64_t h = n / 2;
        for (int64_t x = x0; x < x1; x++)
            o[x] = (uint8_t)(q[x] << 4 | q[x + h]);
    } else if (nbits == 2) {
        uint8_t *o = out;
        int64_t t = n / 4;
        for (int64_t x = x0; x < x1; x++)
            o[x] = (uint8_t)(q[x] << 6 | q[x + t] << 4 | q[x + 2 * t] << 2 | q[x + 3 * t]);
    } else if (nbits == 3) {
        int32_t *o = out;
        int64_t step = ls_bitpack_rows(3, R) * C; /* t*C: distance between row blocks */
        for (int64_t x = x0; x < x1; x++) {
            uint32_t w = 0;
            for (int m = 0; m < 10; m++) {
                int64_t i = x + m * step;
                if (i < n) /* rows past R are the zero padding */
                    w |= (uint32_t)q[i] << (27 - 3 * m);
            }
            o[x] = (int32_t)w;
        }
    }
}

int ls_bitpack(int nbits, const uint8_t *q, int64_t R, int64_t C, void *out)
{
    if (!ls_bitpack_ok(nbits, R) || C <= 0)
        return -1;
    ls_bitpack_range(nbits, q, R, C, out, 0, ls_bitpack_rows(nbits, R) * C);
    return 0;
}

unsigned ls_bitpack_get(int nbits, const void *packed, int64_t R, int64_t C, int64_t i)
{
    int64_t n = R * C;
    const uint8_t *p = packed;
    switch (nbits) {
    case 8:
        return p[i];
    case 4: {
        int64_t h = n / 2;
        return i < h ? (unsigned)(p[i] >> 4) : (unsigned)(p[i - h] & 15u);
    }
    case 2: {
        int64_t t = n / 4, m = i / t;
        return (unsigned)(p[i - m * t] >> (6 - 2 * m)) & 3u;
    }
    case 3: {
        const int32_t *w = packed;
        int64_t step = ls_bitpack_rows(3, R) * C, m = i / step;
        return ((uint32_t)w[i - m * step] >> (27 - 3 * m)) & 7u;
    }
    default:
        return 0;
    }
}

int ls_bitunpack(int nbits, const void *packed, int64_t R, int64_t C, uint8_t *q)
{
    if (!ls_bitpack_ok(nbits, R) || C <= 0)
        return -1;
    int64_t n = R * C;
    for (int64_t i = 0; i < n; i++)
        q[i] = (uint8_t)ls_bitpack_get(nbits, packed, R, C, i);
    return 0;
}
