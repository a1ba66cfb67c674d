/*
 * maps: parsing /proc/PID/{smaps,maps}. See include/maps.h.
 *
 * The header line of a mapping is
 *   start-end perms offset major:minor inode [spaces name]
 * (all numbers hex except the inode). The name is whatever is left of the
 * line after the spaces that pad it to a column: the kernel escapes '\n'
 * in file names, so a line is a whole mapping, and names it prints start
 * with '/' or '[', so skipping the padding can never eat a name's own
 * leading space, while a trailing space (a file named "a ") is kept.
 */
#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A JVM with a huge heap can have tens of thousands of mappings, about
 * 1 KiB of smaps each; far beyond that, something is wrong and we refuse
 * rather than exhaust the memory of the machine we are diagnosing. */
#define MAPS_FILE_MAX (512u << 20)

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A non-empty run of hex digits at *p (before end) into *out, advancing *p.
 * false on none, or on a value above 64 bits. */
static bool take_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;
    while (s < end && (d = hex_digit(*s)) >= 0) {
        if (v >> 60)
            return false;
        v = (v << 4) | (uint64_t)d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

static bool take_dec(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

static bool take_char(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* Parses a mapping's header line [line, end) into e (path not yet set:
 * *name and *name_len give it). false if the line is not a header. */
static bool parse_header(const char *line, const char *end, struct map_entry *e,
                         const char **name, size_t *name_len)
{
    const char *p = line;
    uint64_t dev_major, dev_minor;
    memset(e, 0, sizeof *e);
    if (!take_hex(&p, end, &e->start) || !take_char(&p, end, '-') ||
        !take_hex(&p, end, &e->end) || !take_char(&p, end, ' '))
        return false;
    if (e->end <= e->start)
        return false;
    if (end - p < 5)
        return false;
    static const char allowed[4][3] = {"r-", "w-", "x-", "ps"};
    for (int i = 0; i < 4; i++) {
        if (p[i] != allowed[i][0] && p[i] != allowed[i][1])
            return false;
        e->prot[i] = p[i];
    }
    e->prot[4] = '\0';
    p += 4;
    if (!take_char(&p, end, ' ') || !take_hex(&p, end, &e->offset) ||
        !take_char(&p, end, ' ') || !take_hex(&p, end, &dev_major) ||
        !take_char(&p, end, ':') || !take_hex(&p, end, &dev_minor) ||
        !take_char(&p, end, ' ') || !take_dec(&p, end, &e->inode))
        return false;
    if (dev_major > 0xfffff || dev_minor > 0xfffff)
        return false;
    e->dev = makedev((unsigned)dev_major, (unsigned)dev_minor);
    /* After the inode: nothing, or padding spaces and then the name. */
    if (p < end && *p != ' ')
        return false;
    while (p < end && *p == ' ')
        p++;
    *name = p;
    *name_len = (size_t)(end - p);
    return true;
}

struct field {
    const char *key; /* with its colon */
    unsigned have;
    size_t off;      /* where the value goes in struct map_entry */
};

/* Dirty is the sum of two fields: both add into the same place. */
static const struct field fields[] = {
    {"Rss:", MAPS_HAVE_RSS, offsetof(struct map_entry, rss)},
    {"Pss:", MAPS_HAVE_PSS, offsetof(struct map_entry, pss)},
    {"Private_Dirty:", MAPS_HAVE_DIRTY, offsetof(struct map_entry, dirty)},
    {"Shared_Dirty:", MAPS_HAVE_DIRTY, offsetof(struct map_entry, dirty)},
    {"Swap:", MAPS_HAVE_SWAP, offsetof(struct map_entry, swap)},
};

/* "Key:" at the start of a line: a letter, then letters, digits, '_'. */
static bool is_field_line(const char *line, const char *end)
{
    const char *p = line;
    if (p >= end || !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
        return false;
    while (p < end && *p != ':') {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
        p++;
    }
    return p < end;
}

/* Applies a "Key:   N kB" line to e when Key is one we keep. false if a
 * kept key has a value that is not "N kB". */
static bool apply_field(const char *line, const char *end, struct map_entry *e)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t klen = strlen(fields[i].key);
        if ((size_t)(end - line) < klen || memcmp(line, fields[i].key, klen) != 0)
            continue;
        const char *p = line + klen;
        uint64_t kib;
        while (p < end && *p == ' ')
            p++;
        if (!take_dec(&p, end, &kib))
            return false;
        while (p < end && *p == ' ')
            p++;
        if (end - p != 2 || p[0] != 'k' || p[1] != 'B')
            return false;
        if (kib > UINT64_MAX / 1024)
            return false;
        uint64_t *slot = (uint64_t *)((char *)e + fields[i].off);
        if (*slot > UINT64_MAX - kib * 1024)
            return false;
        *slot += kib * 1024;
        e->have |= fields[i].have;
        return true;
    }
    return true; /* a field we do not need */
}

static int push_entry(struct maps_list *out, const struct map_entry *e, const char *name,
                      size_t name_len)
{
    if (out->count == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        struct map_entry *grown = realloc(out->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        out->entries = grown;
        out->cap = cap;
    }
    char *path = malloc(name_len + 1);
    if (!path)
        return -1;
    memcpy(path, name, name_len);
    path[name_len] = '\0';
    static const char deleted[] = " (deleted)";
    struct map_entry *slot = &out->entries[out->count++];
    *slot = *e;
    slot->path = path;
    slot->deleted = name_len >= sizeof deleted - 1 &&
                    memcmp(name + name_len - (sizeof deleted - 1), deleted,
                           sizeof deleted - 1) == 0;
    return 0;
}

int maps_parse(const char *buf, size_t len, struct maps_list *out)
{
    const char *p = buf, *stop = buf + len;
    size_t lineno = 0;
    out->count = 0;
    out->bad_line = 0;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *end = nl ? nl : stop;
        lineno++;
        struct map_entry e;
        const char *name;
        size_t name_len;
        if (end == p) {
            /* an empty line: never written by the kernel, harmless */
        } else if (parse_header(p, end, &e, &name, &name_len)) {
            if (out->count > 0 && e.start < out->entries[out->count - 1].end)
                goto bad; /* overlapping or out of order: maps_lookup relies on order */
            if (push_entry(out, &e, name, name_len) < 0) {
                maps_release(out);
                errno = ENOMEM;
                return -1;
            }
        } else if (is_field_line(p, end) && out->count > 0) {
            if (!apply_field(p, end, &out->entries[out->count - 1]))
                goto bad;
        } else {
            goto bad;
        }
        p = nl ? nl + 1 : stop;
    }
    return 0;

bad:
    maps_release(out);
    out->bad_line = lineno;
    errno = EINVAL;
    return -1;
}

void maps_release(struct maps_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->entries[i].path);
    free(list->entries);
    list->entries = NULL;
    list->count = 0;
    list->cap = 0;
}

