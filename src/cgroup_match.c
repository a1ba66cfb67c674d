/*
 * cgroup_match: --cgroup, --container and --pod, parsed and matched
 * against /proc/PID/cgroup. See include/cgroup_match.h.
 */
#include "cgroup_match.h"

#include "cgroup.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *cgroup_sel_name(enum cgroup_sel_kind kind)
{
    switch (kind) {
    case CGROUP_SEL_PATH:
        return "cgroup";
    case CGROUP_SEL_CONTAINER:
        return "container";
    case CGROUP_SEL_POD:
        return "pod";
    }
    return "?";
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static void lower_copy(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
}

/* A pod UID as text of length n: 32 hex digits, or 36 with a separator
 * ('-' as the API shows it, '_' as the systemd driver writes it) after the
 * 8th, 12th, 16th and 20th digit. Its 32 digits, lower case, into out
 * (33 bytes). */
static bool parse_uid(const char *s, size_t n, char *out)
{
    if (n == CGROUP_UID_DIGITS) {
        if (!all_hex(s, n))
            return false;
        lower_copy(out, s, n);
        return true;
    }
    if (n != CGROUP_UID_DIGITS + 4)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool sep_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (sep_here) {
            if (s[i] != '-' && s[i] != '_')
                return false;
            continue;
        }
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[o++] = (char)tolower((unsigned char)s[i]);
    }
    out[o] = '\0';
    return true;
}

static bool parse_path(const char *text, struct cgroup_sel *sel, char *why, size_t why_size)
{
    size_t len = strlen(text);
    if (text[0] != '/') {
        snprintf(why, why_size, "give the path as /proc/PID/cgroup shows it, starting with '/' "
                                "(a memory threshold is --cgroup-threshold)");
        return false;
    }
    while (len > 1 && text[len - 1] == '/')
        len--;
    if (len == 1) {
        snprintf(why, why_size, "'/' holds every process of the machine: give the cgroup of a "
                                "container or a pod (or select by name with --comm)");
        return false;
    }
    if (strncmp(text, "/sys/fs/cgroup/", 15) == 0) {
        snprintf(why, why_size, "that is a directory of the cgroup filesystem: give the path as "
                                "/proc/PID/cgroup shows it (the part after the second ':')");
        return false;
    }
    for (size_t i = 1; i < len; i++)
        if (text[i] == '/' && text[i - 1] == '/') {
            snprintf(why, why_size, "an empty component ('//'): give the path as "
                                    "/proc/PID/cgroup shows it");
            return false;
        }
    sel->path = text;
    sel->path_len = len;
    return true;
}

static bool parse_container(const char *text, struct cgroup_sel *sel, char *why,
                            size_t why_size)
{
    /* Kubernetes shows "containerd://ID", "cri-o://ID", "docker://ID". */
    const char *scheme_end = strstr(text, "://");
    const char *id = text;
    if (scheme_end) {
        for (const char *p = text; p < scheme_end; p++)
            if (!isalnum((unsigned char)*p) && *p != '-') {
                scheme_end = NULL;
                break;
            }
        if (scheme_end && scheme_end > text)
            id = scheme_end + 3;
    }
    size_t n = strlen(id);
    if (n == 0 || !all_hex(id, n)) {
        snprintf(why, why_size, "use the container's id, hex digits as docker ps or crictl ps "
                                "show it (or Kubernetes' containerd://ID)");
        return false;
    }
    if (n > CGROUP_ID_DIGITS) {
        snprintf(why, why_size, "a container id has %d hex digits, not %zu", CGROUP_ID_DIGITS,
                 n);
        return false;
    }
    if (n < CGROUP_ID_MIN_DIGITS) {
        snprintf(why, why_size, "%zu digits could name several containers: give at least %d "
                                "(docker ps shows 12)",
                 n, CGROUP_ID_MIN_DIGITS);
        return false;
    }
    lower_copy(sel->digits, id, n);
    sel->ndigits = n;
    return true;
}

