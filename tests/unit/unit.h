/*
 * unit.h: the smallest test harness that does the job.
 *
 * A unit test file defines cases with TEST(name) { ... } and ends with
 * UNIT_MAIN(case1, case2, ...). Each case prints one line, "PASS: file:name"
 * or "FAIL: file:name: file:line: expression"; tests/run_tests.py counts
 * them. The first failed CHECK ends its case (later checks would only
 * repeat the cause); the binary exits 1 if any case failed.
 */
#ifndef MMAPWATCH_UNIT_H
#define MMAPWATCH_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct unit_case {
    const char *name;
    void (*fn)(int *failed);
};

#define TEST(name) static void name(int *unit_failed_)

#define CHECK(expr)                                                              \
    do {                                                                         \
        if (!(expr)) {                                                           \
            printf("FAIL: %s:%s: %s:%d: %s\n", unit_file_, unit_name_, __FILE__, \
                   __LINE__, #expr);                                             \
            *unit_failed_ = 1;                                                   \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, want)                                                     \
    do {                                                                         \
        const char *g_ = (got), *w_ = (want);                                    \
        if (g_ == NULL || strcmp(g_, w_) != 0) {                                 \
            printf("FAIL: %s:%s: %s:%d: %s is \"%s\", want \"%s\"\n", unit_file_, \
                   unit_name_, __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); \
            *unit_failed_ = 1;                                                   \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_U64(got, want)                                                     \
    do {                                                                         \
        uint64_t g_ = (got), w_ = (want);                                        \
        if (g_ != w_) {                                                          \
            printf("FAIL: %s:%s: %s:%d: %s is %" PRIu64 ", want %" PRIu64 "\n",  \
                   unit_file_, unit_name_, __FILE__, __LINE__, #got, g_, w_);    \
            *unit_failed_ = 1;                                                   \
            return;                                                              \
        }                                                                        \
    } while (0)

/* The case name is known to CHECK through these two file-scope variables. */
static const char *unit_file_ = "";
static const char *unit_name_ = "";

#define UNIT_CASE(fn) {#fn, fn}

#define UNIT_MAIN(...)                                                           \
    int main(void)                                                               \
    {                                                                            \
        static const struct unit_case cases[] = {__VA_ARGS__};                   \
        int any_failed = 0;                                                      \
        const char *slash = strrchr(__FILE__, '/');                              \
        unit_file_ = slash ? slash + 1 : __FILE__;                               \
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {          \
            int failed = 0;                                                      \
            unit_name_ = cases[i].name;                                          \
            cases[i].fn(&failed);                                                \
            if (!failed)                                                         \
                printf("PASS: %s:%s\n", unit_file_, unit_name_);                 \
            any_failed |= failed;                                                \
            fflush(stdout);                                                      \
        }                                                                        \
        return any_failed;                                                       \
    }

#endif
