/*
 * javaname: a JVM method's names in the form people read. See
 * include/javaname.h.
 */
#include "javaname.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A class name in internal form (java/lang/String): no characters that
 * the JVM forbids in one (JVMS 4.2.1), no empty segment. */
static bool valid_class_name(const char *s)
{
    if (!*s || *s == '/' || s[strlen(s) - 1] == '/')
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '.' || *p == ';' || *p == '[' || (*p == '/' && p[1] == '/'))
            return false;
    return true;
}

static bool valid_method_name(const char *s)
{
    if (strcmp(s, "<init>") == 0 || strcmp(s, "<clinit>") == 0)
        return true;
    for (const char *p = s; *p; p++)
        if (*p == '.' || *p == ';' || *p == '[' || *p == '/' || *p == '<' || *p == '>')
            return false;
    return *s != '\0';
}

/* One field descriptor at *p in Java source form appended to out (at
 * most end); false when it does not parse. */
static bool append_type(const char **p, char **out, const char *end)
{
    unsigned dims = 0;
    while (**p == '[') {
        dims++;
        (*p)++;
    }
    if (dims > 255)
        return false;
    const char *name;
    size_t len;
    static const char *const base[] = {
        ['B'] = "byte", ['C'] = "char", ['D'] = "double", ['F'] = "float",
        ['I'] = "int", ['J'] = "long", ['S'] = "short", ['Z'] = "boolean", ['V'] = "void",
    };
    char c = **p;
    if (c == 'L') {
        const char *semi = strchr(*p, ';');
        if (!semi || semi == *p + 1)
            return false;
        name = *p + 1;
        len = (size_t)(semi - name);
        *p = semi + 1;
    } else if ((unsigned char)c < sizeof base / sizeof base[0] && base[(unsigned char)c]) {
        name = base[(unsigned char)c];
        len = strlen(name);
        (*p)++;
    } else {
        return false;
    }
    if (len + 2 * dims >= (size_t)(end - *out))
        return false;
    for (size_t i = 0; i < len; i++)
        *(*out)++ = name[i] == '/' ? '.' : name[i];
    for (unsigned i = 0; i < dims; i++) {
        *(*out)++ = '[';
        *(*out)++ = ']';
    }
    return true;
}

char *javaname_method(const char *klass, const char *method, const char *signature)
{
    if (!valid_class_name(klass) || !valid_method_name(method) || signature[0] != '(')
        return NULL;
    char buf[3 * JAVANAME_PART_MAX + 64], *out = buf, *end = buf + sizeof buf - 2;
    int n = snprintf(buf, sizeof buf, "%s.%s(", klass, method);
    if (n < 0 || (size_t)n >= sizeof buf - 2)
        return NULL;
    for (char *p = buf; p < buf + n; p++)
        if (*p == '/')
            *p = '.';
    out = buf + n;
    const char *p = signature + 1;
    bool first = true;
    while (*p != ')') {
        if (!first) {
            if (end - out < 3)
                return NULL;
            *out++ = ',';
            *out++ = ' ';
        }
        first = false;
        if (*p == 'V' || !append_type(&p, &out, end))
            return NULL;
    }
    p++;
    const char *ret = p;
    char scratch[JAVANAME_PART_MAX + 16], *s = scratch;
    if (!append_type(&ret, &s, scratch + sizeof scratch) || *ret != '\0')
        return NULL; /* the return type must parse and end the signature */
    *out++ = ')';
    *out = '\0';
    return strdup(buf);
}
