/*
 * Unit tests for symtab.c (ELF symbol tables, perf maps, demangling) and
 * for the pure parts of unwind.c and summary.c (stack JSON, call sites,
 * the summary view).
 */
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <unistd.h>

#include "summary.h"
#include "symtab.h"
#include "unit.h"
#include "unwind.h"

/* A function of this binary whose address we know. */
__attribute__((noinline)) int unit_symtab_probe(int x) { return x * 3 + 1; }

static int temp_file(const char *text)
{
    char path[] = "/tmp/mmapwatch-unit-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int main_program_bias(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    *(uint64_t *)ctx = info->dlpi_addr; /* the first object is the program */
    return 1;
}

TEST(elf_symbols_of_this_binary)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct symtab *t = symtab_from_elf(fd);
    close(fd);
    CHECK(t != NULL && symtab_count(t) > 10);
    uint64_t bias = 0, off = 1;
    dl_iterate_phdr(main_program_bias, &bias);
    uint64_t probe = (uint64_t)(uintptr_t)unit_symtab_probe - bias;
    CHECK_STR(symtab_lookup(t, probe, &off), "unit_symtab_probe");
    CHECK(off == 0);
    CHECK_STR(symtab_lookup(t, probe + 2, &off), "unit_symtab_probe");
    CHECK(off == 2);
    CHECK(symtab_lookup(t, 0, &off) == NULL);
    symtab_free(t);
}

TEST(debug_ref_and_crc)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct elf_debug_ref ref;
    CHECK(symtab_debug_ref(fd, &ref) == 0);
    close(fd);
    /* Built with -g and not stripped: it has its own .symtab; Debian's gcc
     * links a 20-byte SHA-1 build ID in by default. */
    CHECK(ref.has_symtab && ref.build_id_len == 20 && ref.debuglink[0] == '\0');
    fd = temp_file("123456789"); /* the CRC-32 check value */
    CHECK(fd >= 0);
    CHECK(symtab_crc32_matches(fd, 0xcbf43926u));
    CHECK(!symtab_crc32_matches(fd, 0xcbf43927u));
    CHECK(symtab_debug_ref(fd, &ref) < 0);
    close(fd);
}

TEST(elf_rejects_non_elf)
{
    int fd = temp_file("not an ELF file at all, just some text\n");
    CHECK(fd >= 0);
    CHECK(symtab_from_elf(fd) == NULL);
    close(fd);
    fd = temp_file("\177ELF");
    CHECK(fd >= 0);
    CHECK(symtab_from_elf(fd) == NULL);
    close(fd);
}

TEST(perf_map_lines)
{
    int fd = temp_file("7f0000001000 40 Interpreter\n"
                       "0x7f0000002000 0x10 LFoo;::bar (compiled)\n"
                       "garbage line\n"
                       "7f0000003000 0 zero-size-is-skipped\n"
                       "7f0000004000 20\n"
                       "7f0000005000 8 last-without-newline");
    CHECK(fd >= 0);
    struct symtab *t = symtab_from_perf_map(fd);
    close(fd);
    CHECK(t != NULL && symtab_count(t) == 3);
    uint64_t off;
    CHECK_STR(symtab_lookup(t, 0x7f0000001000, &off), "Interpreter");
    CHECK(off == 0);
    CHECK_STR(symtab_lookup(t, 0x7f000000103f, &off), "Interpreter");
    CHECK(off == 0x3f);
    CHECK(symtab_lookup(t, 0x7f0000001040, &off) == NULL); /* past its size */
    CHECK_STR(symtab_lookup(t, 0x7f0000002008, &off), "LFoo;::bar (compiled)");
    CHECK(symtab_lookup(t, 0x7f0000000fff, &off) == NULL);
    CHECK_STR(symtab_lookup(t, 0x7f0000005007, &off), "last-without-newline");
    symtab_free(t);

    fd = temp_file("");
    CHECK(symtab_from_perf_map(fd) == NULL);
    close(fd);
}

TEST(demangle)
{
    char *s = symtab_demangle("_ZN5arena14ChunkAllocator14allocate_chunkEm");
    CHECK_STR(s, "arena::ChunkAllocator::allocate_chunk(unsigned long)");
    free(s);
    s = symtab_demangle("_ZN2os6mallocEm8MEMFLAGS");
    CHECK_STR(s, "os::malloc(unsigned long, MEMFLAGS)");
    free(s);
    CHECK(symtab_demangle("malloc") == NULL);
    CHECK(symtab_demangle("_Zgarbage") == NULL);
}

static struct stack_frame frame(uint64_t ip, const char *symbol, const char *module)
{
    struct stack_frame f = {.ip = ip, .source = symbol ? "elf" : NULL};
    f.symbol = symbol ? strdup(symbol) : NULL;
    f.module = module ? strdup(module) : NULL;
    return f;
}

