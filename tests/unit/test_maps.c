/*
 * Unit tests for maps.c on literal smaps and maps text: numbers in bytes,
 * Dirty as the sum of its two fields, names (files, paths with spaces,
 * " (deleted)", [heap], [stack], [anon:NAME], anonymous), missing and
 * unknown fields, truncated and malformed input, and lookups. Every parse
 * runs on an exact-length heap copy without a NUL, so a read past the end
 * is an ASan error in `make SAN=1 test`.
 */
#include <errno.h>
#include <stdlib.h>

#include <sys/sysmacros.h>

#include "maps.h"
#include "unit.h"

/* Parses text from an exact-size copy (no terminating NUL). */
static int parse(const char *text, struct maps_list *out)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -2;
    memcpy(copy, text, len);
    memset(out, 0, sizeof *out);
    int rc = maps_parse(copy, len, out);
    free(copy);
    return rc;
}

static const char two_maps[] =
    "55d0c8a00000-55d0c8a02000 r--p 00000000 fe:00 248056                     /usr/bin/sleep\n"
    "Size:                  8 kB\n"
    "KernelPageSize:        4 kB\n"
    "MMUPageSize:           4 kB\n"
    "Rss:                   8 kB\n"
    "Pss:                   4 kB\n"
    "Pss_Dirty:             0 kB\n"
    "Shared_Clean:          0 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:         8 kB\n"
    "Private_Dirty:         0 kB\n"
    "Referenced:            8 kB\n"
    "Anonymous:             0 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:               0 kB\n"
    "Locked:                0 kB\n"
    "THPeligible:           0\n"
    "ProtectionKey:         0\n"
    "VmFlags: rd mr mw me \n"
    "7f0000000000-7f0000400000 rw-s 00001000 00:01 1234                       /dev/shm/ring\n"
    "Size:               4096 kB\n"
    "Rss:                 300 kB\n"
    "Pss:                 150 kB\n"
    "Shared_Dirty:        100 kB\n"
    "Private_Dirty:        20 kB\n"
    "Swap:                 12 kB\n"
    "VmFlags: rd wr sh mr mw me ms \n";

TEST(parses_numbers_in_bytes)
{
    struct maps_list l;
    CHECK(parse(two_maps, &l) == 0);
    CHECK(l.count == 2);
    const struct map_entry *a = &l.entries[0], *b = &l.entries[1];
    CHECK_U64(a->start, 0x55d0c8a00000ULL);
    CHECK_U64(a->end, 0x55d0c8a02000ULL);
    CHECK_STR(a->prot, "r--p");
    CHECK_U64(a->offset, 0);
    CHECK_U64(a->inode, 248056);
    CHECK_STR(a->path, "/usr/bin/sleep");
    CHECK(!a->deleted);
    CHECK_U64(a->rss, 8192);
    CHECK_U64(a->pss, 4096);
    CHECK_U64(a->dirty, 0);
    CHECK_U64(a->swap, 0);
    CHECK(a->have == (MAPS_HAVE_RSS | MAPS_HAVE_PSS | MAPS_HAVE_DIRTY | MAPS_HAVE_SWAP));

    CHECK_STR(b->prot, "rw-s");
    CHECK_U64(b->offset, 0x1000);
    CHECK_STR(b->path, "/dev/shm/ring");
    CHECK_U64(b->rss, 300 * 1024);
    CHECK_U64(b->pss, 150 * 1024);
    CHECK_U64(b->dirty, 120 * 1024); /* Shared_Dirty + Private_Dirty */
    CHECK_U64(b->swap, 12 * 1024);
    maps_release(&l);
    CHECK(l.entries == NULL && l.count == 0);
}

