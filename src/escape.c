/*
 * escape: text form of untrusted bytes. See include/escape.h.
 */
#include "escape.h"

static const char hex_digits[] = "0123456789abcdef";

size_t escape_utf8_seq(const unsigned char *s, size_t n, size_t *bad_len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* range for the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        *bad_len = 1; /* stray continuation byte, C0, C1, F5..FF */
        return 0;
    }

    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char b = s[i];
        unsigned char min = (i == 1) ? lo : 0x80;
        unsigned char max = (i == 1) ? hi : 0xbf;
        if (b < min || b > max)
            break;
    }
    if (i == need)
        return need;
    *bad_len = i;
    return 0;
}

bool escape_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t bad = 0, n = escape_utf8_seq(u + i, len - i, &bad);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* How many bytes from s[0..n) pass unescaped (0: escape s[0]). */
static size_t plain_run(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x20 || c == 0x7f || c == '\\')
        return 0;
    if (c < 0x80)
        return 1;
    size_t bad = 0, len = escape_utf8_seq(s, n, &bad);
    if (len == 2 && c == 0xc2 && s[1] < 0xa0)
        return 0; /* C1 control: ESC's 8-bit twin (U+009B is CSI) */
    return len;
}

size_t escape_text_size(const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t size = 1;
    for (size_t i = 0; i < len;) {
        size_t n = plain_run(s + i, len - i);
        size += n ? n : 4;
        i += n ? n : 1;
    }
    return size;
}

size_t escape_text(const char *in, size_t len, char *out, size_t out_size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = plain_run(s + i, len - i);
        if (n) {
            if (o + n >= out_size)
                break;
            for (size_t k = 0; k < n; k++)
                out[o++] = (char)s[i + k];
            i += n;
        } else {
            if (o + 4 >= out_size)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex_digits[s[i] >> 4];
            out[o++] = hex_digits[s[i] & 0xf];
            i++;
        }
    }
    if (out_size)
        out[o] = '\0';
    return o;
}
