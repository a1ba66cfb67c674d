/*
 * cpu_boost: see include/cpu_boost.h.
 */
#include "cpu_boost.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define BOOST_NICE (-20)

static id_t this_thread(void) { return (id_t)syscall(SYS_gettid); }

void cpu_boost_begin(struct cpu_boost *b)
{
    static bool refusal_said;
    if (b->active)
        return;
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, this_thread());
    if (nice_now == -1 && errno != 0)
        return;
    if (nice_now <= BOOST_NICE)
        return; /* already there: nothing to put back */
    if (setpriority(PRIO_PROCESS, this_thread(), BOOST_NICE) < 0) {
        if (!refusal_said)
            log_info("cannot raise our priority for attaching and detaching (%s): a target "
                     "whose threads keep the CPUs busy makes both slower",
                     strerror(errno));
        refusal_said = true;
        return;
    }
    b->saved_nice = nice_now;
    b->active = true;
}

void cpu_boost_end(struct cpu_boost *b)
{
    if (!b->active)
        return;
    if (setpriority(PRIO_PROCESS, this_thread(), b->saved_nice) < 0)
        log_warn("cannot put our priority back to nice %d: %s", b->saved_nice, strerror(errno));
    b->active = false;
}
