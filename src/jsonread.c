/*
 * jsonread: a strict recursive-descent JSON reader. See include/jsonread.h.
 *
 * The tree is a flat array of nodes linked by index (first child, next
 * sibling), so one parse is a handful of reallocs however big the text;
 * strings are decoded into one text buffer. Offsets become pointers only
 * once the parse is done, when neither buffer moves any more.
 */
#include "jsonread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)

struct jsonread_value {
    enum jsonread_type type;
    size_t self;          /* own index: the array's base is this - self */
    size_t first, next;   /* children, siblings (NONE at the end) */
    size_t from, to;      /* the value's bytes in the input */
    size_t key_off;       /* member key in text, NONE outside objects */
    size_t str_off;       /* string value in text */
    const char *key, *str;
    bool boolean;
    bool is_int, is_neg;  /* written as an integer; its sign */
    uint64_t magnitude;   /* |value| when is_int and it fits */
    bool fits;
};

struct parser {
    struct jsonread_doc *doc;
    const unsigned char *p, *start, *end;
    const char *why;
    unsigned depth;
};

void jsonread_init(struct jsonread_doc *doc) { memset(doc, 0, sizeof *doc); }

void jsonread_release(struct jsonread_doc *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->text);
    memset(doc, 0, sizeof *doc);
}

static bool fail(struct parser *ps, const char *why)
{
    if (!ps->why)
        ps->why = why;
    return false;
}

static size_t new_node(struct parser *ps, enum jsonread_type type)
{
    struct jsonread_doc *d = ps->doc;
    if (d->nnodes == d->nodes_cap) {
        size_t cap = d->nodes_cap ? d->nodes_cap * 2 : 64;
        struct jsonread_value *n = realloc(d->nodes, cap * sizeof *n);
        if (!n) {
            fail(ps, "out of memory");
            return NONE;
        }
        d->nodes = n;
        d->nodes_cap = cap;
    }
    size_t i = d->nnodes++;
    d->nodes[i] = (struct jsonread_value){.type = type, .self = i, .first = NONE,
                                          .next = NONE, .key_off = NONE, .str_off = NONE};
    return i;
}

static bool put_text(struct parser *ps, const void *bytes, size_t n)
{
    struct jsonread_doc *d = ps->doc;
    if (d->text_cap - d->text_len < n) {
        size_t cap = d->text_cap ? d->text_cap : 256;
        while (cap - d->text_len < n)
            cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return fail(ps, "out of memory");
        d->text = t;
        d->text_cap = cap;
    }
    memcpy(d->text + d->text_len, bytes, n);
    d->text_len += n;
    return true;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected word (not true, false or null)");
    ps->p += n;
    return true;
}

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool put_utf8(struct parser *ps, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return put_text(ps, b, n);
}

/* A string at ps->p (the opening quote), decoded into the text buffer;
 * *off gets its offset. */
static bool string(struct parser *ps, size_t *off)
{
    ps->p++; /* the quote */
    *off = ps->doc->text_len;
    for (;;) {
        const unsigned char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && *ps->p >= 0x20)
            ps->p++;
        if (ps->p > run && !put_text(ps, run, (size_t)(ps->p - run)))
            return false;
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = *ps->p;
        if (c == '"') {
            ps->p++;
            return put_text(ps, "", 1);
        }
        if (c < 0x20)
            return fail(ps, "control character in string");
        /* a backslash */
        if (ps->end - ps->p < 2)
            return fail(ps, "unterminated string");
        unsigned char e = ps->p[1];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            if (!put_text(ps, &to[hit - from], 1))
                return false;
            ps->p += 2;
            continue;
        }
        if (e != 'u')
            return fail(ps, "bad escape in string");
        if (ps->end - ps->p < 6)
            return fail(ps, "bad \\u escape");
        int cp = hex4(ps->p + 2);
        if (cp < 0)
            return fail(ps, "bad \\u escape");
        ps->p += 6;
        if (cp == 0)
            return fail(ps, "\\u0000 in string");
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(ps, "lone low surrogate in string");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo = (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u')
                         ? hex4(ps->p + 2)
                         : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(ps, "lone high surrogate in string");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (!put_utf8(ps, (unsigned)cp))
            return false;
    }
}

static bool number(struct parser *ps, struct jsonread_value *v)
{
    const unsigned char *p = ps->p;
    bool neg = false, integer = true, fits = true;
    uint64_t mag = 0;
    if (p < ps->end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= ps->end || *p < '0' || *p > '9')
        return fail(ps, "bad number");
    if (*p == '0') {
        p++;
        if (p < ps->end && *p >= '0' && *p <= '9')
            return fail(ps, "bad number (leading zero)");
    } else {
        while (p < ps->end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - d) / 10)
                fits = false;
            else
                mag = mag * 10 + d;
            p++;
        }
    }
    if (p < ps->end && *p == '.') {
        integer = false;
        p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return fail(ps, "bad number (fraction)");
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return fail(ps, "bad number (exponent)");
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    v->is_int = integer;
    v->is_neg = neg;
    v->fits = fits;
    v->magnitude = mag;
    return true;
}

static bool value(struct parser *ps, size_t *out);

