/*
 * Unit tests for json.c: the line writer's exact output, RFC 8259
 * escaping, UTF-8 repair (one U+FFFD per ill-formed subpart) and the
 * all-or-nothing handling of lines that do not fit.
 */
#include <stdint.h>
#include <stdlib.h>

#include "escape.h"
#include "json.h"
#include "unit.h"

#define FFFD "\xef\xbf\xbd"

/* Escapes a string with explicit length (it may hold NULs). */
static const char *esc(const char *in, size_t len)
{
    static char out[1024];
    if (json_escape(in, len, out, sizeof out) == (size_t)-1)
        return NULL;
    return out;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

TEST(object_exact)
{
    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "event", "mmap");
    json_add_int(&j, "fd", -1);
    json_add_uint(&j, "len", UINT64_MAX);
    json_add_hex(&j, "addr", 0x7fBEE2FFF000ULL);
    json_add_bool(&j, "ok", true);
    json_add_bool(&j, "bad", false);
    json_add_str(&j, "comm", NULL);
    json_add_raw(&j, "stack", "[1,2]");
    json_add_int(&j, "min", INT64_MIN);
    CHECK_STR(json_end(&j), "{\"event\":\"mmap\",\"fd\":-1,\"len\":18446744073709551615,"
                            "\"addr\":\"0x7fbee2fff000\",\"ok\":true,\"bad\":false,"
                            "\"comm\":null,\"stack\":[1,2],"
                            "\"min\":-9223372036854775808}");
    CHECK(j.len == strlen(j.buf));
}

TEST(object_edges)
{
    struct json_line j;
    json_begin(&j);
    CHECK_STR(json_end(&j), "{}");

    json_begin(&j); /* reuse after end starts afresh */
    json_add_hex(&j, "a", 0);
    json_add_hex(&j, "b", 0xABCDEFULL);
    json_add_uint(&j, "c", 0);
    CHECK_STR(json_end(&j), "{\"a\":\"0x0\",\"b\":\"0xabcdef\",\"c\":0}");

    json_begin(&j);
    json_add_str(&j, "k\"ey", "v\nal");
    CHECK_STR(json_end(&j), "{\"k\\\"ey\":\"v\\nal\"}");
}

TEST(escape_quotes_and_backslash)
{
    CHECK_STR(ESC("plain"), "plain");
    CHECK_STR(ESC("a\"b"), "a\\\"b");
    CHECK_STR(ESC("a\\b"), "a\\\\b");
    CHECK_STR(ESC("\"\\\""), "\\\"\\\\\\\"");
    CHECK_STR(ESC("a/b"), "a/b"); /* '/' needs no escape */
    CHECK_STR(ESC(""), "");
}

TEST(escape_control_chars)
{
    CHECK_STR(ESC("\n\t\r\b\f"), "\\n\\t\\r\\b\\f");
    CHECK_STR(ESC("\x01\x1f"), "\\u0001\\u001f");
    CHECK_STR(ESC("a\x1b[0m"), "a\\u001b[0m");
    CHECK_STR(ESC("a\0b"), "a\\u0000b"); /* length, not NUL, ends the input */
    CHECK_STR(ESC("\x7f"), "\x7f");      /* DEL is not a control char to JSON */
    CHECK_STR(ESC(" ~"), " ~");
}