TEST(stack_json_and_budget)
{
    struct stack_frame frames[4] = {
        frame(0x7f01, "__mmap+0x13", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        frame(0x5501, "say \"hi\"+0x1", "/app/bin"),
        frame(0x7e01, NULL, NULL),
        frame(0x7d01, "java.nio.ByteBuffer.allocateDirect(int)", NULL),
    };
    frames[3].source = "jvm-interpreted";
    struct stack s = {.frames = frames, .depth = 4};
    bool complete;
    char *json = stack_to_json(&s, 4096, &complete);
    CHECK(json && complete);
    CHECK_STR(json, "[{\"ip\":\"0x7f01\",\"symbol\":\"__mmap+0x13\",\"module\":"
                    "\"/usr/lib/x86_64-linux-gnu/libc.so.6\",\"source\":\"elf\"},{\"ip\":"
                    "\"0x5501\",\"symbol\":\"say \\\"hi\\\"+0x1\",\"module\":\"/app/bin\","
                    "\"source\":\"elf\"},{\"ip\":\"0x7e01\",\"symbol\":null,\"module\":null,"
                    "\"source\":null},{\"ip\":\"0x7d01\",\"symbol\":"
                    "\"java.nio.ByteBuffer.allocateDirect(int)\",\"module\":null,"
                    "\"source\":\"jvm-interpreted\"}]");
    CHECK_STR(stack_frame_where(&frames[0]), "/usr/lib/x86_64-linux-gnu/libc.so.6");
    CHECK_STR(stack_frame_where(&frames[2]), "[anon]");
    CHECK_STR(stack_frame_where(&frames[3]), "[java: interpreted]");
    free(json);
    json = stack_to_json(&s, 120, &complete);
    CHECK(json && !complete);
    CHECK(strlen(json) <= 120 && json[strlen(json) - 1] == ']');
    CHECK(strstr(json, "0x5501") == NULL);
    free(json);
    for (int i = 0; i < 4; i++) {
        free(frames[i].symbol);
        free(frames[i].module);
    }
}

TEST(call_site_skips_libc_and_allocators)
{
    struct stack_frame frames[5] = {
        frame(0x1, "__mmap+0x13", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        frame(0x2, "sysmalloc+0x1a", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        frame(0x3, "os::malloc(unsigned long, MEMFLAGS)+0x80", "/usr/lib/jvm/lib/libjvm.so"),
        frame(0x4, "Unsafe_AllocateMemory0+0x5c", "/usr/lib/jvm/lib/server/libjvm.so"),
        frame(0x5, NULL, NULL),
    };
    struct stack s = {.frames = frames, .depth = 5};
    char *site = summary_call_site(&s);
    CHECK_STR(site, "Unsafe_AllocateMemory0 (libjvm.so)");
    free(site);
    s.frames = frames + 4;
    s.depth = 1;
    site = summary_call_site(&s);
    CHECK_STR(site, "0x5");
    free(site);
    /* All plumbing: the innermost frame stands for the site. */
    s.frames = frames;
    s.depth = 2;
    site = summary_call_site(&s);
    CHECK_STR(site, "__mmap (libc.so.6)");
    free(site);
    s.depth = 0;
    CHECK(summary_call_site(&s) == NULL);
    for (int i = 0; i < 5; i++) {
        free(frames[i].symbol);
        free(frames[i].module);
    }
}

TEST(summary_view_counts)
{
    struct summary *s = summary_new();
    CHECK(s != NULL);
    struct stack_frame fa = frame(0x10, "alloc_a+0x4", "/bin/x");
    struct stack_frame fb = frame(0x20, "alloc_b+0x8", "/bin/x");
    struct stack a = {.frames = &fa, .depth = 1}, b = {.frames = &fb, .depth = 1};
    uint64_t big = (16ULL << 20) + 4096, small = (2ULL << 20) + 4096;
    summary_add_region(s, 1, big, true, "loop-1", &a);
    summary_add_region(s, 2, big, true, "loop-1", &a);
    summary_add_region(s, 3, small, true, "loop-2", &b);
    summary_add_region(s, 4, small, true, "loop-2", &b);
    summary_add_region(s, 5, small, true, "loop-2", &b);
    summary_add_region(s, 6, 1ULL << 30, true, "main", NULL);     /* once: a set-up */
    summary_add_region(s, 7, 1ULL << 29, false, "main", NULL);    /* reservations */
    summary_add_region(s, 8, 1ULL << 29, false, "main", NULL);
    summary_add_dump(s, 1);
    summary_add_dump(s, 3);
    summary_add_dump(s, 99); /* unknown region: ignored */
    summary_add_mapped(s, 2, 4096);
    summary_add_mapped(s, 2, 8192);
    const struct summary_view *v = summary_view(s);
    CHECK(v->nrows == 3 && v->count == 8 && v->bytes == 2 * big + 3 * small + (2ULL << 30));
    CHECK(v->mapped == 12288 && v->dumps == 2 && v->have_stacks);
    CHECK(v->rows[0].site == NULL && v->rows[0].count == 3); /* main, no stack */
    CHECK_STR(v->rows[1].site, "alloc_a (x)");
    CHECK(v->rows[1].count == 2 && v->rows[1].mapped == 12288 && v->rows[1].dumps == 1);
    CHECK_STR(v->rows[2].comm, "loop-2");
    CHECK(v->nsizes == 4 && v->sizes[0].size == small && v->sizes[0].count == 3);
    CHECK(v->sizes[1].size == (1ULL << 29) && v->sizes[1].count == 2);
    CHECK(v->nbuckets == 4 && v->buckets[0].low == (2ULL << 20) && v->buckets[1].low == (16ULL << 20));
    CHECK(v->suggested_for_size == big && v->suggested_min_size == (16ULL << 20));
    summary_free(s);
    free(fa.symbol);
    free(fa.module);
    free(fb.symbol);
    free(fb.module);
}

UNIT_MAIN(UNIT_CASE(elf_symbols_of_this_binary), UNIT_CASE(debug_ref_and_crc),
          UNIT_CASE(elf_rejects_non_elf),
          UNIT_CASE(perf_map_lines), UNIT_CASE(demangle), UNIT_CASE(stack_json_and_budget),
          UNIT_CASE(call_site_skips_libc_and_allocators), UNIT_CASE(summary_view_counts))
