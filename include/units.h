/*
 * units: SIZE and DUR as people type them ("16M", "1.5M", "500ms", "30s"),
 * parsed strictly, and byte counts formatted for people ("16.0 MiB").
 *
 * Pure functions: no state, nothing printed (each caller words its own
 * one-line error from the units_error it gets), callable from any thread.
 * Each parser gives true (UNITS_OK) with *out set, or false (another
 * units_error) with *out untouched.
 */
#ifndef MMAPWATCH_UNITS_H
#define MMAPWATCH_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* The longest DUR accepted: 100 years of 365 days. Any longer one could
 * overflow a deadline (now + DUR in nanoseconds) and fire at once. */
#define UNITS_DURATION_MAX_NS (876000ULL * 3600ULL * 1000000000ULL)

enum units_error {
    UNITS_OK,
    UNITS_MALFORMED,
    UNITS_NEGATIVE,
    UNITS_TOO_LARGE,
};

/* "4096", "4k", "4K", "4KiB", "16M", "16MiB", "1G", "1.5M" (powers of 1024,
 * suffixes in any case, rounded down to a whole byte); at most 2^64 - 1. */
enum units_error units_size(const char *text, uint64_t *bytes);

/* "0", "500ms", "2s", "1.5s", "1m", "1h" (units ns, us, ms, s, m, h, exact
 * case); a bare number is seconds; at most UNITS_DURATION_MAX_NS. */
enum units_error units_duration(const char *text, uint64_t *nanoseconds);

/* The same, for callers that only need to know whether it parsed. */
bool parse_size(const char *text, uint64_t *bytes);
bool parse_duration(const char *text, uint64_t *nanoseconds);

/* Formats a byte count for people: "16.0 MiB", "4.0 KiB", "512 B". */
const char *format_size(uint64_t bytes, char *buf, unsigned size);

#endif