/* An array or object at ps->p; children linked under node. */
static bool container(struct parser *ps, size_t node, bool object)
{
    char close = object ? '}' : ']';
    size_t last = NONE;
    if (++ps->depth > JSONREAD_MAX_DEPTH)
        return fail(ps, "nested too deep");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        size_t key = NONE, child;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a member name");
            if (!string(ps, &key))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "expected ':'");
            ps->p++;
        }
        if (!value(ps, &child))
            return false;
        ps->doc->nodes[child].key_off = key;
        if (last == NONE)
            ps->doc->nodes[node].first = child;
        else
            ps->doc->nodes[last].next = child;
        last = child;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == (unsigned char)close) {
            ps->p++;
            ps->depth--;
            return true;
        }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool value(struct parser *ps, size_t *out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of text");
    unsigned char c = *ps->p;
    enum jsonread_type type = c == '{'   ? JSONREAD_OBJECT
                              : c == '[' ? JSONREAD_ARRAY
                              : c == '"' ? JSONREAD_STRING
                              : c == 't' || c == 'f' ? JSONREAD_BOOL
                              : c == 'n' ? JSONREAD_NULL
                                         : JSONREAD_NUMBER;
    size_t i = new_node(ps, type);
    if (i == NONE)
        return false;
    *out = i;
    ps->doc->nodes[i].from = (size_t)(ps->p - ps->start);
    bool ok = false;
    switch (type) {
    case JSONREAD_OBJECT:
    case JSONREAD_ARRAY:
        ok = container(ps, i, type == JSONREAD_OBJECT);
        break;
    case JSONREAD_STRING: {
        size_t off = NONE;
        ok = string(ps, &off);
        ps->doc->nodes[i].str_off = off;
        break;
    }
    case JSONREAD_BOOL:
        ps->doc->nodes[i].boolean = c == 't';
        ok = literal(ps, c == 't' ? "true" : "false");
        break;
    case JSONREAD_NULL:
        ok = literal(ps, "null");
        break;
    case JSONREAD_NUMBER:
        ok = (c == '-' || (c >= '0' && c <= '9')) ? number(ps, &ps->doc->nodes[i])
                                                   : fail(ps, "unexpected character");
        break;
    }
    ps->doc->nodes[i].to = (size_t)(ps->p - ps->start);
    return ok;
}

const struct jsonread_value *jsonread_parse(struct jsonread_doc *doc, const char *in,
                                            size_t len, const char **why, size_t *at)
{
    struct parser ps = {.doc = doc, .p = (const unsigned char *)in,
                        .start = (const unsigned char *)in,
                        .end = (const unsigned char *)in + len};
    doc->nnodes = 0;
    doc->text_len = 0;
    size_t root;
    bool ok = value(&ps, &root);
    if (ok) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            ok = fail(&ps, "text after the value");
    }
    if (!ok) {
        *why = ps.why ? ps.why : "invalid JSON";
        *at = (size_t)(ps.p - ps.start);
        return NULL;
    }
    for (size_t i = 0; i < doc->nnodes; i++) {
        struct jsonread_value *v = &doc->nodes[i];
        v->key = v->key_off == NONE ? NULL : doc->text + v->key_off;
        v->str = v->str_off == NONE ? NULL : doc->text + v->str_off;
    }
    return &doc->nodes[root];
}

enum jsonread_type jsonread_type(const struct jsonread_value *v) { return v->type; }

const struct jsonread_value *jsonread_first(const struct jsonread_value *v)
{
    if (!v || (v->type != JSONREAD_ARRAY && v->type != JSONREAD_OBJECT) || v->first == NONE)
        return NULL;
    return v - v->self + v->first;
}

const struct jsonread_value *jsonread_next(const struct jsonread_value *v)
{
    if (!v || v->next == NONE)
        return NULL;
    return v - v->self + v->next;
}

const char *jsonread_key(const struct jsonread_value *member) { return member->key; }

size_t jsonread_span(const struct jsonread_value *v, size_t *from)
{
    *from = v->from;
    return v->to - v->from;
}

const struct jsonread_value *jsonread_get(const struct jsonread_value *v, const char *key)
{
    if (!v || v->type != JSONREAD_OBJECT)
        return NULL;
    for (const struct jsonread_value *m = jsonread_first(v); m; m = jsonread_next(m))
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

const char *jsonread_str(const struct jsonread_value *v)
{
    return v && v->type == JSONREAD_STRING ? v->str : NULL;
}

bool jsonread_u64(const struct jsonread_value *v, uint64_t *out)
{
    if (!v || v->type != JSONREAD_NUMBER || !v->is_int || !v->fits ||
        (v->is_neg && v->magnitude != 0))
        return false;
    *out = v->magnitude;
    return true;
}

bool jsonread_i64(const struct jsonread_value *v, int64_t *out)
{
    if (!v || v->type != JSONREAD_NUMBER || !v->is_int || !v->fits)
        return false;
    if (v->is_neg) {
        if (v->magnitude > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v->magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v->magnitude;
    } else {
        if (v->magnitude > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v->magnitude;
    }
    return true;
}

bool jsonread_bool(const struct jsonread_value *v, bool *out)
{
    if (!v || v->type != JSONREAD_BOOL)
        return false;
    *out = v->boolean;
    return true;
}
