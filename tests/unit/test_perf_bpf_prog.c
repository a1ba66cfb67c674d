/*
 * Unit tests for perf_bpf_prog.c: the BPF reader's programs as assembled
 * from format texts as the kernel writes them. What the kernel's verifier
 * would refuse is checked here without it (every jump inside the program,
 * an exit at the end of every path, context loads aligned to their size);
 * what the programs do is checked on real kernels (test_perf_source.py,
 * test_perf_events.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "perf_bpf_prog.h"
#include "tp_formats.h"
#include "tracefs.h"
#include "unit.h"

#define COMMON                                                                   \
    "format:\n"                                                                  \
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"       \
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"       \
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" \
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"

static const char EXIT_MMAP[] =
    "name: sys_exit_mmap\nID: 173\n" COMMON
    "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\nprint fmt: \"\"\n";
static const char NEWTASK[] =
    "name: task_newtask\nID: 120\n" COMMON
    "\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n"
    "\tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;\n\nprint fmt: \"\"\n";
static const char RENAME[] =
    "name: task_rename\nID: 121\n" COMMON
    "\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:char oldcomm[16];\toffset:12;\tsize:16;\tsigned:0;\n"
    "\tfield:char newcomm[16];\toffset:28;\tsize:16;\tsigned:0;\n"
    "\tfield:short oom_score_adj;\toffset:44;\tsize:2;\tsigned:1;\n\nprint fmt: \"\"\n";
static const char EXEC[] =
    "name: sched_process_exec\nID: 300\n" COMMON
    "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n";
/* 6.1's: no group_dead */
static const char EXIT_TASK[] =
    "name: sched_process_exit\nID: 301\n" COMMON
    "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n";

static const struct perf_bpf_refs REFS = {.followed_fd = 3, .ring_fd = 4, .drops_fd = 5,
                                          .ring_bytes = 1 << 20};

static const struct perf_bpf_plan *plan_of(const char *path)
{
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        if (strcmp(PERF_BPF_PLANS[i].path, path) == 0)
            return &PERF_BPF_PLANS[i];
    return NULL;
}

static int size_of(uint8_t code)
{
    switch (BPF_SIZE(code)) {
    case BPF_DW: return 8;
    case BPF_W: return 4;
    case BPF_H: return 2;
    default: return 1;
    }
}

/* What the verifier would check first: 0, or the index of the first
 * instruction it would refuse (+1). */
static unsigned first_fault(const struct perf_bpf_insns *p, unsigned ctx_size)
{
    /* no path runs off the end: the last is an exit or a jump back */
    if (p->n == 0 || (p->insn[p->n - 1].code != (BPF_JMP | BPF_EXIT) &&
                      p->insn[p->n - 1].code != (BPF_JMP | BPF_JA)))
        return p->n + 1;
    for (unsigned i = 0; i < p->n; i++) {
        const struct bpf_insn *in = &p->insn[i];
        if (in->code == (BPF_LD | BPF_DW | BPF_IMM)) {
            i++; /* two slots */
            continue;
        }
        if (BPF_CLASS(in->code) == BPF_JMP && BPF_OP(in->code) != BPF_CALL &&
            BPF_OP(in->code) != BPF_EXIT) {
            long to = (long)i + 1 + in->off;
            if (to < 0 || to >= (long)p->n)
                return i + 1;
        }
        /* context loads: r6 holds the context */
        if (BPF_CLASS(in->code) == BPF_LDX && in->src_reg == BPF_REG_6) {
            int size = size_of(in->code);
            if (in->off < 0 || in->off % size || (unsigned)(in->off + size) > ctx_size)
                return i + 1;
        }
    }
    return 0;
}

static unsigned count_op(const struct perf_bpf_insns *p, uint8_t code)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->n; i++)
        n += p->insn[i].code == code;
    return n;
}