bool cgroup_sel_parse(enum cgroup_sel_kind kind, const char *text, struct cgroup_sel *sel,
                      char *why, size_t why_size)
{
    memset(sel, 0, sizeof *sel);
    sel->kind = kind;
    sel->text = text;
    switch (kind) {
    case CGROUP_SEL_PATH:
        return parse_path(text, sel, why, why_size);
    case CGROUP_SEL_CONTAINER:
        return parse_container(text, sel, why, why_size);
    case CGROUP_SEL_POD:
        if (!parse_uid(text, strlen(text), sel->digits)) {
            snprintf(why, why_size, "use the pod's UID, 32 hex digits as kubectl get pod NAME "
                                    "-o jsonpath='{.metadata.uid}' prints it "
                                    "(8-4-4-4-12, dashes or underscores)");
            return false;
        }
        sel->ndigits = CGROUP_UID_DIGITS;
        return true;
    }
    snprintf(why, why_size, "unknown selector");
    return false;
}

/* ---- matching --------------------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* One component names a container: [PREFIX-]ID[.scope], ID 64 hex digits,
 * PREFIX not a monitor's (crio-conmon-, libpod-conmon-). Its id into id. */
static bool component_container(const char *c, size_t n, char *id)
{
    if (ends_with(c, n, ".scope"))
        n -= 6;
    if (n < CGROUP_ID_DIGITS)
        return false;
    const char *digits = c + n - CGROUP_ID_DIGITS;
    if (!all_hex(digits, CGROUP_ID_DIGITS))
        return false;
    size_t prefix = n - CGROUP_ID_DIGITS;
    if (prefix > 0 && (c[prefix - 1] != '-' || ends_with(c, prefix - 1, "conmon")))
        return false;
    lower_copy(id, digits, CGROUP_ID_DIGITS);
    return true;
}

/* One component names a pod: pod<UID> or ...-pod<UID>, .slice or not. */
static bool component_pod(const char *c, size_t n, const char *uid)
{
    if (ends_with(c, n, ".slice"))
        n -= 6;
    for (size_t k = 0; k + 3 <= n; k++) {
        if (memcmp(c + k, "pod", 3) != 0 || (k > 0 && c[k - 1] != '-'))
            continue;
        char got[CGROUP_UID_DIGITS + 1];
        if (parse_uid(c + k + 3, n - k - 3, got))
            return strcmp(got, uid) == 0;
    }
    return false;
}

bool cgroup_sel_match_path(const struct cgroup_sel *sel, const char *path, size_t len,
                           char *id)
{
    if (sel->kind == CGROUP_SEL_PATH)
        return len >= sel->path_len && memcmp(path, sel->path, sel->path_len) == 0 &&
               (len == sel->path_len || path[sel->path_len] == '/');
    for (size_t i = 0; i < len;) {
        while (i < len && path[i] == '/')
            i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        const char *c = path + start;
        size_t n = i - start;
        if (n == 0)
            break;
        if (sel->kind == CGROUP_SEL_POD) {
            if (component_pod(c, n, sel->digits))
                return true;
            continue;
        }
        char full[CGROUP_ID_DIGITS + 1];
        if (component_container(c, n, full) && memcmp(full, sel->digits, sel->ndigits) == 0) {
            if (id)
                memcpy(id, full, sizeof full);
            return true;
        }
    }
    return false;
}

bool cgroup_sel_match_proc(const struct cgroup_sel *sel, const char *text, char *line_path,
                           size_t line_path_size, char *id)
{
    struct cgroup_proc_line l;
    for (const char *cursor = text; cgroup_proc_next(&cursor, &l);) {
        bool rooted = l.path_len > 0 && l.path[0] == '/';
        if (!rooted || !cgroup_sel_match_path(sel, l.path, l.path_len, id))
            continue;
        if (line_path && line_path_size > 0) {
            size_t n = l.path_len < line_path_size ? l.path_len : line_path_size - 1;
            memcpy(line_path, l.path, n);
            line_path[n] = '\0';
        }
        return true;
    }
    return false;
}