TEST(valid_utf8_passes)
{
    CHECK_STR(ESC("caf\xc3\xa9"), "caf\xc3\xa9");                 /* U+00E9 */
    CHECK_STR(ESC("\xc2\x80"), "\xc2\x80");                       /* U+0080 */
    CHECK_STR(ESC("\xdf\xbf"), "\xdf\xbf");                       /* U+07FF */
    CHECK_STR(ESC("\xe0\xa0\x80"), "\xe0\xa0\x80");               /* U+0800 */
    CHECK_STR(ESC("\xe2\x82\xac"), "\xe2\x82\xac");               /* euro sign */
    CHECK_STR(ESC("\xed\x9f\xbf"), "\xed\x9f\xbf");               /* U+D7FF */
    CHECK_STR(ESC("\xee\x80\x80"), "\xee\x80\x80");               /* U+E000 */
    CHECK_STR(ESC("\xef\xbf\xbf"), "\xef\xbf\xbf");               /* U+FFFF */
    CHECK_STR(ESC("\xf0\x90\x80\x80"), "\xf0\x90\x80\x80");       /* U+10000 */
    CHECK_STR(ESC("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!");     /* emoji */
    CHECK_STR(ESC("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");       /* U+10FFFF */
}

TEST(invalid_utf8_replaced)
{
    CHECK_STR(ESC("\xff"), FFFD);
    CHECK_STR(ESC("a\x80z"), "a" FFFD "z");         /* stray continuation */
    CHECK_STR(ESC("\xc3"), FFFD);                   /* cut short at the end */
    CHECK_STR(ESC("\xc3z"), FFFD "z");              /* cut short by ASCII */
    CHECK_STR(ESC("\xe2\x82"), FFFD);               /* one subpart, one U+FFFD */
    CHECK_STR(ESC("\xe2\x82z"), FFFD "z");
    CHECK_STR(ESC("\xf0\x9f\x98z"), FFFD "z");
    CHECK_STR(ESC("\xc0\xaf"), FFFD FFFD);          /* overlong '/' */
    CHECK_STR(ESC("\xc1\xbf"), FFFD FFFD);          /* overlong */
    CHECK_STR(ESC("\xe0\x80\xaf"), FFFD FFFD FFFD); /* overlong 3-byte */
    CHECK_STR(ESC("\xf0\x80\x80\xaf"), FFFD FFFD FFFD FFFD);
    CHECK_STR(ESC("\xed\xa0\x80"), FFFD FFFD FFFD); /* UTF-16 surrogate D800 */
    CHECK_STR(ESC("\xed\xbf\xbf"), FFFD FFFD FFFD); /* surrogate DFFF */
    CHECK_STR(ESC("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD); /* above U+10FFFF */
    CHECK_STR(ESC("\xf5\x80"), FFFD FFFD);
    CHECK_STR(ESC("\xfe\xfe"), FFFD FFFD);
    /* A thread name cut in the middle of a character by the 16-byte
     * comm limit, then a control char: both fixed, in order. */
    CHECK_STR(ESC("java\xe2\x82\n"), "java" FFFD "\\n");
}

TEST(escape_buffer_limits)
{
    char out[16];
    CHECK(json_escape("abc", 3, out, 4) == 3);
    CHECK_STR(out, "abc");
    CHECK(json_escape("abc", 3, out, 3) == (size_t)-1); /* no room for NUL */
    CHECK(json_escape("\n", 1, out, 3) == 2);
    CHECK(json_escape("\n", 1, out, 2) == (size_t)-1);
    CHECK(json_escape("\x01", 1, out, 7) == 6);
    CHECK(json_escape("\x01", 1, out, 6) == (size_t)-1);
    CHECK(json_escape("\xff", 1, out, 4) == 3);
    CHECK(json_escape("\xff", 1, out, 3) == (size_t)-1);
    CHECK(json_escape("", 0, out, 1) == 0 && out[0] == '\0');
    CHECK(json_escape("", 0, out, 0) == (size_t)-1);
}

TEST(line_exactly_full)
{
    /* {"k":"<n bytes>"} plus NUL is n + 9 bytes. */
    static char big[JSON_LINE_MAX + 16];
    size_t n = JSON_LINE_MAX - 9;
    memset(big, 'x', n);
    big[n] = '\0';

    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "k", big);
    const char *line = json_end(&j);
    CHECK(line != NULL);
    CHECK(strlen(line) == JSON_LINE_MAX - 1);
    CHECK(line[strlen(line) - 1] == '}');

    big[n] = 'x';
    big[n + 1] = '\0';
    json_begin(&j);
    json_add_str(&j, "k", big);
    CHECK(json_end(&j) == NULL);
    CHECK(j.truncated);
}

TEST(truncation_is_sticky)
{
    static char big[JSON_LINE_MAX];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "event", "mmap");
    json_add_str(&j, "comm", big);
    CHECK(j.truncated);
    /* Small pairs after the overflow would fit but must not be added. */
    json_add_int(&j, "pid", 1);
    json_add_hex(&j, "addr", 0x1000);
    CHECK(json_end(&j) == NULL);

    /* Escaping can multiply the size by six: a control char is \u00XX. */
    static char ctl[JSON_LINE_MAX / 4 + 1];
    memset(ctl, '\x01', sizeof ctl - 1);
    ctl[sizeof ctl - 1] = '\0';
    json_begin(&j);
    json_add_str(&j, "s", ctl);
    CHECK(json_end(&j) == NULL);

    /* Many small pairs run out too. */
    json_begin(&j);
    for (int i = 0; i < JSON_LINE_MAX / 20; i++)
        json_add_uint(&j, "n", UINT64_MAX);
    CHECK(json_end(&j) == NULL);
    CHECK(j.len <= JSON_LINE_MAX);
}

TEST(bytes_get_a_hex_twin_when_not_utf8)
{
    struct json_line j;
    json_begin(&j);
    json_add_bytes(&j, "comm", "ok\n", 3);
    json_add_bytes(&j, "path", "\xff" "a", 2);
    json_open(&j, "list", '[');
    json_open(&j, NULL, '{');
    json_add_untrusted(&j, "text", "x");
    json_close(&j, '}');
    json_open(&j, NULL, '{');
    json_add_untrusted(&j, "text", NULL);
    json_close(&j, '}');
    json_close(&j, ']');
    CHECK_STR(json_end(&j), "{\"comm\":\"ok\\n\",\"path\":\"\xef\xbf\xbd" "a\","
                            "\"path_hex\":\"ff61\",\"list\":[{\"text\":\"x\"},{\"text\":null}]}");
}

TEST(text_escape_form)
{
    char out[128];
    const char in[] = "a\r\x1b[31m\n\\\x7f\xc2\x9b\xc3\xa9\xff\xe2\x82";
    CHECK(escape_text_size(in, sizeof in - 1) == 48); /* 47 bytes and the NUL */
    escape_text(in, sizeof in - 1, out, sizeof out);
    CHECK_STR(out, "a\\x0d\\x1b[31m\\x0a\\x5c\\x7f\\xc2\\x9b\xc3\xa9\\xff\\xe2\\x82");
    CHECK(escape_utf8_valid("\xc3\xa9", 2));
    CHECK(!escape_utf8_valid("\xe2\x82", 2));
}

UNIT_MAIN(UNIT_CASE(bytes_get_a_hex_twin_when_not_utf8), UNIT_CASE(text_escape_form),
          UNIT_CASE(object_exact), UNIT_CASE(object_edges),
          UNIT_CASE(escape_quotes_and_backslash), UNIT_CASE(escape_control_chars),
          UNIT_CASE(valid_utf8_passes), UNIT_CASE(invalid_utf8_replaced),
          UNIT_CASE(escape_buffer_limits), UNIT_CASE(line_exactly_full),
          UNIT_CASE(truncation_is_sticky))
