/*
 * json: builds one JSON object per event line in a fixed buffer.
 *
 * Strings are escaped per RFC 8259 and forced to valid UTF-8: thread names
 * and paths come from the tracee and may hold any bytes, and one bad byte
 * must not make a consumer's JSON parser reject the whole stream. Each
 * ill-formed sequence (maximal subpart, as Unicode recommends) becomes one
 * U+FFFD; json_add_bytes() keeps such a value lossless with a hex twin.
 * Overflow marks the line truncated instead of cutting it.
 */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* Room kept at the end of the buffer for the closing brace and the NUL, so
 * json_end() can never fail for lack of space once the pairs fitted. */
#define JSON_TAIL 2

static const char hex_digits[] = "0123456789abcdef";

size_t json_escape(const char *in, size_t len, char *out, size_t out_size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;

/* Keeps one byte for the NUL; fails the whole call instead of writing a
 * partial escape that a reader would misparse. */
#define NEED(k)                          \
    do {                                 \
        if (o + (k) + 1 > out_size)      \
            return (size_t)-1;           \
    } while (0)

    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        const char *esc = NULL;
        switch (c) {
        case '"':  esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            NEED(2);
            out[o++] = esc[0];
            out[o++] = esc[1];
            i++;
        } else if (c < 0x20) {
            NEED(6);
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex_digits[c >> 4];
            out[o + 5] = hex_digits[c & 0xf];
            o += 6;
            i++;
        } else if (c < 0x80) {
            NEED(1);
            out[o++] = (char)c;
            i++;
        } else {
            size_t bad = 0;
            size_t n = escape_utf8_seq(s + i, len - i, &bad);
            if (n) {
                NEED(n);
                memcpy(out + o, s + i, n);
                o += n;
                i += n;
            } else {
                NEED(3);
                memcpy(out + o, "\xef\xbf\xbd", 3);
                o += 3;
                i += bad;
            }
        }
    }
#undef NEED
    if (out_size == 0)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

void json_begin(struct json_line *j)
{
    j->buf[0] = '{';
    j->buf[1] = '\0';
    j->len = 1;
    j->first = true;
    j->truncated = false;
}

static size_t room(const struct json_line *j)
{
    return JSON_LINE_MAX - JSON_TAIL - j->len;
}

static void put_raw(struct json_line *j, const char *s, size_t n)
{
    if (j->truncated)
        return;
    if (n > room(j)) {
        j->truncated = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static void put_string(struct json_line *j, const char *s)
{
    put_raw(j, "\"", 1);
    if (j->truncated)
        return;
    /* json_escape's NUL lands where the closing quote goes next. */
    size_t n = json_escape(s, strlen(s), j->buf + j->len, room(j));
    if (n == (size_t)-1) {
        j->truncated = true;
        return;
    }
    j->len += n;
    put_raw(j, "\"", 1);
}

/* key NULL: an element of an array (only the comma). */
static void put_key(struct json_line *j, const char *key)
{
    if (!j->first)
        put_raw(j, ",", 1);
    j->first = false;
    if (!key)
        return;
    put_string(j, key);
    put_raw(j, ":", 1);
}

void json_open(struct json_line *j, const char *key, char bracket)
{
    put_key(j, key);
    put_raw(j, &bracket, 1);
    j->first = true;
}

void json_close(struct json_line *j, char bracket)
{
    put_raw(j, &bracket, 1);
    j->first = false;
}

void json_add_bytes(struct json_line *j, const char *key, const char *value, size_t len)
{
    char hex_key[64];
    put_key(j, key);
    put_raw(j, "\"", 1);
    if (j->truncated)
        return;
    size_t n = json_escape(value, len, j->buf + j->len, room(j));
    if (n == (size_t)-1) {
        j->truncated = true;
        return;
    }
    j->len += n;
    put_raw(j, "\"", 1);
    if (escape_utf8_valid(value, len))
        return;
    if (snprintf(hex_key, sizeof hex_key, "%s_hex", key ? key : "") >= (int)sizeof hex_key) {
        j->truncated = true;
        return;
    }
    put_key(j, hex_key);
    put_raw(j, "\"", 1);
    if (j->truncated || 2 * len > room(j)) {
        j->truncated = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        j->buf[j->len++] = hex_digits[(unsigned char)value[i] >> 4];
        j->buf[j->len++] = hex_digits[(unsigned char)value[i] & 0xf];
    }
    put_raw(j, "\"", 1);
}

void json_add_untrusted(struct json_line *j, const char *key, const char *value)
{
    if (!value) {
        json_add_str(j, key, NULL);
        return;
    }
    json_add_bytes(j, key, value, strlen(value));
}

void json_add_str(struct json_line *j, const char *key, const char *value)
{
    put_key(j, key);
    if (value)
        put_string(j, value);
    else
        put_raw(j, "null", 4);
}

static void put_fmt_number(struct json_line *j, const char *text, int n)
{
    if (n < 0) {
        j->truncated = true;
        return;
    }
    put_raw(j, text, (size_t)n);
}

void json_add_int(struct json_line *j, const char *key, int64_t value)
{
    char num[24];
    put_key(j, key);
    put_fmt_number(j, num, snprintf(num, sizeof num, "%" PRId64, value));
}

void json_add_uint(struct json_line *j, const char *key, uint64_t value)
{
    char num[24];
    put_key(j, key);
    put_fmt_number(j, num, snprintf(num, sizeof num, "%" PRIu64, value));
}

void json_add_hex(struct json_line *j, const char *key, uint64_t value)
{
    char num[24];
    put_key(j, key);
    put_fmt_number(j, num, snprintf(num, sizeof num, "\"0x%" PRIx64 "\"", value));
}

void json_add_bool(struct json_line *j, const char *key, bool value)
{
    put_key(j, key);
    if (value)
        put_raw(j, "true", 4);
    else
        put_raw(j, "false", 5);
}

void json_add_raw(struct json_line *j, const char *key, const char *raw)
{
    put_key(j, key);
    if (raw)
        put_raw(j, raw, strlen(raw));
    else
        put_raw(j, "null", 4);
}

const char *json_end(struct json_line *j)
{
    if (j->truncated)
        return NULL;
    /* JSON_TAIL guarantees these two bytes. */
    j->buf[j->len++] = '}';
    j->buf[j->len] = '\0';
    return j->buf;
}
