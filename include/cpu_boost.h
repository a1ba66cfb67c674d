/*
 * cpu_boost: the calling thread's scheduling priority raised for a burst
 * of work that the target's own threads would otherwise delay, and put
 * back afterwards.
 *
 * Why: attaching to or detaching from a process whose threads never stop
 * running means competing with all of them for the CPUs. A tracer at the
 * default priority waits behind every runnable thread of the target each
 * time it wakes up (about one round of the scheduler over 1,500 threads:
 * up to a second on 2 CPUs), and an attach wakes it up often. At nice
 * -20 it runs as soon as it is runnable, and it needs little CPU itself.
 *
 * With the ptrace source, the loop raises it from its set-up until the
 * first attach is done, for each later attach, and from the start of the
 * detach until it exits (nothing but letting go and exiting is left
 * then); while it traces, it runs at the priority it was started with.
 *
 * Only the calling thread changes (Linux nice values are per thread):
 * dump workers keep theirs. Needs CAP_SYS_NICE (or RLIMIT_NICE); without
 * it nothing changes and -v says so once.
 *
 * Threads: each boost belongs to the thread that began it.
 */
#ifndef MMAPWATCH_CPU_BOOST_H
#define MMAPWATCH_CPU_BOOST_H

#include <stdbool.h>

struct cpu_boost {
    bool active;     /* raised by us, to be put back */
    int saved_nice;  /* the value to put back */
};

/* Raises the calling thread to nice -20 unless b is active already. */
void cpu_boost_begin(struct cpu_boost *b);

/* Puts back the nice value cpu_boost_begin() found; nothing if not active. */
void cpu_boost_end(struct cpu_boost *b);

#endif