TEST(labels)
{
    static const char text[] =
        "00400000-00401000 r-xp 00000000 08:01 17 /opt/app/bin\n"
        "01000000-01021000 rw-p 00000000 00:00 0                                  [heap]\n"
        "7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n"
        "7f0000100000-7f0000200000 rw-p 00000000 00:00 0\n"
        "7f0000200000-7f0000300000 rw-p 00000000 00:00 0                          [anon:netty arena 3]\n"
        "7f0000300000-7f0000301000 rw-s 00000000 00:01 99                         [anon_shmem:ring]\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
    struct maps_list l;
    CHECK(parse(text, &l) == 0);
    CHECK(l.count == 8);
    CHECK_STR(maps_label(&l.entries[0]), "/opt/app/bin");
    CHECK(l.entries[0].dev == makedev(8, 1) && l.entries[0].inode == 17);
    CHECK(l.entries[5].dev == makedev(0, 1) && l.entries[1].dev == 0);
    CHECK_STR(maps_label(&l.entries[1]), "[heap]");
    /* Anonymous: with the kernel's trailing space, and without. */
    CHECK_STR(l.entries[2].path, "");
    CHECK_STR(maps_label(&l.entries[2]), "[anon]");
    CHECK_STR(maps_label(&l.entries[3]), "[anon]");
    CHECK_STR(maps_label(&l.entries[4]), "[anon:netty arena 3]");
    CHECK_STR(maps_label(&l.entries[5]), "[anon_shmem:ring]");
    CHECK_STR(maps_label(&l.entries[6]), "[stack]");
    CHECK_U64(l.entries[7].start, 0xffffffffff600000ULL);
    CHECK_STR(l.entries[7].prot, "--xp");
    CHECK_STR(maps_label(&l.entries[7]), "[vsyscall]");
    /* maps text has no usage fields: all zero, none marked present. */
    CHECK(l.entries[1].rss == 0 && l.entries[1].have == 0);
    maps_release(&l);
}

TEST(paths_with_spaces_and_deleted)
{
    static const char text[] =
        "7f0000000000-7f0000001000 r--p 00000000 08:01 5                          /tmp/my dir/data file.bin\n"
        "Rss:                   4 kB\n"
        "7f0000001000-7f0000002000 r--p 00000000 08:01 6                          /tmp/trailing \n"
        "7f0000002000-7f0000003000 rw-s 00000000 00:05 7                          /memfd:jit (deleted)\n"
        "Rss:                   4 kB\n"
        "7f0000003000-7f0000004000 r--p 00000000 08:01 8                          /var/tmp/x (deleted)\n";
    struct maps_list l;
    CHECK(parse(text, &l) == 0);
    CHECK(l.count == 4);
    CHECK_STR(l.entries[0].path, "/tmp/my dir/data file.bin");
    CHECK(!l.entries[0].deleted);
    CHECK_U64(l.entries[0].rss, 4096);
    CHECK_STR(l.entries[1].path, "/tmp/trailing "); /* a name's own trailing space stays */
    CHECK_STR(l.entries[2].path, "/memfd:jit (deleted)");
    CHECK(l.entries[2].deleted);
    CHECK_STR(l.entries[3].path, "/var/tmp/x (deleted)");
    CHECK(l.entries[3].deleted);
    maps_release(&l);
}

TEST(missing_and_unknown_fields)
{
    static const char text[] =
        "7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Rss:                  16 kB\n"
        "Private_Dirty:         8 kB\n"
        "SomeFutureField:     123 kB\n"
        "Weird_2: anything at all\n"
        "7f0000010000-7f0000020000 rw-p 00000000 00:00 0\n"
        "Size:                 64 kB\n";
    struct maps_list l;
    CHECK(parse(text, &l) == 0);
    CHECK(l.count == 2);
    CHECK_U64(l.entries[0].rss, 16384);
    CHECK_U64(l.entries[0].dirty, 8192);
    CHECK_U64(l.entries[0].pss, 0);
    CHECK_U64(l.entries[0].swap, 0);
    CHECK(l.entries[0].have == (MAPS_HAVE_RSS | MAPS_HAVE_DIRTY));
    CHECK(l.entries[1].have == 0);
    CHECK_U64(l.entries[1].rss, 0);
    maps_release(&l);
}

