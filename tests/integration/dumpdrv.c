/*
 * dumpdrv: drives dump.c against a real process for tests/integration/
 * test_dump.py, outside the tracer.
 *
 *   dumpdrv DIR PID ADDR LEN SEQ [--strings MIN] [--reason R] [--prot N]
 *           [--flags N] [--tid TID]
 *
 * ADDR is hex (0x optional), the rest decimal. Opens DIR with
 * dump_dir_open() (exit 2 on refusal: its one log line is on stderr), dumps
 * with dump_region() and, with --strings, runs dump_strings() on the
 * result. Prints one JSON line on stdout: the result's fields, the error
 * if any, and the top strings. Exits 0 when everything succeeded, 1 when
 * the dump or the strings failed, 2 on usage or directory errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "dump_strings.h"
#include "json.h"
#include "procfs.h"

static int usage(void)
{
    fprintf(stderr, "usage: dumpdrv DIR PID ADDR LEN SEQ [--strings MIN] [--reason R] "
                    "[--prot N] [--flags N] [--tid TID]\n");
    return 2;
}

static int parse_u64(const char *s, int base, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end || end == s || *s == '-')
        return -1;
    *out = v;
    return 0;
}

/* "[[a,b],...]" of a range list into buf; "" when it does not fit (the
 * .json on disk has the full list; this line is a summary). */
static const char *ranges_json(const struct dump_ranges *r, char *buf, size_t size)
{
    size_t o = 0;
    int n = snprintf(buf, size, "[");
    o = (size_t)n;
    for (size_t i = 0; i < r->n && o < size; i++) {
        n = snprintf(buf + o, size - o, "%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "",
                     r->v[i].start, r->v[i].end);
        o += (size_t)n;
    }
    if (o + 2 > size)
        return "null";
    snprintf(buf + o, size - o, "]");
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 6)
        return usage();
    uint64_t pid, addr, len, seq, min = 0, prot = 3, flags = 0x22, tid = 0;
    const char *reason = "test";
    if (parse_u64(argv[2], 10, &pid) < 0 || parse_u64(argv[3], 16, &addr) < 0 ||
        parse_u64(argv[4], 10, &len) < 0 || parse_u64(argv[5], 10, &seq) < 0)
        return usage();
    for (int i = 6; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        const char *k = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (strcmp(k, "--strings") == 0)
            bad = parse_u64(v, 10, &min);
        else if (strcmp(k, "--reason") == 0)
            reason = v;
        else if (strcmp(k, "--prot") == 0)
            bad = parse_u64(v, 0, &prot);
        else if (strcmp(k, "--flags") == 0)
            bad = parse_u64(v, 0, &flags);
        else if (strcmp(k, "--tid") == 0)
            bad = parse_u64(v, 10, &tid);
        else
            bad = 1;
        if (bad)
            return usage();
    }

    int dir_fd;
    if (dump_dir_open(argv[1], &dir_fd) < 0)
        return 2;

    struct dump_request req = {
        .pid = (pid_t)pid,
        .tid = tid ? (pid_t)tid : (pid_t)pid,
        .addr = addr,
        .len = len,
        .prot = (int)prot,
        .flags = (int)flags,
        .reason = reason,
        .seq = (unsigned)seq,
    };
    procfs_read_comm(req.pid, req.tid, req.comm);
    clock_gettime(CLOCK_REALTIME, &req.mapped_at);

    struct dump_result res;
    int rc = dump_region(dir_fd, &req, NULL, &res);

    struct json_line j;
    static char holes[JSON_LINE_MAX / 3], unreadable[JSON_LINE_MAX / 3];
    json_begin(&j);
    json_add_int(&j, "rc", rc);
    json_add_int(&j, "error", res.error);
    json_add_str(&j, "error_text", res.error ? strerror(res.error) : NULL);
    json_add_str(&j, "error_op", res.error_op);
    json_add_str(&j, "name", res.name);
    json_add_str(&j, "meta_name", res.meta_name);
    json_add_uint(&j, "bytes_read", res.bytes_read);
    json_add_uint(&j, "resident_bytes", res.resident_bytes);
    json_add_uint(&j, "meta_bytes", res.meta_bytes);
    json_add_uint(&j, "hole_bytes", res.holes.bytes);
    json_add_uint(&j, "unreadable_bytes", res.unreadable.bytes);
    json_add_raw(&j, "holes", ranges_json(&res.holes, holes, sizeof holes));
    json_add_raw(&j, "unreadable", ranges_json(&res.unreadable, unreadable, sizeof unreadable));
    json_add_uint(&j, "elapsed_ns", res.elapsed_ns);

    int exit_code = rc == 0 ? 0 : 1;
    if (rc == 0 && min) {
        struct string_count top[DUMP_STRINGS_TOP];
        size_t ntop = 0;
        if (dump_strings(dir_fd, res.name, (unsigned)min, NULL, top, &ntop) < 0) {
            json_add_str(&j, "strings_error", strerror(errno));
            exit_code = 1;
        } else {
            /* [["text",count],...], each text escaped by json.h's rules. */
            static char arr[JSON_LINE_MAX / 2];
            size_t o = 0;
            arr[o++] = '[';
            for (size_t i = 0; i < ntop; i++) {
                char esc[DUMP_STRINGS_KEY_MAX * 6 + 1];
                if (json_escape(top[i].text, top[i].len, esc, sizeof esc) == (size_t)-1)
                    break;
                int n = snprintf(arr + o, sizeof arr - o, "%s[\"%s\",%" PRIu64 "]",
                                 i ? "," : "", esc, top[i].count);
                if (n < 0 || (size_t)n >= sizeof arr - o - 2)
                    break;
                o += (size_t)n;
            }
            arr[o++] = ']';
            arr[o] = '\0';
            json_add_raw(&j, "top", arr);
        }
    }
    const char *line = json_end(&j);
    printf("%s\n", line ? line : "{\"rc\":-1,\"error_op\":\"driver line too long\"}");
    dump_result_release(&res);
    close(dir_fd);
    return exit_code;
}
