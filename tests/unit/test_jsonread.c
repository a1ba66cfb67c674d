/*
 * Unit tests for jsonread.c: values and navigation on well-formed input,
 * escapes and surrogate pairs, and refusal (with a reason and an offset)
 * of every kind of malformed input an events file may hold.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jsonread.h"
#include "unit.h"

static struct jsonread_doc doc;
static const char *why;
static size_t at;

static const struct jsonread_value *parse(const char *text)
{
    why = NULL;
    at = 0;
    return jsonread_parse(&doc, text, strlen(text), &why, &at);
}

TEST(event_line)
{
    static const char text[] =
        "{\"event\":\"mmap\",\"pid\":12,\"fd\":-1,\"addr\":\"0x7f00\",\"len\":16781312,"
        "\"ok\":true,\"stack\":[{\"symbol\":\"a+0x1\",\"module\":null},{\"symbol\":\"b\"}]}\n";
    const struct jsonread_value *v = parse(text);
    CHECK(v != NULL);
    CHECK(jsonread_type(v) == JSONREAD_OBJECT);
    CHECK_STR(jsonread_str(jsonread_get(v, "event")), "mmap");
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    CHECK(jsonread_u64(jsonread_get(v, "len"), &u));
    CHECK_U64(u, 16781312);
    CHECK(!jsonread_u64(jsonread_get(v, "fd"), &u)); /* negative */
    CHECK(jsonread_i64(jsonread_get(v, "fd"), &i) && i == -1);
    CHECK(jsonread_bool(jsonread_get(v, "ok"), &b) && b);
    CHECK(jsonread_get(v, "missing") == NULL);
    CHECK(jsonread_str(jsonread_get(v, "pid")) == NULL); /* not a string */
    size_t from = 0, n = jsonread_span(jsonread_get(v, "stack"), &from);
    CHECK(n == 49 && from == 82);
    CHECK(strncmp("[{\"symbol\":\"a+0x1\",\"module\":null},{\"symbol\":\"b\"}]", text + from, n) == 0);
    const struct jsonread_value *f = jsonread_first(jsonread_get(v, "stack"));
    CHECK(f != NULL);
    CHECK_STR(jsonread_str(jsonread_get(f, "symbol")), "a+0x1");
    CHECK(jsonread_type(jsonread_get(f, "module")) == JSONREAD_NULL);
    f = jsonread_next(f);
    CHECK(f != NULL);
    CHECK_STR(jsonread_str(jsonread_get(f, "symbol")), "b");
    CHECK(jsonread_next(f) == NULL);
}

TEST(escapes_and_unicode)
{
    const struct jsonread_value *v =
        parse("[\"a\\\"b\\\\c\\/d\\n\\t\", \"\\u00e9\\u20ac\\ud83d\\ude00\", \"</script>\"]");
    CHECK(v != NULL);
    const struct jsonread_value *s = jsonread_first(v);
    CHECK_STR(jsonread_str(s), "a\"b\\c/d\n\t");
    s = jsonread_next(s);
    CHECK_STR(jsonread_str(s), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_STR(jsonread_str(jsonread_next(s)), "</script>");
}

TEST(numbers)
{
    uint64_t u;
    int64_t i;
    CHECK(jsonread_u64(parse("18446744073709551615"), &u) && u == UINT64_MAX);
    CHECK(!jsonread_u64(parse("18446744073709551616"), &u)); /* too big: no value */
    CHECK(jsonread_i64(parse("-9223372036854775808"), &i) && i == INT64_MIN);
    CHECK(parse("1.5e3") != NULL && !jsonread_u64(parse("1.5e3"), &u));
    CHECK(jsonread_u64(parse(" 0 "), &u) && u == 0);
}

TEST(reuse_and_empty)
{
    CHECK(parse("{}") != NULL && jsonread_first(parse("{}")) == NULL);
    CHECK(parse("[]") != NULL);
    for (int k = 0; k < 1000; k++)
        CHECK(parse("{\"a\":[1,2,3,{\"b\":\"c\"}]}") != NULL);
}

/* Each must be refused with a reason; the offset points into the text. */
TEST(malformed)
{
    static const char *const bad[] = {
        "", "   ", "{", "{\"a\":1", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}",
        "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"", "\"\\ud800\"",
        "\"\\udc00\"", "01", "-", "1.", "1e", "+1", "tru", "nul", "{} {}", "[1]x",
        "{\"ev", "{'a':1}", "NaN", "[\"\x01\"]",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const struct jsonread_value *v = parse(bad[k]);
        if (v != NULL || why == NULL || at > strlen(bad[k])) {
            printf("  accepted or no reason: '%s'\n", bad[k]);
            CHECK(0);
        }
    }
}

TEST(depth_limit)
{
    char deep[2 * JSONREAD_MAX_DEPTH + 8];
    size_t n = 0;
    for (int k = 0; k < JSONREAD_MAX_DEPTH + 1; k++)
        deep[n++] = '[';
    for (int k = 0; k < JSONREAD_MAX_DEPTH + 1; k++)
        deep[n++] = ']';
    deep[n] = '\0';
    CHECK(parse(deep) == NULL);
    CHECK_STR(why, "nested too deep");
    deep[n - 1] = '\0';
    CHECK(parse(deep + 1) != NULL); /* exactly the limit */
}

/* Last: release frees the doc's memory and leaves it reusable. */
TEST(release_and_reuse)
{
    jsonread_release(&doc);
    CHECK(doc.nodes == NULL && doc.text == NULL && doc.nnodes == 0);
    CHECK(parse("[1]") != NULL);
    jsonread_release(&doc);
    jsonread_release(NULL);
}

UNIT_MAIN(UNIT_CASE(event_line), UNIT_CASE(escapes_and_unicode), UNIT_CASE(numbers),
          UNIT_CASE(reuse_and_empty), UNIT_CASE(malformed), UNIT_CASE(depth_limit),
          UNIT_CASE(release_and_reuse))
