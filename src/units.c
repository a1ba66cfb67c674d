/*
 * units: sizes and durations as people type them, parsed strictly, and
 * byte counts formatted for people. See include/units.h.
 *
 * Numbers are parsed by hand: sscanf/strtod would accept whitespace, signs,
 * hex and exponents, and binary floating point cannot give 1.5M exactly.
 */
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>


/* More fractional digits than this would overflow the arithmetic below;
 * nobody types them, so they are refused rather than silently dropped. */
#define FRAC_DIGITS_MAX 18

struct decimal {
    uint64_t whole;
    uint64_t frac;  /* the digits after the point, as an integer */
    uint64_t scale; /* 10^(number of those digits); 1 when there are none */
};

/* digits [ "." digits ] at *p, advancing *p past them. */
static enum units_error parse_decimal(const char **p, struct decimal *d)
{
    const char *s = *p;
    d->whole = 0;
    d->frac = 0;
    d->scale = 1;

    if (*s == '-')
        return UNITS_NEGATIVE;
    if (*s < '0' || *s > '9')
        return UNITS_MALFORMED;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (d->whole > (UINT64_MAX - digit) / 10)
            return UNITS_TOO_LARGE;
        d->whole = d->whole * 10 + digit;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return UNITS_MALFORMED;
        for (int n = 0; *s >= '0' && *s <= '9'; s++, n++) {
            if (n == FRAC_DIGITS_MAX)
                return UNITS_MALFORMED;
            d->frac = d->frac * 10 + (uint64_t)(*s - '0');
            d->scale *= 10;
        }
    }
    *p = s;
    return UNITS_OK;
}

/* floor(frac * mult / scale) for frac < scale <= 10^18, exact in 64 bits:
 * long multiplication over the bits of mult keeping the remainder below
 * scale, so no intermediate exceeds 2 * 10^18. */
static uint64_t frac_times(uint64_t frac, uint64_t mult, uint64_t scale)
{
    uint64_t q = 0, r = 0;
    for (int bit = 63; bit >= 0; bit--) {
        q <<= 1;
        r <<= 1;
        if (r >= scale) {
            r -= scale;
            q++;
        }
        if ((mult >> bit) & 1) {
            r += frac;
            if (r >= scale) {
                r -= scale;
                q++;
            }
        }
    }
    return q;
}

static enum units_error scale_decimal(const struct decimal *d, uint64_t mult, uint64_t *out)
{
    if (mult != 0 && d->whole > UINT64_MAX / mult)
        return UNITS_TOO_LARGE;
    uint64_t total = d->whole * mult;
    uint64_t part = frac_times(d->frac, mult, d->scale);
    if (part > UINT64_MAX - total)
        return UNITS_TOO_LARGE;
    *out = total + part;
    return UNITS_OK;
}

struct unit {
    const char *suffix;
    uint64_t mult;
};

/* Matched case-insensitively: "4k" and "4K", "16M" and "16m" all mean the
 * same, since a size has no milli- to be confused with. */
static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ULL << 10}, {"kb", 1ULL << 10}, {"kib", 1ULL << 10},
    {"m", 1ULL << 20}, {"mb", 1ULL << 20}, {"mib", 1ULL << 20},
    {"g", 1ULL << 30}, {"gb", 1ULL << 30}, {"gib", 1ULL << 30},
    {"t", 1ULL << 40}, {"tb", 1ULL << 40}, {"tib", 1ULL << 40},
};

/* Matched exactly: "m" is minutes and "ms" milliseconds. */
static const struct unit duration_units[] = {
    {"", 1000000000ULL},
    {"ns", 1},
    {"us", 1000ULL},
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

static enum units_error parse_with_units(const char *text, const struct unit *units,
                                       size_t nunits, bool ignore_case, uint64_t *out)
{
    if (!text)
        return UNITS_MALFORMED;
    const char *p = text;
    struct decimal d;
    enum units_error err = parse_decimal(&p, &d);
    if (err != UNITS_OK)
        return err;
    for (size_t i = 0; i < nunits; i++) {
        bool same = ignore_case ? strcasecmp(p, units[i].suffix) == 0
                                : strcmp(p, units[i].suffix) == 0;
        if (same)
            return scale_decimal(&d, units[i].mult, out);
    }
    return UNITS_MALFORMED;
}

enum units_error units_size(const char *text, uint64_t *bytes)
{
    return parse_with_units(text, size_units, sizeof size_units / sizeof size_units[0],
                            true, bytes);
}

/* Every duration becomes a deadline, now + DUR, on a clock that already
 * reads about 1.8e18 ns since 1970: a DUR near 2^64 ns would wrap around
 * to a deadline in the past ("--delay 18446742450s" dumped at once). */
enum units_error units_duration(const char *text, uint64_t *ns)
{
    uint64_t v;
    enum units_error err = parse_with_units(text, duration_units,
                                          sizeof duration_units / sizeof duration_units[0],
                                          false, &v);
    if (err == UNITS_OK && v > UNITS_DURATION_MAX_NS)
        err = UNITS_TOO_LARGE;
    if (err == UNITS_OK)
        *ns = v;
    return err;
}

bool parse_size(const char *text, uint64_t *bytes)
{
    return units_size(text, bytes) == UNITS_OK;
}

bool parse_duration(const char *text, uint64_t *nanoseconds)
{
    return units_duration(text, nanoseconds) == UNITS_OK;
}

const char *format_size(uint64_t bytes, char *buf, unsigned size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!buf || size == 0)
        return buf;
    if (bytes < 1024) {
        snprintf(buf, size, "%u B", (unsigned)bytes);
        return buf;
    }
    unsigned u = 0;
    uint64_t unit = 1024;
    while (u + 1 < sizeof units / sizeof units[0] && bytes / unit >= 1024) {
        unit <<= 10;
        u++;
    }
    /* Round to the nearest tenth in integers; rem * 10 cannot overflow
     * because rem < unit <= 2^60. */
    uint64_t whole = bytes / unit;
    uint64_t tenths = ((bytes % unit) * 10 + unit / 2) / unit;
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    /* 1023.96 KiB rounds to 1024.0 KiB: say 1.0 MiB instead. */
    if (whole == 1024 && u + 1 < sizeof units / sizeof units[0]) {
        whole = 1;
        u++;
    }
    snprintf(buf, size, "%u.%u %s", (unsigned)whole, (unsigned)tenths, units[u]);
    return buf;
}