/* The whole file into a heap buffer that grows as needed (/proc files
 * report size 0, so fstat cannot size it). *len excludes the NUL added
 * for the callers' convenience; the parser does not need it. */
static char *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 64 * 1024, used = 0;
    char *buf = malloc(cap);
    int err = 0;
    if (!buf) {
        err = ENOMEM;
        goto out;
    }
    for (;;) {
        if (cap - used < 4096) {
            if (cap >= MAPS_FILE_MAX) {
                err = EFBIG;
                goto out;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                err = ENOMEM;
                goto out;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    *len = used;
out:
    close(fd);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    return buf;
}

int maps_read(pid_t pid, bool with_usage, struct maps_list *out)
{
    char path[64];
    size_t len = 0;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, with_usage ? "smaps" : "maps");
    char *text = read_whole(path, &len);
    if (!text)
        return -1;
    int rc = maps_parse(text, len, out);
    int saved = errno;
    free(text);
    errno = saved;
    return rc;
}

const struct map_entry *maps_lookup(const struct maps_list *list, uint64_t addr)
{
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct map_entry *e = &list->entries[mid];
        if (addr < e->start)
            hi = mid;
        else if (addr >= e->end)
            lo = mid + 1;
        else
            return e;
    }
    return NULL;
}

const char *maps_label(const struct map_entry *e)
{
    return e->path && e->path[0] ? e->path : "[anon]";
}

/* Hex digits as pmap and /proc/PID/maps print them, at most 16. */
static bool parse_hex(const char *p, uint64_t *out, const char **why)
{
    uint64_t v = 0;
    size_t digits = 0;
    for (; *p; p++, digits++) {
        int d = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (d < 0)
            return false;
        if (digits == 16) {
            *why = "more than 64 bits";
            return false;
        }
        v = (v << 4) | (uint64_t)d;
    }
    if (digits == 0)
        return false;
    *out = v;
    return true;
}

/* "0x7f3a5c000000"; pmap's "00007f3a5c000000" and maps' "7f3a5c000000"
 * (hex without 0x: a leading zero or a hex letter says so); or decimal,
 * digits only with no leading zero. The start of a /proc/PID/maps range,
 * "7f3a5c000000-7f3a5e000000", is taken too: it is what gets pasted. */
bool maps_parse_address(const char *text, uint64_t *out, const char **why)
{
    *why = "use hex as pmap or /proc/PID/maps print it (0x7f3a5c000000, 00007f3a5c000000) "
           "or decimal";
    char start[24];
    const char *dash = strchr(text, '-');
    if (dash) {
        size_t len = (size_t)(dash - text);
        uint64_t end;
        const char *ignored;
        if (len == 0 || len >= sizeof start || !parse_hex(dash + 1, &end, &ignored))
            return false;
        memcpy(start, text, len);
        start[len] = '\0';
        text = start;
    }
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        return parse_hex(text + 2, out, why);
    bool hex_letters = false, other = false;
    for (const char *p = text; *p; p++) {
        if ((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))
            hex_letters = true;
        else if (*p < '0' || *p > '9')
            other = true;
    }
    if (!*text || other)
        return false;
    if (dash || hex_letters || (text[0] == '0' && text[1] != '\0'))
        return parse_hex(text, out, why);
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *why = "more than 64 bits";
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
