/*
 * filter: launch mode's seccomp program, built with libseccomp.
 * See include/filter.h.
 */
#include "filter.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

struct map_filter {
    scmp_filter_ctx ctx;
};

static int add_trace(scmp_filter_ctx ctx, int nr, unsigned nargs, const struct scmp_arg_cmp *args)
{
    return seccomp_rule_add_array(ctx, SCMP_ACT_TRACE(0), nr, nargs, args);
}

struct map_filter *filter_build(uint64_t min_size)
{
    struct map_filter *f = calloc(1, sizeof *f);
    if (!f) {
        log_error("cannot build the seccomp filter: out of memory");
        return NULL;
    }
    f->ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!f->ctx) {
        log_error("cannot build the seccomp filter: seccomp_init failed");
        free(f);
        return NULL;
    }
    int rc = 0;
    /* Syscalls of a foreign arch (32-bit programs) run unfiltered: the
     * default would kill the process, which is never acceptable. */
    rc = rc ? rc : seccomp_attr_set(f->ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    /* As root, leave no_new_privs off so setuid programs in the command
     * behave as they do untraced; filter_load retries with it on. */
    rc = rc ? rc : seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_NNP, geteuid() != 0);

    if (min_size == 0) {
        rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(mmap), 0, NULL);
    } else {
        /* Two rules for one syscall are ORed: large mappings, and fixed ones
         * (which may replace part of a reported region). */
        struct scmp_arg_cmp large = SCMP_A1(SCMP_CMP_GE, min_size);
        struct scmp_arg_cmp fixed = SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_FIXED, MAP_FIXED);
        rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(mmap), 1, &large);
        rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(mmap), 1, &fixed);
    }
    /* Any of these may touch a reported region, whatever their size. */
    rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(munmap), 0, NULL);
    rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(mremap), 0, NULL);
    rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(mprotect), 0, NULL);
    rc = rc ? rc : add_trace(f->ctx, SCMP_SYS(pkey_mprotect), 0, NULL);
    if (rc) {
        log_error("cannot build the seccomp filter: %s", strerror(-rc));
        filter_free(f);
        return NULL;
    }
    return f;
}

int filter_load(struct map_filter *filter)
{
    int rc = seccomp_load(filter->ctx);
    if (rc == -EACCES || rc == -EPERM) {
        /* Without CAP_SYS_ADMIN the kernel insists on no_new_privs. */
        seccomp_attr_set(filter->ctx, SCMP_FLTATR_CTL_NNP, 1);
        rc = seccomp_load(filter->ctx);
    }
    if (rc) {
        errno = -rc;
        return -1;
    }
    return 0;
}

void filter_free(struct map_filter *filter)
{
    if (!filter)
        return;
    seccomp_release(filter->ctx);
    free(filter);
}