TEST(every_program_is_sound_on_these_formats)
{
    const struct {
        const char *path, *text;
        unsigned ctx_size;
    } cases[] = {
        {"syscalls/sys_enter_mmap", TP_FORMAT_ENTER_MMAP, 64},
        {"syscalls/sys_exit_mmap", EXIT_MMAP, 24},
        {"task/task_newtask", NEWTASK, 42},          {"task/task_rename", RENAME, 46},
        {"sched/sched_process_exec", EXEC, 20},      {"sched/sched_process_exit", EXIT_TASK, 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tp_format fmt;
        struct perf_bpf_insns p;
        CHECK(tracefs_parse_format(cases[i].text, &fmt) == 0);
        CHECK(plan_of(cases[i].path) != NULL);
        CHECK(perf_bpf_assemble(plan_of(cases[i].path), &fmt, &REFS, &p) == 0);
        CHECK_U64(first_fault(&p, cases[i].ctx_size), 0);
        /* one record reserved and submitted on its path */
        CHECK(count_op(&p, BPF_JMP | BPF_CALL) >= 4);
    }
}

TEST(min_size_is_a_filter_only_when_asked)
{
    struct tp_format fmt;
    struct perf_bpf_insns none, some;
    CHECK(tracefs_parse_format(TP_FORMAT_ENTER_MMAP, &fmt) == 0);
    const struct perf_bpf_plan *mmap = plan_of("syscalls/sys_enter_mmap");
    CHECK(mmap && mmap->size_filter);
    CHECK(perf_bpf_assemble(mmap, &fmt, &REFS, &none) == 0);
    struct perf_bpf_refs refs = REFS;
    refs.min_size = 16ULL << 30; /* above 32 bits: a 64-bit constant */
    CHECK(perf_bpf_assemble(mmap, &fmt, &refs, &some) == 0);
    CHECK_U64(count_op(&none, BPF_JMP | BPF_JGE | BPF_X), 0);
    CHECK_U64(count_op(&some, BPF_JMP | BPF_JGE | BPF_X), 1);
    /* the length (offset 24) against the constant, MAP_FIXED (flags, 40) passes */
    bool len_read = false, flags_read = false, constant = false;
    for (unsigned i = 0; i + 1 < some.n; i++) {
        const struct bpf_insn *in = &some.insn[i];
        len_read |= BPF_CLASS(in->code) == BPF_LDX && in->src_reg == BPF_REG_6 && in->off == 24;
        flags_read |= BPF_CLASS(in->code) == BPF_LDX && in->src_reg == BPF_REG_6 && in->off == 40;
        constant |= in->code == (BPF_LD | BPF_DW | BPF_IMM) && in->src_reg == 0 &&
                    ((uint64_t)(uint32_t)some.insn[i + 1].imm << 32 | (uint32_t)in->imm) ==
                        refs.min_size;
    }
    CHECK(len_read && flags_read && constant);
    CHECK(some.n > none.n);
}

TEST(newtask_follows_a_new_process_before_it_runs)
{
    struct tp_format fmt;
    struct perf_bpf_insns p;
    CHECK(tracefs_parse_format(NEWTASK, &fmt) == 0);
    CHECK(perf_bpf_assemble(plan_of("task/task_newtask"), &fmt, &REFS, &p) == 0);
    /* the followed map updated, and the record reserved after it */
    int update = -1, reserve = -1;
    for (unsigned i = 0; i < p.n; i++) {
        if (p.insn[i].code != (BPF_JMP | BPF_CALL))
            continue;
        if (p.insn[i].imm == BPF_FUNC_map_update_elem && update < 0)
            update = (int)i;
        if (p.insn[i].imm == BPF_FUNC_ringbuf_reserve && reserve < 0)
            reserve = (int)i;
    }
    CHECK(update >= 0 && reserve > update);
}

TEST(every_program_answers_1)
{
    /* A 0 from any program on a tracepoint makes the kernel drop the
     * samples of every perf event there: another tool's, our exec watch's. */
    const struct {
        const char *path, *text;
    } cases[] = {
        {"syscalls/sys_enter_mmap", TP_FORMAT_ENTER_MMAP},
        {"syscalls/sys_exit_mmap", EXIT_MMAP},
        {"task/task_newtask", NEWTASK},          {"task/task_rename", RENAME},
        {"sched/sched_process_exec", EXEC},      {"sched/sched_process_exit", EXIT_TASK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tp_format fmt;
        struct perf_bpf_insns p;
        CHECK(tracefs_parse_format(cases[i].text, &fmt) == 0);
        struct perf_bpf_refs refs = REFS;
        refs.min_size = 1 << 20;
        CHECK(perf_bpf_assemble(plan_of(cases[i].path), &fmt, &refs, &p) == 0);
        unsigned exits = 0;
        for (unsigned k = 0; k < p.n; k++) {
            if (p.insn[k].code != (BPF_JMP | BPF_EXIT))
                continue;
            exits++;
            /* r0 is set just before each exit, to 1 */
            CHECK(k > 0 && p.insn[k - 1].code == (BPF_ALU64 | BPF_MOV | BPF_K) &&
                  p.insn[k - 1].dst_reg == BPF_REG_0 && p.insn[k - 1].imm == 1);
        }
        CHECK(exits >= 1);
    }
}

/* r0's constant at the exit reached from instruction k (straight-line
 * code to the next exit, unconditional jumps followed); -1 when not a
 * constant move. */
static int answer_from(const struct perf_bpf_insns *p, unsigned k)
{
    int r0 = -1;
    for (unsigned steps = 0; k < p->n && steps < p->n; steps++) {
        const struct bpf_insn *in = &p->insn[k];
        if (in->code == (BPF_JMP | BPF_EXIT))
            return r0;
        if (in->code == (BPF_ALU64 | BPF_MOV | BPF_K) && in->dst_reg == BPF_REG_0)
            r0 = in->imm;
        else if (in->code == (BPF_JMP | BPF_CALL))
            r0 = -1;
        k = in->code == (BPF_JMP | BPF_JA) ? k + 1 + (unsigned)in->off : k + 1;
    }
    return -1;
}

/* With -k (stack_gate) the stacked entries' programs answer 1 for a call
 * they wrote a record of, so that the stack watch's per-CPU events sample
 * it, and 0 for any other (a process not followed, an mmap under
 * --min-size, a record the ring had no room for); the record says it was
 * sampled. Other programs answer 1 as ever. */
TEST(stacked_entries_are_let_through_only_when_written)
{
    struct tp_format fmt;
    struct perf_bpf_insns p;
    CHECK(tracefs_parse_format(TP_FORMAT_ENTER_MMAP, &fmt) == 0);
    struct perf_bpf_refs refs = REFS;
    refs.min_size = 1 << 20;
    refs.stack_gate = true;
    CHECK(perf_bpf_assemble(plan_of("syscalls/sys_enter_mmap"), &fmt, &refs, &p) == 0);
    int submit = -1, followed_miss = -1, reserve_miss = -1, kind_store = -1;
    for (unsigned k = 0; k < p.n; k++) {
        const struct bpf_insn *in = &p.insn[k];
        if (in->code == (BPF_JMP | BPF_CALL) && in->imm == BPF_FUNC_ringbuf_submit)
            submit = (int)k;
        /* the first "r0 == 0" test follows the followed map's lookup, the
         * next one the ring's reservation */
        if (in->code == (BPF_JMP | BPF_JEQ | BPF_K) && in->dst_reg == BPF_REG_0 && !in->imm) {
            if (followed_miss < 0)
                followed_miss = (int)k;
            else if (reserve_miss < 0)
                reserve_miss = (int)k;
        }
        if (in->code == (BPF_ST | BPF_W | BPF_MEM) && in->dst_reg == BPF_REG_8 && in->off == 0)
            kind_store = (int)k;
    }
    CHECK(submit > 0 && followed_miss > 0 && reserve_miss > followed_miss && kind_store > 0);
    CHECK_U64((uint64_t)answer_from(&p, (unsigned)submit + 1), 1);
    CHECK_U64((uint64_t)answer_from(&p, (unsigned)(followed_miss + 1 + p.insn[followed_miss].off)),
              0);
    CHECK_U64((uint64_t)answer_from(&p, (unsigned)(reserve_miss + 1 + p.insn[reserve_miss].off)),
              0);
    CHECK_U64((uint64_t)p.insn[kind_store].imm, PERF_BPF_ENTER | PERF_BPF_REC_STACKED);
    /* munmap's entry carries no stack: it answers 1 on every path */
    CHECK(perf_bpf_assemble(plan_of("syscalls/sys_enter_munmap"), &fmt, &refs, &p) == 0);
    for (unsigned k = 0; k < p.n; k++)
        if (p.insn[k].code == (BPF_JMP | BPF_EXIT))
            CHECK(p.insn[k - 1].imm == 1);
    /* without -k, mmap's answers 1 on every path and its record is plain */
    refs.stack_gate = false;
    CHECK(perf_bpf_assemble(plan_of("syscalls/sys_enter_mmap"), &fmt, &refs, &p) == 0);
    for (unsigned k = 0; k < p.n; k++) {
        if (p.insn[k].code == (BPF_JMP | BPF_EXIT))
            CHECK(p.insn[k - 1].imm == 1);
        if (p.insn[k].code == (BPF_ST | BPF_W | BPF_MEM) && p.insn[k].dst_reg == BPF_REG_8 &&
            p.insn[k].off == 0)
            CHECK_U64((uint64_t)p.insn[k].imm, PERF_BPF_ENTER);
    }
}

TEST(records_carry_their_threads_drop_mark)
{
    /* Every record gets its bucket's count (a store to drop_mark), and a
     * drop bumps two counts: the total and the thread's bucket. */
    struct tp_format fmt;
    struct perf_bpf_insns p;
    CHECK(tracefs_parse_format(EXIT_MMAP, &fmt) == 0);
    CHECK(perf_bpf_assemble(plan_of("syscalls/sys_exit_mmap"), &fmt, &REFS, &p) == 0);
    unsigned mark_stores = 0;
    for (unsigned k = 0; k < p.n; k++)
        mark_stores += p.insn[k].code == (BPF_STX | BPF_DW | BPF_MEM) &&
                       p.insn[k].dst_reg == BPF_REG_8 &&
                       p.insn[k].off == (int16_t)offsetof(struct perf_bpf_rec, drop_mark);
    CHECK_U64(mark_stores, 1);
    CHECK_U64(count_op(&p, BPF_STX | BPF_DW | BPF_ATOMIC), 2);
    /* the bucket: the tid's low bits, past entry 0 */
    unsigned masks = 0;
    for (unsigned k = 0; k < p.n; k++)
        masks += p.insn[k].code == (BPF_ALU64 | BPF_AND | BPF_K) &&
                 p.insn[k].imm == PERF_BPF_DROP_BUCKETS - 1;
    CHECK_U64(masks, 2);
}

TEST(a_format_without_the_fields_read_is_refused)
{
    struct tp_format fmt;
    struct perf_bpf_insns p;
    /* task_newtask without clone_flags */
    static const char NO_FLAGS[] =
        "name: task_newtask\nID: 120\n" COMMON
        "\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n\nprint fmt: \"\"\n";
    CHECK(tracefs_parse_format(NO_FLAGS, &fmt) == 0);
    CHECK(perf_bpf_assemble(plan_of("task/task_newtask"), &fmt, &REFS, &p) == -1);
    /* an exit whose result is 4 bytes wide */
    static const char NARROW[] =
        "name: sys_exit_mmap\nID: 173\n" COMMON
        "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:int ret;\toffset:16;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n";
    CHECK(tracefs_parse_format(NARROW, &fmt) == 0);
    CHECK(perf_bpf_assemble(plan_of("syscalls/sys_exit_mmap"), &fmt, &REFS, &p) == -1);
}

UNIT_MAIN(UNIT_CASE(every_program_is_sound_on_these_formats),
          UNIT_CASE(min_size_is_a_filter_only_when_asked),
          UNIT_CASE(newtask_follows_a_new_process_before_it_runs),
          UNIT_CASE(every_program_answers_1),
          UNIT_CASE(records_carry_their_threads_drop_mark),
          UNIT_CASE(stacked_entries_are_let_through_only_when_written),
          UNIT_CASE(a_format_without_the_fields_read_is_refused))
