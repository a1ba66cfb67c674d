/*
 * Unit tests for perf_rawsys.c (the raw syscall tracepoints' filters, the
 * x86_64/i386 check on sampled registers, --min-size in user space) and
 * for how perf_pair handles an i386 entry it is handed.
 */
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "perf_pair.h"
#include "perf_rawsys.h"
#include "unit.h"

TEST(filters_name_exactly_the_calls_read)
{
    char f[512];
    CHECK(perf_rawsys_filter(RAWSYS_EXIT, f, sizeof f) == 0);
    /* mmap 9, mprotect 10, munmap 11, brk 12 as one range */
    CHECK_STR(f, "(id >= 9 && id <= 12) || id == 25 || id == 329");
    CHECK(perf_rawsys_filter(RAWSYS_ENTER_ALL, f, sizeof f) == 0);
    CHECK(strstr(f, "id == 59") && strstr(f, "id == 322") && strstr(f, "id == 231"));
    /* the i386 mmap2 (192) and munmap (91) are let through, to be said */
    CHECK(strstr(f, "id == 192") && strstr(f, "id == 91"));
    /* never i386 brk (45, x86_64's recvfrom) nor exit (1, write) */
    CHECK(!perf_rawsys_in_set(RAWSYS_ENTER_ALL, 45) && !perf_rawsys_in_set(RAWSYS_ENTER_ALL, 1));
    CHECK(perf_rawsys_in_set(RAWSYS_ENTER_STACKED, SYS_mmap) &&
          !perf_rawsys_in_set(RAWSYS_ENTER_STACKED, SYS_munmap));
    CHECK(perf_rawsys_in_set(RAWSYS_ENTER_PLAIN, SYS_exit_group) &&
          !perf_rawsys_in_set(RAWSYS_ENTER_PLAIN, SYS_brk));
    CHECK(!perf_rawsys_in_set(RAWSYS_EXIT, SYS_execve));
    CHECK(perf_rawsys_filter(RAWSYS_ENTER_ALL, f, 20) == -1); /* too small: never cut */
}

/* Registers in enum perf_stack_reg order. */
static void native_regs(uint64_t regs[PERF_STACK_NREGS], const uint64_t args[6])
{
    for (unsigned i = 0; i < PERF_STACK_NREGS; i++)
        regs[i] = 0x1000 + i; /* whatever the others hold */
    regs[PERF_STACK_DI] = args[0];
    regs[PERF_STACK_SI] = args[1];
    regs[PERF_STACK_DX] = args[2];
    regs[PERF_STACK_R10] = args[3];
    regs[PERF_STACK_R8] = args[4];
    regs[PERF_STACK_R9] = args[5];
    regs[PERF_STACK_CX] = regs[PERF_STACK_IP]; /* what the syscall instruction leaves */
}

TEST(abi_is_told_by_the_registers)
{
    uint64_t regs[PERF_STACK_NREGS];
    const uint64_t mmap_args[6] = {0, 1 << 24, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                                   (uint64_t)-1, 0};
    native_regs(regs, mmap_args);
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_64, regs, PERF_STACK_NREGS, mmap_args) ==
          RAWSYS_NATIVE);
    /* a 32-bit program: whatever the registers */
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_32, regs, PERF_STACK_NREGS, mmap_args) ==
          RAWSYS_I386);
    /* no registers (none sampled): never taken for native */
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_NONE, regs, PERF_STACK_NREGS, mmap_args) ==
          RAWSYS_UNSURE);
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_64, regs, 3, mmap_args) == RAWSYS_UNSURE);
    /* int $0x80 in a 64-bit program: i386 unlink (10, x86_64's mprotect) of
     * a path at 0x8000: ebx holds it, r8-r11 are zero after the entry */
    uint64_t i386[PERF_STACK_NREGS] = {0};
    i386[PERF_STACK_AX] = (uint64_t)-38;
    i386[PERF_STACK_BX] = 0x8000;
    i386[PERF_STACK_IP] = 0x401000;
    i386[PERF_STACK_SP] = 0x7ffc0000;
    const uint64_t unlink_args[6] = {0x8000, 0, 0, 0, 0, 0};
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_64, i386, PERF_STACK_NREGS, unlink_args) ==
          RAWSYS_I386);
    /* registers that fit both ABIs: never guessed */
    uint64_t both[PERF_STACK_NREGS] = {0};
    const uint64_t zero_args[6] = {0};
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_64, both, PERF_STACK_NREGS, zero_args) ==
          RAWSYS_UNSURE);
    /* a record whose args fit neither (a tracer changed them between) */
    const uint64_t other[6] = {1, 2, 3, 4, 5, 6};
    CHECK(perf_rawsys_abi(PERF_SAMPLE_REGS_ABI_64, regs, PERF_STACK_NREGS, other) ==
          RAWSYS_UNSURE);
}

