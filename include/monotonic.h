/*
 * monotonic: CLOCK_MONOTONIC now, in nanoseconds (base layer). The clock
 * of every event's time_ns and of the perf records' time stamps, so that
 * times from any source compare. Any thread may call.
 */
#ifndef MMAPWATCH_MONOTONIC_H
#define MMAPWATCH_MONOTONIC_H

#include <stdint.h>

uint64_t monotonic_ns(void);

#endif