TEST(truncated_last_line)
{
    /* A read cut short: the last line has no newline but is whole. */
    static const char text[] = "7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
                               "Rss:                  16 kB\n"
                               "Swap:                  4 kB";
    struct maps_list l;
    CHECK(parse(text, &l) == 0);
    CHECK(l.count == 1);
    CHECK_U64(l.entries[0].swap, 4096);
    maps_release(&l);

    static const char header_only[] = "7f0000000000-7f0000010000 r--p 00000000 08:01 5   /a b";
    CHECK(parse(header_only, &l) == 0);
    CHECK(l.count == 1);
    CHECK_STR(l.entries[0].path, "/a b");
    maps_release(&l);

    CHECK(parse("", &l) == 0);
    CHECK(l.count == 0);
    maps_release(&l);
}

static void expect_bad(const char *text, size_t line, int *unit_failed_)
{
    struct maps_list l;
    errno = 0;
    int rc = parse(text, &l);
    CHECK(rc == -1);
    CHECK(errno == EINVAL);
    CHECK_U64(l.bad_line, line);
    CHECK(l.count == 0 && l.entries == NULL);
}

TEST(malformed)
{
#define BAD(text, line)                                \
    do {                                               \
        expect_bad(text, line, unit_failed_);          \
        if (*unit_failed_) {                           \
            printf("  (input: %s)\n", #text);          \
            return;                                    \
        }                                              \
    } while (0)
    /* A field before any mapping. */
    BAD("Rss: 4 kB\n", 1);
    /* Headers that are not: no dash, bad perms, missing fields, junk. */
    BAD("7f0000000000 7f0000010000 rw-p 00000000 00:00 0\n", 1);
    BAD("7f0000000000-7f0000010000 rwzp 00000000 00:00 0\n", 1);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00\n", 1);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0x\n", 1);
    BAD("7f0000000000-7f0000010000 rw-p\n", 1);
    BAD("zzzz\n", 1);
    /* An empty or reversed range. */
    BAD("7f0000010000-7f0000010000 rw-p 00000000 00:00 0\n", 1);
    BAD("7f0000010000-7f0000000000 rw-p 00000000 00:00 0\n", 1);
    /* Numbers beyond 64 bits. */
    BAD("7f0000000000-17f00000000000000 rw-p 00000000 00:00 0\n", 1);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Rss: 18014398509481984 kB\n", 2);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Rss: 99999999999999999999999 kB\n", 2);
    /* A kept field with a value that is not "N kB". */
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Rss: lots\n", 2);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Swap: 4 MB\n", 2);
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "Rss: 4\n", 2);
    /* Out of order or overlapping mappings. */
    BAD("7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n"
        "7f0000008000-7f0000020000 rw-p 00000000 00:00 0\n", 2);
    BAD("7f0000010000-7f0000020000 rw-p 00000000 00:00 0\n"
        "Rss: 4 kB\n"
        "7f0000000000-7f0000008000 rw-p 00000000 00:00 0\n", 3);
#undef BAD
}

TEST(long_path)
{
    /* PATH_MAX-sized names are copied whole, not cut at some buffer. */
    const char *head = "7f0000000000-7f0000001000 r--p 00000000 08:01 5 ";
    size_t plen = 5000;
    char *text = malloc(strlen(head) + plen + 2);
    CHECK(text != NULL);
    strcpy(text, head);
    char *p = text + strlen(head);
    p[0] = '/';
    memset(p + 1, 'x', plen - 1);
    p[plen] = '\n';
    p[plen + 1] = '\0';
    struct maps_list l;
    int rc = parse(text, &l);
    free(text);
    CHECK(rc == 0);
    CHECK(l.count == 1);
    CHECK(strlen(l.entries[0].path) == plen);
    maps_release(&l);
}