TEST(min_size_is_applied_as_the_kernel_filter_was)
{
    enum syscall_id id;
    uint64_t a[6] = {0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0};
    CHECK(perf_rawsys_wanted(SYS_mmap, a, 0, &id) && id == SC_MMAP);
    CHECK(!perf_rawsys_wanted(SYS_mmap, a, 1 << 20, &id));
    a[1] = 1 << 20; /* exactly the minimum */
    CHECK(perf_rawsys_wanted(SYS_mmap, a, 1 << 20, &id));
    a[1] = (1 << 20) - 1;
    CHECK(!perf_rawsys_wanted(SYS_mmap, a, 1 << 20, &id));
    a[3] |= MAP_FIXED; /* may replace part of a reported region */
    CHECK(perf_rawsys_wanted(SYS_mmap, a, 1 << 20, &id));
    /* the other calls whatever their arguments */
    uint64_t small[6] = {0x1000, 4096, 0, 0, 0, 0};
    CHECK(perf_rawsys_wanted(SYS_munmap, small, 1 << 20, &id) && id == SC_MUNMAP);
    CHECK(perf_rawsys_wanted(SYS_mprotect, small, 1 << 20, &id) && id == SC_MPROTECT);
    CHECK(perf_rawsys_wanted(SYS_execve, small, 1 << 20, &id) && id == SC_EXECVE);
    /* the x86_64 calls whose numbers are i386 map calls: not ours */
    CHECK(!perf_rawsys_wanted(192, small, 0, &id)); /* lgetxattr */
    CHECK(!perf_rawsys_wanted(91, small, 0, &id));  /* fchmod */
    CHECK(!perf_rawsys_wanted(SYS_exit, small, 0, &id)); /* never asked for */
    CHECK(!perf_rawsys_wanted(-1, small, 0, &id));
}

#define MAX_EVS 8
struct got {
    size_t n;
    struct perf_ev ev[MAX_EVS];
};

static void collect(const struct perf_ev *ev, void *ctx)
{
    struct got *g = ctx;
    if (g->n < MAX_EVS)
        g->ev[g->n] = *ev;
    g->n++;
}

TEST(pair_drops_an_i386_entry_and_says_it)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    CHECK(p != NULL);
    /* a native mmap entry whose exit never came (cut short), then an i386
     * link (9) of the same thread and its exit: the exit must not complete
     * the mmap */
    struct perf_item mm = {.kind = PERF_ITEM_ENTER, .time = 100, .owner = 10, .pid = 10,
                           .tid = 10, .tp = 1, .nr = SYS_mmap, .content = 1};
    mm.args[1] = 1 << 24;
    struct perf_item link = {.kind = PERF_ITEM_ENTER, .time = 110, .owner = 10, .pid = 10,
                             .tid = 10, .tp = 1, .nr = 9, .content = 2, .not_native = true};
    link.stack = calloc(1, sizeof *link.stack); /* owned and freed by perf_pair */
    struct perf_item out = {.kind = PERF_ITEM_EXIT, .time = 120, .owner = 10, .pid = 10,
                            .tid = 10, .tp = 2, .nr = 9, .ret = 0, .content = 3};
    perf_pair_push(p, &mm);
    perf_pair_push(p, &link);
    perf_pair_push(p, &out);
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 2);
    CHECK(g.ev[0].kind == PERF_EV_CALL_ENTER && g.ev[0].nr == SYS_mmap);
    CHECK(g.ev[1].kind == PERF_EV_NOT_NATIVE && g.ev[1].nr == 9 && g.ev[1].tid == 10 &&
          !g.ev[1].abi_unsure);
    CHECK_U64(perf_pair_stats(p)->not_native, 1);
    CHECK_U64(perf_pair_stats(p)->unpaired_exits, 1);
    perf_pair_free(p);
}

UNIT_MAIN(UNIT_CASE(filters_name_exactly_the_calls_read), UNIT_CASE(abi_is_told_by_the_registers),
          UNIT_CASE(min_size_is_applied_as_the_kernel_filter_was),
          UNIT_CASE(pair_drops_an_i386_entry_and_says_it))
