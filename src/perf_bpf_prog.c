/*
 * perf_bpf_prog: the BPF reader's programs, assembled from this kernel's
 * tracepoint formats. See include/perf_bpf_prog.h.
 */
#include <string.h>

#include "perf_bpf_prog.h"

#define REC_WORD(i) (24 + 8 * (i))
#define MAP_FIXED_FLAG 0x10
#define CLONE_THREAD_FLAG 0x10000

#define REC_DROP_MARK REC_WORD(6)
_Static_assert(sizeof(struct perf_bpf_rec) == REC_DROP_MARK + 8, "the record's layout");
_Static_assert((PERF_BPF_DROP_BUCKETS & (PERF_BPF_DROP_BUCKETS - 1)) == 0,
               "the bucket is the tid's low bits");

const struct perf_bpf_plan PERF_BPF_PLANS[] = {
    {"syscalls/sys_enter_mmap", PERF_BPF_ENTER, true, true},
    {"syscalls/sys_exit_mmap", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_munmap", PERF_BPF_ENTER, false, false},
    {"syscalls/sys_exit_munmap", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_mremap", PERF_BPF_ENTER, false, true},
    {"syscalls/sys_exit_mremap", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_mprotect", PERF_BPF_ENTER, false, true},
    {"syscalls/sys_exit_mprotect", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_pkey_mprotect", PERF_BPF_ENTER, false, true},
    {"syscalls/sys_exit_pkey_mprotect", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_brk", PERF_BPF_ENTER, false, true},
    {"syscalls/sys_exit_brk", PERF_BPF_EXIT, false, false},
    {"syscalls/sys_enter_execve", PERF_BPF_ENTER, false, false},
    {"syscalls/sys_enter_execveat", PERF_BPF_ENTER, false, false},
    {"syscalls/sys_enter_exit_group", PERF_BPF_ENTER, false, false},
    {"task/task_newtask", PERF_BPF_NEWTASK, false, false},
    {"sched/sched_process_exec", PERF_BPF_EXEC, false, false},
    {"sched/sched_process_exit", PERF_BPF_TASK_EXIT, false, false},
    {"task/task_rename", PERF_BPF_RENAME, false, false},
};
const size_t PERF_BPF_NPLANS = sizeof PERF_BPF_PLANS / sizeof PERF_BPF_PLANS[0];
_Static_assert(sizeof PERF_BPF_PLANS / sizeof PERF_BPF_PLANS[0] <= PERF_BPF_PLANS_MAX,
               "PERF_BPF_PLANS_MAX counts the plans");

/* ---- a small assembler with labels ----------------------------------------------- */

#define MAX_JUMPS 24
enum label {
    L_OUT, L_DROP, L_KEEP, L_SUBMIT, L_RECORD, L_MARKED, L_TOTAL_COUNTED, L_COUNTED, NLABELS
};

struct prog {
    struct bpf_insn insn[PERF_BPF_MAX_INSNS];
    unsigned n;
    int label[NLABELS];
    struct {
        unsigned at;
        enum label to;
    } jump[MAX_JUMPS];
    unsigned njumps;
    bool overflow;
};

static void ins(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (p->n >= PERF_BPF_MAX_INSNS) {
        p->overflow = true;
        return;
    }
    p->insn[p->n++] = (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src,
                                        .off = off, .imm = imm};
}

static void mov_reg(struct prog *p, int d, int s)
{
    ins(p, BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0);
}
static void mov_imm(struct prog *p, int d, int32_t v)
{
    ins(p, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v);
}
static void alu_imm(struct prog *p, int op, int d, int32_t v)
{
    ins(p, BPF_ALU64 | op | BPF_K, d, 0, 0, v);
}
static void call(struct prog *p, int fn)
{
    ins(p, BPF_JMP | BPF_CALL, 0, 0, 0, fn);
}
static void load(struct prog *p, int size, int d, int s, int16_t off)
{
    ins(p, BPF_LDX | size | BPF_MEM, d, s, off, 0);
}
static void store(struct prog *p, int size, int d, int16_t off, int s)
{
    ins(p, BPF_STX | size | BPF_MEM, d, s, off, 0);
}
static void store_imm(struct prog *p, int size, int d, int16_t off, int32_t v)
{
    ins(p, BPF_ST | size | BPF_MEM, d, 0, off, v);
}

static void imm64(struct prog *p, int d, int src, uint64_t v)
{
    ins(p, BPF_LD | BPF_DW | BPF_IMM, d, src, 0, (int32_t)(uint32_t)v);
    ins(p, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static void load_map(struct prog *p, int d, int fd)
{
    imm64(p, d, BPF_PSEUDO_MAP_FD, (uint32_t)fd);
}

static void jump(struct prog *p, uint8_t code, int d, int s, int32_t v, enum label to)
{
    if (p->njumps >= MAX_JUMPS) {
        p->overflow = true;
        return;
    }
    p->jump[p->njumps].at = p->n;
    p->jump[p->njumps++].to = to;
    ins(p, code, d, s, 0, v);
}
static void jump_imm(struct prog *p, int op, int d, int32_t v, enum label to)
{
    jump(p, BPF_JMP | op | BPF_K, d, 0, v, to);
}
static void jump_reg(struct prog *p, int op, int d, int s, enum label to)
{
    jump(p, BPF_JMP | op | BPF_X, d, s, 0, to);
}
static void place(struct prog *p, enum label l)
{
    p->label[l] = (int)p->n;
}

/* Resolves the jumps; -1 when the program did not fit or a label is missing. */
static int link_prog(struct prog *p)
{
    if (p->overflow)
        return -1;
    for (unsigned j = 0; j < p->njumps; j++) {
        int to = p->label[p->jump[j].to];
        if (to < 0)
            return -1;
        p->insn[p->jump[j].at].off = (int16_t)(to - (int)p->jump[j].at - 1);
    }
    return 0;
}

/* r1 = ctx field, piece by piece, stored at the record's offset rec_off
 * (r8): the verifier wants context loads aligned to their size. */
static void copy_field(struct prog *p, const struct tp_field *f, unsigned size, int16_t rec_off)
{
    static const struct {
        unsigned bytes;
        int code;
    } pieces[] = {{8, BPF_DW}, {4, BPF_W}, {2, BPF_H}, {1, BPF_B}};
    unsigned done = 0;
    while (done < size) {
        for (size_t i = 0; i < 4; i++) {
            unsigned b = pieces[i].bytes;
            if (b > size - done || (f->offset + done) % b || (rec_off + done) % b)
                continue;
            load(p, pieces[i].code, BPF_REG_1, BPF_REG_6, (int16_t)(f->offset + done));
            store(p, pieces[i].code, BPF_REG_8, (int16_t)(rec_off + done), BPF_REG_1);
            done += b;
            break;
        }
    }
}

static int size_code(unsigned size)
{
    return size == 8 ? BPF_DW : size == 4 ? BPF_W : size == 2 ? BPF_H : BPF_B;
}

/* ---- the programs --------------------------------------------------------------------- */

struct fields {
    const struct tp_field *nr, *ret, *args[6];
    unsigned nargs;
    const struct tp_field *len, *flags;             /* sys_enter_mmap */
    const struct tp_field *pid, *clone_flags, *comm; /* task_newtask, task_rename, exec */
    const struct tp_field *old_pid, *group_dead;
};

static int find_fields(const struct perf_bpf_plan *plan, const struct tp_format *fmt,
                       struct fields *f)
{
    memset(f, 0, sizeof *f);
    switch (plan->kind) {
    case PERF_BPF_ENTER:
        if (!(f->nr = tp_format_field(fmt, "__syscall_nr")))
            return -1;
        for (size_t i = 0; i < fmt->nfields && f->nargs < 6; i++)
            if (fmt->fields[i].offset > f->nr->offset) {
                if (fmt->fields[i].size != 8)
                    return -1;
                f->args[f->nargs++] = &fmt->fields[i];
            }
        if (plan->size_filter && (!(f->len = tp_format_field(fmt, "len")) ||
                                  !(f->flags = tp_format_field(fmt, "flags"))))
            return -1;
        return 0;
    case PERF_BPF_EXIT:
        f->nr = tp_format_field(fmt, "__syscall_nr");
        f->ret = tp_format_field(fmt, "ret");
        return f->nr && f->ret && f->ret->size == 8 ? 0 : -1;
    case PERF_BPF_NEWTASK:
        f->pid = tp_format_field(fmt, "pid");
        f->clone_flags = tp_format_field(fmt, "clone_flags");
        f->comm = tp_format_field(fmt, "comm");
        return f->pid && f->pid->size == 4 && f->clone_flags && f->clone_flags->size >= 4 &&
                       f->comm && f->comm->size == 16
                   ? 0
                   : -1;
    case PERF_BPF_TASK_EXIT:
        f->group_dead = tp_format_field(fmt, "group_dead"); /* not before 6.16 */
        return 0;
    case PERF_BPF_EXEC:
        f->old_pid = tp_format_field(fmt, "old_pid");
        return f->old_pid && f->old_pid->size == 4 ? 0 : -1;
    case PERF_BPF_RENAME:
        f->pid = tp_format_field(fmt, "pid");
        f->comm = tp_format_field(fmt, "newcomm");
        return (!f->pid || f->pid->size == 4) && f->comm && f->comm->size == 16 ? 0 : -1;
    }
    return -1;
}

/* Before the record: the mmap length filter, or following a new process. */
static void emit_before(struct prog *p, const struct perf_bpf_refs *b,
                        const struct perf_bpf_plan *plan, const struct fields *f)
{
    if (plan->size_filter && b->min_size) {
        load(p, BPF_DW, BPF_REG_1, BPF_REG_6, (int16_t)f->len->offset);
        imm64(p, BPF_REG_2, 0, b->min_size);
        jump_reg(p, BPF_JGE, BPF_REG_1, BPF_REG_2, L_KEEP);
        /* MAP_FIXED passes whatever its size: it may replace a region. */
        load(p, BPF_DW, BPF_REG_1, BPF_REG_6, (int16_t)f->flags->offset);
        alu_imm(p, BPF_AND, BPF_REG_1, MAP_FIXED_FLAG);
        jump_imm(p, BPF_JNE, BPF_REG_1, 0, L_KEEP);
        jump_imm(p, BPF_JA, 0, 0, L_OUT);
        place(p, L_KEEP);
    }
    if (plan->kind == PERF_BPF_NEWTASK) {
        /* A new process is followed before it can run: the program runs in
         * copy_process, before the child is woken. */
        mov_imm(p, BPF_REG_9, 0);
        load(p, size_code(f->clone_flags->size > 4 ? 8 : 4), BPF_REG_1, BPF_REG_6,
             (int16_t)f->clone_flags->offset);
        alu_imm(p, BPF_AND, BPF_REG_1, CLONE_THREAD_FLAG);
        jump_imm(p, BPF_JNE, BPF_REG_1, 0, L_RECORD);
        load(p, BPF_W, BPF_REG_1, BPF_REG_6, (int16_t)f->pid->offset);
        store(p, BPF_W, BPF_REG_10, -8, BPF_REG_1);
        store_imm(p, BPF_W, BPF_REG_10, -12, 1);
        load_map(p, BPF_REG_1, b->followed_fd);
        mov_reg(p, BPF_REG_2, BPF_REG_10);
        alu_imm(p, BPF_ADD, BPF_REG_2, -8);
        mov_reg(p, BPF_REG_3, BPF_REG_10);
        alu_imm(p, BPF_ADD, BPF_REG_3, -12);
        mov_imm(p, BPF_REG_4, BPF_ANY);
        call(p, BPF_FUNC_map_update_elem);
        mov_reg(p, BPF_REG_9, BPF_REG_0);
        place(p, L_RECORD);
    }
}

/* The record's body (r8: the record, r6: the tracepoint's context). */
static void emit_body(struct prog *p, const struct perf_bpf_plan *plan, const struct fields *f)
{
    switch (plan->kind) {
    case PERF_BPF_ENTER:
        copy_field(p, f->nr, 4, 4);
        for (unsigned i = 0; i < f->nargs; i++)
            copy_field(p, f->args[i], 8, (int16_t)REC_WORD(i));
        break;
    case PERF_BPF_EXIT:
        copy_field(p, f->nr, 4, 4);
        copy_field(p, f->ret, 8, REC_WORD(0));
        break;
    case PERF_BPF_NEWTASK:
        copy_field(p, f->pid, 4, 4);
        copy_field(p, f->clone_flags, f->clone_flags->size > 8 ? 8 : f->clone_flags->size,
                   REC_WORD(0));
        copy_field(p, f->comm, 16, REC_WORD(1));
        store(p, BPF_DW, BPF_REG_8, REC_WORD(3), BPF_REG_9);
        break;
    case PERF_BPF_TASK_EXIT:
        if (f->group_dead)
            copy_field(p, f->group_dead, 1, 4);
        else
            store_imm(p, BPF_W, BPF_REG_8, 4, -1);
        break;
    case PERF_BPF_EXEC:
        copy_field(p, f->old_pid, 4, 4);
        mov_reg(p, BPF_REG_1, BPF_REG_10);
        alu_imm(p, BPF_ADD, BPF_REG_1, -32);
        mov_imm(p, BPF_REG_2, 16);
        call(p, BPF_FUNC_get_current_comm);
        load(p, BPF_DW, BPF_REG_1, BPF_REG_10, -32);
        store(p, BPF_DW, BPF_REG_8, REC_WORD(1), BPF_REG_1);
        load(p, BPF_DW, BPF_REG_1, BPF_REG_10, -24);
        store(p, BPF_DW, BPF_REG_8, REC_WORD(2), BPF_REG_1);
        break;
    case PERF_BPF_RENAME:
        if (f->pid)
            copy_field(p, f->pid, 4, 4);
        else
            store(p, BPF_W, BPF_REG_8, 4, BPF_REG_7); /* the low half: the tid */
        copy_field(p, f->comm, 16, REC_WORD(1));
        break;
    }
}

/* r0 = the value of the 32-bit key in r1 in map_fd, or 0; the key goes
 * through the stack at offset at. */
static void lookup_r1(struct prog *p, int map_fd, int16_t at)
{
    store(p, BPF_W, BPF_REG_10, at, BPF_REG_1);
    load_map(p, BPF_REG_1, map_fd);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    alu_imm(p, BPF_ADD, BPF_REG_2, at);
    call(p, BPF_FUNC_map_lookup_elem);
}

/* r0 = the caller's drop bucket in the drops map (r7: pid_tgid), or 0
 * (never: the index is in range, but the verifier wants the check). */
static void lookup_bucket(struct prog *p, const struct perf_bpf_refs *b)
{
    mov_reg(p, BPF_REG_1, BPF_REG_7);
    alu_imm(p, BPF_AND, BPF_REG_1, PERF_BPF_DROP_BUCKETS - 1);
    alu_imm(p, BPF_ADD, BPF_REG_1, 1);
    lookup_r1(p, b->drops_fd, -8);
}

/* *r0 += 1, atomically (other CPUs count too), unless r0 is 0; `after`
 * is placed after it. */
static void add_one_to_r0(struct prog *p, enum label after)
{
    jump_imm(p, BPF_JEQ, BPF_REG_0, 0, after);
    mov_imm(p, BPF_REG_1, 1);
    ins(p, BPF_STX | BPF_DW | BPF_ATOMIC, BPF_REG_0, BPF_REG_1, 0, BPF_ADD);
    place(p, after);
}

/*
 *   r6 = ctx; r7 = pid_tgid; the followed map asked for the tgid, out if
 *   absent; [the filter or the follow]; r8 = a record reserved in the ring
 *   (or the drop counters bumped: the total, the thread's bucket); header,
 *   zeroed words, the thread's drop mark, body, time;
 *   submitted, waking the reader only once the ring is half full.
 */
static int assemble(struct prog *p, const struct perf_bpf_refs *b,
                    const struct perf_bpf_plan *plan, const struct fields *f)
{
    memset(p, 0, sizeof *p);
    for (int l = 0; l < NLABELS; l++)
        p->label[l] = -1;
    mov_reg(p, BPF_REG_6, BPF_REG_1);
    call(p, BPF_FUNC_get_current_pid_tgid);
    mov_reg(p, BPF_REG_7, BPF_REG_0);
    mov_reg(p, BPF_REG_1, BPF_REG_0);
    alu_imm(p, BPF_RSH, BPF_REG_1, 32);
    lookup_r1(p, b->followed_fd, -4);
    jump_imm(p, BPF_JEQ, BPF_REG_0, 0, L_OUT);
    emit_before(p, b, plan, f);
    load_map(p, BPF_REG_1, b->ring_fd);
    mov_imm(p, BPF_REG_2, sizeof(struct perf_bpf_rec));
    mov_imm(p, BPF_REG_3, 0);
    call(p, BPF_FUNC_ringbuf_reserve);
    jump_imm(p, BPF_JEQ, BPF_REG_0, 0, L_DROP);
    mov_reg(p, BPF_REG_8, BPF_REG_0);
    bool gate = b->stack_gate && plan->stacked;
    store_imm(p, BPF_W, BPF_REG_8, 0,
              (int32_t)(plan->kind | (gate ? PERF_BPF_REC_STACKED : 0)));
    store_imm(p, BPF_W, BPF_REG_8, 4, 0);
    store(p, BPF_DW, BPF_REG_8, 16, BPF_REG_7);
    for (int i = 0; i < 6; i++)
        store_imm(p, BPF_DW, BPF_REG_8, (int16_t)REC_WORD(i), 0);
    lookup_bucket(p, b);
    mov_imm(p, BPF_REG_1, 0);
    jump_imm(p, BPF_JEQ, BPF_REG_0, 0, L_MARKED);
    load(p, BPF_DW, BPF_REG_1, BPF_REG_0, 0);
    place(p, L_MARKED);
    store(p, BPF_DW, BPF_REG_8, REC_DROP_MARK, BPF_REG_1);
    emit_body(p, plan, f);
    call(p, BPF_FUNC_ktime_get_ns);
    store(p, BPF_DW, BPF_REG_8, 8, BPF_REG_0);
    load_map(p, BPF_REG_1, b->ring_fd);
    mov_imm(p, BPF_REG_2, BPF_RB_AVAIL_DATA);
    call(p, BPF_FUNC_ringbuf_query);
    mov_imm(p, BPF_REG_2, BPF_RB_NO_WAKEUP);
    jump_imm(p, BPF_JLT, BPF_REG_0, (int32_t)(b->ring_bytes / 2), L_SUBMIT);
    mov_imm(p, BPF_REG_2, BPF_RB_FORCE_WAKEUP);
    place(p, L_SUBMIT);
    mov_reg(p, BPF_REG_1, BPF_REG_8);
    call(p, BPF_FUNC_ringbuf_submit);
    if (gate) {
        /* Written: the stack watch's events take their sample of it. */
        mov_imm(p, BPF_REG_0, 1);
        ins(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    place(p, L_OUT);
    /* 1: the perf events on this tracepoint take their samples as if no
     * program were there (0 would drop them: another tool's, and the exec
     * watch's); gated, 0: a call not written is not sampled. */
    mov_imm(p, BPF_REG_0, gate ? 0 : 1);
    ins(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    place(p, L_DROP);
    mov_imm(p, BPF_REG_1, 0);
    lookup_r1(p, b->drops_fd, -8);
    add_one_to_r0(p, L_TOTAL_COUNTED);
    lookup_bucket(p, b);
    add_one_to_r0(p, L_COUNTED);
    jump_imm(p, BPF_JA, 0, 0, L_OUT);
    return link_prog(p);
}

int perf_bpf_assemble(const struct perf_bpf_plan *plan, const struct tp_format *fmt,
                      const struct perf_bpf_refs *refs, struct perf_bpf_insns *out)
{
    struct fields f;
    struct prog p;
    if (find_fields(plan, fmt, &f) < 0 || assemble(&p, refs, plan, &f) < 0)
        return -1;
    memcpy(out->insn, p.insn, p.n * sizeof p.insn[0]);
    out->n = p.n;
    return 0;
}
