/*
 * stack: releasing a stack and writing it as JSON. See include/stack.h.
 */
#include "stack.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void stack_release(struct stack *s)
{
    if (!s || !s->frames)
        return;
    for (unsigned i = 0; i < s->depth; i++) {
        free(s->frames[i].symbol);
        free(s->frames[i].module);
    }
    free(s->frames);
    memset(s, 0, sizeof *s);
}

const char *stack_frame_where(const struct stack_frame *f)
{
    static const struct {
        const char *source, *where;
    } labels[] = {
        {"perf-map", "[anon: perf map]"},          {"jvm-compiled", "[java: compiled]"},
        {"jvm-inlined", "[java: inlined]"},        {"jvm-interpreted", "[java: interpreted]"},
        {"jvm-stub", "[java: stub]"},              {"jvm", "[java: unknown]"},
    };
    if (f->module)
        return f->module;
    for (size_t i = 0; f->source && i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(f->source, labels[i].source) == 0)
            return labels[i].where;
    return "[anon]";
}

static bool append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t cap2 = (*cap ? *cap : 1024);
        while (*len + n + 1 > cap2)
            cap2 *= 2;
        char *grown = realloc(*buf, cap2);
        if (!grown)
            return false;
        *buf = grown;
        *cap = cap2;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

/* "key":"escaped" or "key":null, malloc'd (escaping takes at most 6
 * bytes a byte); NULL on ENOMEM. */
static char *json_field(const char *key, const char *value)
{
    size_t vlen = value ? strlen(value) : 0;
    size_t size = strlen(key) + 6 * vlen + 16;
    char *out = malloc(size);
    if (!out)
        return NULL;
    int n = snprintf(out, size, value ? "\"%s\":\"" : "\"%s\":null", key);
    if (!value)
        return out;
    size_t used = n > 0 ? (size_t)n : 0;
    if (json_escape(value, vlen, out + used, size - used - 1) == (size_t)-1) {
        snprintf(out, size, "\"%s\":null", key);
        return out;
    }
    used += strlen(out + used);
    snprintf(out + used, size - used, "\"");
    return out;
}

char *stack_to_json(const struct stack *s, size_t max_bytes, bool *complete)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    *complete = true;
    if (!append(&buf, &len, &cap, "[", 1))
        return NULL;
    for (unsigned i = 0; i < s->depth; i++) {
        const struct stack_frame *f = &s->frames[i];
        char head[48];
        char *symbol = json_field("symbol", f->symbol);
        char *module = json_field("module", f->module);
        char *source = json_field("source", f->source);
        int n = snprintf(head, sizeof head, "%s{\"ip\":\"0x%" PRIx64 "\",", i ? "," : "", f->ip);
        bool ok = symbol && module && source;
        size_t need = ok ? (size_t)n + strlen(symbol) + 1 + strlen(module) + 1 +
                               strlen(source) + 1 : 0;
        bool fits = ok && len + need + 1 <= max_bytes;
        ok = ok && (!fits || (append(&buf, &len, &cap, head, (size_t)n) &&
                              append(&buf, &len, &cap, symbol, strlen(symbol)) &&
                              append(&buf, &len, &cap, ",", 1) &&
                              append(&buf, &len, &cap, module, strlen(module)) &&
                              append(&buf, &len, &cap, ",", 1) &&
                              append(&buf, &len, &cap, source, strlen(source)) &&
                              append(&buf, &len, &cap, "}", 1)));
        free(symbol);
        free(module);
        free(source);
        if (!ok) {
            free(buf);
            return NULL;
        }
        if (!fits) {
            *complete = false;
            break;
        }
    }
    if (!append(&buf, &len, &cap, "]", 1)) {
        free(buf);
        return NULL;
    }
    return buf;
}