TEST(many_entries)
{
    /* Growth of the entry array across several reallocations. */
    size_t n = 1000;
    char *text = malloc(n * 64);
    CHECK(text != NULL);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%llx-%llx rw-p 00000000 00:00 0\nRss: %zu kB\n",
                               0x10000000ULL + i * 0x2000, 0x10001000ULL + i * 0x2000, i);
    struct maps_list l;
    int rc = parse(text, &l);
    free(text);
    CHECK(rc == 0);
    CHECK(l.count == n);
    CHECK_U64(l.entries[999].rss, 999 * 1024);
    CHECK(maps_lookup(&l, 0x10000000ULL + 500 * 0x2000 + 5) == &l.entries[500]);
    CHECK(maps_lookup(&l, 0x10001000ULL + 500 * 0x2000) == NULL); /* the gap after it */
    maps_release(&l);
}

TEST(lookup)
{
    static const char text[] = "1000-3000 r--p 00000000 00:00 0\n"
                               "3000-4000 rw-p 00000000 00:00 0\n"
                               "8000-9000 rw-p 00000000 00:00 0\n";
    struct maps_list l;
    CHECK(parse(text, &l) == 0);
    CHECK(maps_lookup(&l, 0xfff) == NULL);
    CHECK(maps_lookup(&l, 0x1000) == &l.entries[0]);
    CHECK(maps_lookup(&l, 0x2fff) == &l.entries[0]);
    CHECK(maps_lookup(&l, 0x3000) == &l.entries[1]); /* end is exclusive */
    CHECK(maps_lookup(&l, 0x4000) == NULL);
    CHECK(maps_lookup(&l, 0x7fff) == NULL);
    CHECK(maps_lookup(&l, 0x8abc) == &l.entries[2]);
    CHECK(maps_lookup(&l, 0x9000) == NULL);
    CHECK(maps_lookup(&l, UINT64_MAX) == NULL);
    maps_release(&l);
    CHECK(maps_lookup(&l, 0x1000) == NULL); /* empty list */
    maps_release(NULL);
}

/* What a person pastes: 0x, pmap's zero-padded hex, maps' bare hex, a
 * maps range, decimal; refused when it is neither. */
TEST(addresses_as_pasted)
{
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"0x7f3a5c000000", 0x7f3a5c000000ULL},
        {"0X7F3A5C000000", 0x7f3a5c000000ULL},
        {"00007f3a5c000000", 0x7f3a5c000000ULL},
        {"7f3a5c000000", 0x7f3a5c000000ULL},
        {"7f3a5c000000-7f3a5e000000", 0x7f3a5c000000ULL},
        {"00400000-00452000", 0x400000ULL},
        {"0000000000400000", 0x400000ULL},
        {"4194304", 4194304ULL},
        {"0", 0},
        {"0xffffffffffffffff", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        const char *why = NULL;
        CHECK(maps_parse_address(ok[i].text, &v, &why));
        CHECK_U64(v, ok[i].want);
    }
    static const char *const bad[] = {"", "0x", "zz", "7fzz", "0x1ffffffffffffffff",
                                      "012345678901234567", "-7f00", "7f00-", "7f00-zz",
                                      " 7f00", "7f00 ", "+5", "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        const char *why = NULL;
        CHECK(!maps_parse_address(bad[i], &v, &why));
        CHECK(v == 77 && why != NULL);
    }
}

UNIT_MAIN(UNIT_CASE(addresses_as_pasted), UNIT_CASE(parses_numbers_in_bytes), UNIT_CASE(labels),
          UNIT_CASE(paths_with_spaces_and_deleted), UNIT_CASE(missing_and_unknown_fields),
          UNIT_CASE(truncated_last_line), UNIT_CASE(malformed), UNIT_CASE(long_path),
          UNIT_CASE(many_entries), UNIT_CASE(lookup))
