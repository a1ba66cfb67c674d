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

/* The rules of one arch. mmap_nr is the mmap whose second argument is the
 * length (x86_64 mmap, i386 mmap2). */
static int add_rules(scmp_filter_ctx ctx, int mmap_nr, uint64_t min_size, bool trap_exec)
{
    int rc = 0;
    if (min_size == 0) {
        rc = add_trace(ctx, mmap_nr, 0, NULL);
    } else {
        /* Two rules for one syscall are ORed: large mappings, and fixed ones
         * (which may replace part of a reported region). */
        struct scmp_arg_cmp large = SCMP_A1(SCMP_CMP_GE, min_size);
        struct scmp_arg_cmp fixed = SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_FIXED, MAP_FIXED);
        rc = add_trace(ctx, mmap_nr, 1, &large);
        rc = rc ? rc : add_trace(ctx, mmap_nr, 1, &fixed);
    }
    /* Any of these may touch a reported region, whatever their size. */
    rc = rc ? rc : add_trace(ctx, SCMP_SYS(munmap), 0, NULL);
    rc = rc ? rc : add_trace(ctx, SCMP_SYS(mremap), 0, NULL);
    rc = rc ? rc : add_trace(ctx, SCMP_SYS(mprotect), 0, NULL);
    rc = rc ? rc : add_trace(ctx, SCMP_SYS(pkey_mprotect), 0, NULL);
    if (trap_exec) {
        rc = rc ? rc : add_trace(ctx, SCMP_SYS(execve), 0, NULL);
        rc = rc ? rc : add_trace(ctx, SCMP_SYS(execveat), 0, NULL);
        rc = rc ? rc : add_trace(ctx, SCMP_SYS(exit_group), 0, NULL);
    }
    return rc;
}

struct map_filter *filter_build(uint64_t min_size, bool trap_exec)
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
    rc = add_rules(f->ctx, SCMP_SYS(mmap), min_size, trap_exec);
    rc = rc ? rc : add_rules(compat, SCMP_SYS(mmap2), min_size, trap_exec);
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
