/*
 * marks: --attach-above / --detach-below parsing, a mark against a
 * cgroup's limit, and the hysteresis state machine (attach at the high
 * mark, hold between the marks, detach below the low one; with one mark,
 * as --cgroup-threshold has, a dip and a return between two looks is a
 * new crossing).
 */
#include <stdio.h>

#include "marks.h"
#include "unit.h"

#define MIB (1024ULL * 1024)

TEST(parse_sizes_and_percentages)
{
    struct mark m;
    CHECK(freopen("/dev/null", "w", stderr) != NULL); /* the rejections' error lines */
    CHECK(mark_parse("2G", "--attach-above", &m) && m.bytes == 2048 * MIB && m.pct == 0);
    CHECK(mark_parse("1.5M", "--attach-above", &m) && m.bytes == 3 * MIB / 2 && m.pct == 0);
    CHECK(mark_parse("60%", "--attach-above", &m) && m.pct == 60);
    CHECK(mark_parse("100%", "--attach-above", &m) && m.pct == 100);
    CHECK(mark_parse("1", "--attach-above", &m) && m.bytes == 1);
    const char *bad[] = {"0", "0%", "101%", "%", "1000%", "x%", "-1G", "5%%", "1.5%", "", "G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!mark_parse(bad[i], "--attach-above", &m));
}

TEST(resolve_against_the_limit)
{
    uint64_t b;
    struct mark pct = {.pct = 40}, size = {.bytes = 7 * MIB};
    CHECK(mark_resolve(&pct, 200 * MIB, &b) && b == 80 * MIB);
    CHECK(!mark_resolve(&pct, UINT64_MAX, &b)); /* no limit: no percentage */
    CHECK(mark_resolve(&size, UINT64_MAX, &b) && b == 7 * MIB);
    struct mark one = {.pct = 1};
    CHECK(!mark_resolve(&one, 50, &b)); /* rounds to 0 bytes */
    CHECK_U64(mark_percent_of(UINT64_MAX / 2, 100), UINT64_MAX / 2);
    CHECK_U64(mark_percent_of(1000, 90), 900);
}

TEST(hysteresis_attach_hold_detach)
{
    const uint64_t high = 100, low = 90;
    bool above = false;
    CHECK(marks_step(&above, 50, high, low, false) == MARK_SAME && !above);
    CHECK(marks_step(&above, 99, high, low, false) == MARK_SAME && !above);
    CHECK(marks_step(&above, 100, high, low, false) == MARK_ROSE && above); /* at the mark */
    CHECK(marks_step(&above, 150, high, low, false) == MARK_SAME && above);
    /* Between the marks: still above, however often. */
    CHECK(marks_step(&above, 95, high, low, false) == MARK_SAME && above);
    CHECK(marks_step(&above, 90, high, low, true) == MARK_SAME && above);
    CHECK(marks_step(&above, 120, high, low, true) == MARK_SAME && above);
    CHECK(marks_step(&above, 89, high, low, false) == MARK_FELL && !above);
    /* Back between the marks from below: not a crossing of the high one. */
    CHECK(marks_step(&above, 95, high, low, false) == MARK_SAME && !above);
    CHECK(marks_step(&above, 101, high, low, false) == MARK_ROSE && above);
}

TEST(one_mark_rearms_at_once)
{
    bool above = false;
    CHECK(marks_step(&above, 10, 10, 10, false) == MARK_ROSE && above);
    CHECK(marks_step(&above, 9, 10, 10, false) == MARK_FELL && !above);
    CHECK(marks_step(&above, 11, 10, 10, false) == MARK_ROSE && above);
    /* Signalled twice since the last look: it went below and came back. */
    CHECK(marks_step(&above, 12, 10, 10, true) == MARK_ROSE && above);
    CHECK(marks_step(&above, 12, 10, 10, false) == MARK_SAME && above);
}

UNIT_MAIN(UNIT_CASE(parse_sizes_and_percentages), UNIT_CASE(resolve_against_the_limit),
          UNIT_CASE(hysteresis_attach_hold_detach), UNIT_CASE(one_mark_rearms_at_once))
