/*
 * marks: a high and a low mark on a memory usage, with hysteresis, for
 * --attach-above (attach when usage reaches the high mark, detach when it
 * falls below the low one) and --cgroup-threshold (whose low mark is its
 * high one: re-armed as soon as usage is back below).
 *
 * Why hysteresis: a JVM's usage hovers around any mark as its collector
 * frees and the application allocates again; with one mark, every wobble
 * would be an attach and a detach (a ptrace attach of 1,500 threads takes
 * seconds, and each one stops them all). The low mark defaults to
 * MARKS_LOW_PERCENT of the high one: a fall of a tenth is a trend, not a
 * collection's noise.
 *
 * Pure: no system calls, no globals (tests/unit/test_marks.c).
 */
#ifndef MMAPWATCH_MARKS_H
#define MMAPWATCH_MARKS_H

#include <stdbool.h>
#include <stdint.h>

/* The default low mark, in percent of the high one. */
#define MARKS_LOW_PERCENT 90

/* A mark as the user gave it: a size in bytes, or pct (1..100, then bytes
 * is ignored) percent of the cgroup's limit. */
struct mark {
    uint64_t bytes;
    unsigned pct;
};

/* Parses SIZE or PCT% (as --cgroup-threshold takes them). true, or false
 * after logging one line naming option. */
bool mark_parse(const char *text, const char *option, struct mark *out);

/* pct percent of limit, without overflow. */
uint64_t mark_percent_of(uint64_t limit, unsigned pct);

/* The mark in bytes against a cgroup's limit (UINT64_MAX: none). false
 * when it is a percentage and there is no limit, or it comes to 0. */
bool mark_resolve(const struct mark *m, uint64_t limit, uint64_t *bytes);

enum mark_change {
    MARK_SAME, /* no crossing */
    MARK_ROSE, /* usage reached the high mark (from below the low one) */
    MARK_FELL, /* usage fell below the low mark (from above the high one) */
};

/* One look at usage. *above is the state (true between a rise and the
 * next fall), updated. low <= high; between them the state holds.
 * recrossed: the kernel said usage crossed the high mark more than once
 * since the last look (low == high only): it went below and came back, a
 * fall and a new rise, reported as MARK_ROSE with *above staying true. */
enum mark_change marks_step(bool *above, uint64_t usage, uint64_t high, uint64_t low,
                            bool recrossed);

#endif
