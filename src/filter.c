/*
 * filter: launch mode's seccomp program, built with libseccomp.
 * See include/filter.h.
 */
#include "filter.h"

#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "syscalls.h"

/* The program is exported to plain BPF in the parent: the fork child that
 * loads it must not allocate (another thread of ours, the dump worker,
 * may hold an allocator lock at the moment of the fork). */
struct map_filter {
    scmp_filter_ctx ctx;
    struct sock_filter *insns;
    unsigned short ninsns;
};

/* Exports ctx's program as BPF instructions through a memfd. */
static int export_program(struct map_filter *f)
{
    int fd = memfd_create("mmapwatch-filter", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = seccomp_export_bpf(f->ctx, fd);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (rc == 0 && (size <= 0 || size % (off_t)sizeof *f->insns != 0 ||
                    size / (off_t)sizeof *f->insns > USHRT_MAX))
        rc = -EINVAL;
    if (rc == 0 && !(f->insns = malloc((size_t)size)))
        rc = -ENOMEM;
    if (rc == 0 && pread(fd, f->insns, (size_t)size, 0) != size)
        rc = -EIO;
    if (rc == 0)
        f->ninsns = (unsigned short)(size / (off_t)sizeof *f->insns);
    close(fd);
    return rc;
}

static int add_trace(scmp_filter_ctx ctx, int nr, unsigned nargs, const struct scmp_arg_cmp *args)
{
    return seccomp_rule_add_array(ctx, SCMP_ACT_TRACE(0), nr, nargs, args);
}

/* A context for one arch with the attributes every context of the filter
 * must share (seccomp_merge insists on identical attributes). */
static scmp_filter_ctx new_context(uint32_t arch)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return NULL;
    int rc = 0;
    if (arch != SCMP_ARCH_NATIVE) {
        rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
        rc = rc ? rc : seccomp_arch_add(ctx, arch);
    }
    /* Syscalls of an arch the filter does not know (x32) run unfiltered:
     * the default would kill the process, which is never acceptable. */
    rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    /* no_new_privs stays off (setuid programs in the command behave as
     * they do untraced) unless the kernel demands it: filter_load. */
    rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (rc) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* libseccomp takes a rule's syscall by the native number (or a negative
 * pseudo number for calls the native arch lacks, such as mmap2) and
 * translates it for each arch of the context: our table's number of arch,
 * through its name, becomes that. __NR_SCMP_ERROR when libseccomp does
 * not know it. */
static int seccomp_nr(uint32_t scmp_arch, long nr)
{
    char *name = seccomp_syscall_resolve_num_arch(scmp_arch, (int)nr);
    if (!name)
        return __NR_SCMP_ERROR;
    int native = seccomp_syscall_resolve_name(name);
    free(name);
    return native;
}

/* The rules of one arch, from the syscall table's (syscalls.h): a call
 * stops unless its arguments alone say it cannot be reported
 * (syscall_report_need), the same rule the model applies at entry. */
static int add_rules(scmp_filter_ctx ctx, uint32_t arch, uint32_t scmp_arch, uint64_t min_size,
                     uint64_t max_size, bool trap_exec)
{
    int rc = 0;
    for (int id = SC_NONE + 1; id < SC_COUNT && rc == 0; id++) {
        const struct syscall_rule *rule = &syscall_desc((enum syscall_id)id)->rule;
        long nr = syscall_number(arch, (enum syscall_id)id);
        bool wanted = rule->touches || rule->grows || (rule->ends_space && trap_exec);
        if (!wanted || nr < 0)
            continue;
        int snr = seccomp_nr(scmp_arch, nr);
        if (snr == __NR_SCMP_ERROR)
            return -ENOSYS;
        if (min_size == 0 || rule->fixed_arg < 0) {
            /* Any of these may touch a reported region, whatever its size. */
            rc = add_trace(ctx, snr, 0, NULL);
            continue;
        }
        /* Two rules for one syscall are ORed: large mappings, and fixed ones
         * (which may replace part of a reported region). */
        struct scmp_arg_cmp large = {.arg = (unsigned)rule->len_arg, .op = SCMP_CMP_GE,
                                     .datum_a = min_size};
        struct scmp_arg_cmp fixed = {.arg = (unsigned)rule->fixed_arg,
                                     .op = SCMP_CMP_MASKED_EQ, .datum_a = MAP_FIXED,
                                     .datum_b = MAP_FIXED};
        /* --max-size stays in the model: libseccomp takes one comparison
         * per argument in a rule (EINVAL for len >= min and len <= max),
         * and rules are ORed. Larger mmaps stop, and are not reported. */
        (void)max_size;
        if (rule->len_arg >= 0)
            rc = add_trace(ctx, snr, 1, &large);
        rc = rc ? rc : add_trace(ctx, snr, 1, &fixed);
    }
    return rc;
}

struct map_filter *filter_build(uint64_t min_size, uint64_t max_size, bool trap_exec)
{
    struct map_filter *f = calloc(1, sizeof *f);
    scmp_filter_ctx compat = NULL;
    int rc = -ENOMEM;
    if (!f)
        goto fail;
    f->ctx = new_context(SCMP_ARCH_NATIVE);
    /* 32-bit programs (and int $0x80 in 64-bit ones) use i386 numbers:
     * a context of their own, merged in. */
    compat = new_context(SCMP_ARCH_X86);
    if (!f->ctx || !compat)
        goto fail;
    rc = add_rules(f->ctx, SYSCALL_ARCH_X86_64, SCMP_ARCH_X86_64, min_size, max_size, trap_exec);
    rc = rc ? rc : add_rules(compat, SYSCALL_ARCH_I386, SCMP_ARCH_X86, min_size, max_size, trap_exec);
    rc = rc ? rc : seccomp_merge(f->ctx, compat);
    if (rc)
        goto fail;
    compat = NULL; /* the merge consumed it */
    if ((rc = export_program(f)) != 0)
        goto fail;
    return f;
fail:
    log_error("cannot build the seccomp filter: %s", strerror(-rc));
    if (compat)
        seccomp_release(compat);
    filter_free(f);
    return NULL;
}

static int install(struct sock_fprog *prog)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    /* The seccomp() call is newer than the prctl (and valgrind, for one,
     * does not know it). */
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) == 0 ? 0 : -1;
}

int filter_load(struct map_filter *filter)
{
    /* Only system calls here: this runs between fork and exec. */
    struct sock_fprog prog = {.len = filter->ninsns, .filter = filter->insns};
    if (install(&prog) == 0)
        return 0;
    if (errno != EACCES)
        return -1;
    /* Without CAP_SYS_ADMIN the kernel insists on no_new_privs. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return install(&prog);
}

void filter_free(struct map_filter *filter)
{
    if (!filter)
        return;
    if (filter->ctx)
        seccomp_release(filter->ctx);
    free(filter->insns);
    free(filter);
}
