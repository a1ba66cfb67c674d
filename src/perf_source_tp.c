/*
 * perf_source_tp: which tracepoints the perf source reads (the raw layout
 * of calls, or the per-call one), their formats and their kernel filters.
 * See include/perf_source_internal.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "perf_source_internal.h"

/* The per-call layout (--perf-calls syscalls): a pair of tracepoints per
 * call, --min-size a kernel filter on sys_enter_mmap. */
static const struct tp_spec PER_CALL[] = {
    {"syscalls/sys_enter_mmap", TP_ENTER, false, true, false, false, 0},
    {"syscalls/sys_exit_mmap", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_munmap", TP_ENTER, false, false, true, false, 0},
    {"syscalls/sys_exit_munmap", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_mremap", TP_ENTER, false, false, false, false, 0},
    {"syscalls/sys_exit_mremap", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_mprotect", TP_ENTER, false, false, false, false, 0},
    {"syscalls/sys_exit_mprotect", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_pkey_mprotect", TP_ENTER, false, false, false, false, 0},
    {"syscalls/sys_exit_pkey_mprotect", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_brk", TP_ENTER, false, false, false, false, 0},
    {"syscalls/sys_exit_brk", TP_EXIT, false, false, false, false, 0},
    {"syscalls/sys_enter_execve", TP_ENTER, true, false, false, false, 0},
    {"syscalls/sys_enter_execveat", TP_ENTER, true, false, false, false, 0},
    /* the exit status of a process reaped before its last exit record is
     * read (a parent waiting for it) */
    {"syscalls/sys_enter_exit_group", TP_ENTER, false, false, true, false, 0},
    /* the clone flags of a new process: whether it shares its parent's
     * memory (vfork), which the FORK record does not say */
    {"task/task_newtask", TP_NEWTASK, false, false, false, false, 0},
};
_Static_assert(sizeof PER_CALL / sizeof PER_CALL[0] == NTP, "NTP counts PER_CALL");

/* The raw layout (the default): every call through raw_syscalls, each event
 * filtered on the syscall number (perf_rawsys.h). With -k the entries are
 * two events, so that the calls never reported with a stack copy none. */
static const struct tp_spec RAW[] = {
    {"raw_syscalls/sys_enter", TP_ENTER, false, false, false, true, RAWSYS_ENTER_ALL},
    {"raw_syscalls/sys_exit", TP_EXIT, false, false, false, true, RAWSYS_EXIT},
    {"task/task_newtask", TP_NEWTASK, false, false, false, false, 0},
};
static const struct tp_spec RAW_STACKS[] = {
    {"raw_syscalls/sys_enter", TP_ENTER, false, false, false, true, RAWSYS_ENTER_STACKED},
    {"raw_syscalls/sys_enter", TP_ENTER, false, false, true, true, RAWSYS_ENTER_PLAIN},
    {"raw_syscalls/sys_exit", TP_EXIT, false, false, false, true, RAWSYS_EXIT},
    {"task/task_newtask", TP_NEWTASK, false, false, false, false, 0},
};

/* Finds the fields a record is read with, from the parsed format. */
int perf_source_tp_resolve(struct tp_info *t)
{
    if (t->spec->role == TP_NEWTASK) {
        t->child = tp_format_field(&t->fmt, "pid");
        t->clone_flags = tp_format_field(&t->fmt, "clone_flags");
        return t->child && t->clone_flags ? 0 : -1;
    }
    t->nr = tp_format_field(&t->fmt, t->spec->raw ? "id" : "__syscall_nr");
    if (!t->nr)
        return -1;
    if (t->spec->role == TP_EXIT) {
        t->ret = tp_format_field(&t->fmt, "ret");
        return t->ret ? 0 : -1;
    }
    if (t->spec->raw) {
        /* "unsigned long args[6]": one field of six words. */
        const struct tp_field *a = tp_format_field(&t->fmt, "args");
        if (!a || a->size != 6 * sizeof(uint64_t))
            return -1;
        for (unsigned i = 0; i < 6; i++) {
            t->raw_args[i] = *a;
            t->raw_args[i].offset = (uint16_t)(a->offset + i * sizeof(uint64_t));
            t->raw_args[i].size = sizeof(uint64_t);
            t->args[i] = &t->raw_args[i];
        }
        t->nargs = 6;
        return 0;
    }
    /* The arguments are the fields after the number, in offset order. */
    for (size_t i = 0; i < t->fmt.nfields && t->nargs < 6; i++)
        if (t->fmt.fields[i].offset > t->nr->offset)
            t->args[t->nargs++] = &t->fmt.fields[i];
    return 0;
}

/* The table of the layout of calls asked for. */
static void choose_table(struct perf_source *s)
{
    if (s->per_call) {
        s->table = PER_CALL;
        s->table_size = NTP;
    } else if (s->opt.stacks) {
        s->table = RAW_STACKS;
        s->table_size = (unsigned)(sizeof RAW_STACKS / sizeof RAW_STACKS[0]);
    } else {
        s->table = RAW;
        s->table_size = (unsigned)(sizeof RAW / sizeof RAW[0]);
    }
}

int perf_source_load_tracepoints(struct perf_source *s, bool *private_mount, char *why, size_t size)
{
    const char *names[NTP];
    static struct tp_format fmts[NTP];
    choose_table(s);
    for (size_t i = 0; i < s->table_size; i++)
        names[i] = s->table[i].path;
    if (tracefs_load(names, s->table_size, fmts, private_mount, why, size) < 0)
        return -1;
    s->ntps = 0;
    for (size_t i = 0; i < s->table_size; i++) {
        if (fmts[i].id == 0)
            continue; /* not on this kernel (pkey_mprotect on old ones) */
        struct tp_info *t = &s->tps[s->ntps];
        memset(t, 0, sizeof *t);
        t->spec = &s->table[i];
        t->fmt = fmts[i];
        if (perf_source_tp_resolve(t) < 0) {
            snprintf(why, size, "tracepoint '%s' has not the fields this version reads "
                                "(__syscall_nr or id, args, ret)", s->table[i].path);
            return -1;
        }
        s->ntps++;
    }
    if (s->ntps == 0 || s->tps[0].spec != &s->table[0]) {
        snprintf(why, size, "this kernel has no syscall tracepoints "
                            "(CONFIG_FTRACE_SYSCALLS): use --source ptrace");
        return -1;
    }
    return 0;
}

/* The kernel filter of tracepoint t into out: 1, 0 when it takes none, -1
 * when it does not fit (a raw event is never opened unfiltered: it would
 * sample every system call). */
int perf_source_tp_filter(const struct perf_source *s, const struct tp_info *t, char *out,
                     size_t size)
{
    if (t->spec->raw)
        return perf_rawsys_filter(t->spec->calls, out, size) == 0 ? 1 : -1;
    if (!t->spec->size_filter || !s->opt.min_size)
        return 0;
    /* MAP_FIXED (0x10) mmaps pass whatever their size: they can replace
     * part of a region already reported. */
    snprintf(out, size, "len >= %" PRIu64 " || flags & 16", s->opt.min_size);
    return 1;
}

