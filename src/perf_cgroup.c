/*
 * perf_cgroup: the cgroup of a target, for cgroup-scoped perf events. See
 * include/perf_cgroup.h.
 */
#include "perf_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

/* Whether the comma-separated list has item. */
static bool has_item(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; (p = strstr(p, item)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

/* The perf_event line of /proc/PID/cgroup: the v1 hierarchy that has the
 * controller, else the v2 one ("0::"). name gets its path. */
static int cgroup_line(pid_t pid, int *version, char *name, size_t size)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    if (procfs_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    bool found_v2 = false;
    char v2[PATH_MAX] = "";
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        const char *ctrls = c1 + 1, *cg = c2 + 1;
        if (strcmp(line, "0") == 0 && *ctrls == '\0') {
            snprintf(v2, sizeof v2, "%s", cg);
            found_v2 = true;
            continue;
        }
        if (has_item(ctrls, "perf_event")) { /* "cpu,perf_event" */
            *version = 1;
            snprintf(name, size, "%s", cg);
            return 0;
        }
    }
    if (!found_v2)
        return -1;
    *version = 2;
    snprintf(name, size, "%s", v2);
    return 0;
}

/* mountinfo escapes a space as \040 and so on. */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* A mount of the hierarchy (v1: with the perf_event option; v2: cgroup2)
 * whose root holds name: its directory for name goes to dir. */
static int find_dir(int version, const char *name, char *dir, size_t size)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char root[PATH_MAX], point[PATH_MAX], fstype[64], source[256], opts[1024] = "";
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
            sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) < 2)
            continue;
        if (version == 2 ? strcmp(fstype, "cgroup2") != 0
                         : (strcmp(fstype, "cgroup") != 0 || !has_item(opts, "perf_event")))
            continue;
        unescape(root);
        unescape(point);
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(name, root, rl) != 0 || (name[rl] != '/' && name[rl] != '\0'))
            continue; /* this mount shows another part of the hierarchy */
        if ((size_t)snprintf(dir, size, "%s%s", point, name + rl) < size)
            rc = 0;
    }
    fclose(f);
    return rc;
}

int perf_cgroup_of(pid_t pid, struct perf_cgroup *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    if (cgroup_line(pid, &out->version, out->name, sizeof out->name) < 0) {
        snprintf(why, why_size, "cannot read the cgroup of process %d (/proc/%d/cgroup)",
                 (int)pid, (int)pid);
        return -1;
    }
    if (strcmp(out->name, "/") == 0) {
        snprintf(why, why_size,
                 "process %d is in the root cgroup: events scoped to it would read every "
                 "process of the machine", (int)pid);
        return -1;
    }
    if (find_dir(out->version, out->name, out->dir, sizeof out->dir) < 0) {
        if (out->version == 1)
            snprintf(why, why_size,
                     "the cgroup v1 hierarchy of the perf_event controller is not mounted "
                     "here (mount -t cgroup -o perf_event none DIR)");
        else
            snprintf(why, why_size, "no cgroup2 mount here shows cgroup '%s'", out->name);
        return -1;
    }
    return 0;
}

int perf_cgroup_open(const struct perf_cgroup *cg)
{
    return open(cg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int perf_cgroup_holds(const struct perf_cgroup *cg, pid_t pid)
{
    int version;
    char name[PATH_MAX];
    if (cgroup_line(pid, &version, name, sizeof name) < 0)
        return -1;
    size_t n = strlen(cg->name);
    return version == cg->version && strncmp(name, cg->name, n) == 0 &&
           (name[n] == '\0' || name[n] == '/');
}

bool perf_cgroup_alone(const struct perf_cgroup *cg, pid_t pid)
{
    char path[PATH_MAX + 16], buf[256];
    if ((size_t)snprintf(path, sizeof path, "%s/cgroup.procs", cg->dir) >= sizeof path)
        return false;
    ssize_t n = procfs_read_file(path, buf, sizeof buf);
    if (n <= 0 || (size_t)n >= sizeof buf - 1)
        return false;
    char *end;
    long only = strtol(buf, &end, 10);
    return only == pid && (*end == '\0' || (*end == '\n' && end[1] == '\0'));
}
