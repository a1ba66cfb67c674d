/*
 * dump_strings: --strings, the printable runs of a dump (as strings(1)
 * prints them) and the most frequent of them.
 *
 * Two ways in: dump_strings() reads a finished .bin (holes skipped): the
 * dumper runs it after each dump, on a thread of its own, so that the
 * target's bytes are read as fast without --strings as with it; and the
 * streaming scanner is fed buffers in file order by whoever has them
 * (mmapwatch read --strings).
 *
 * Threads: no global state; a scanner and a counter belong to one thread
 * at a time.
 */
#ifndef MMAPWATCH_DUMP_STRINGS_H
#define MMAPWATCH_DUMP_STRINGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --strings: the most frequent runs. text is NUL-terminated (runs never
 * hold NUL). */
#define DUMP_STRINGS_TOP 10
#define DUMP_STRINGS_MIN_DEFAULT 6
/* Longest run that is counted; also the largest MIN accepted (a longer
 * MIN would need unbounded buffering to decide whether to print a run).
 * Longer runs are written in full to the .strings file but not counted:
 * the top ten is about short repeated tokens (headers, keys, names). */
#define DUMP_STRINGS_KEY_MAX 256
/* Distinct runs counted: bounds the table at about 100k entries and
 * DUMP_STRINGS_ARENA_MAX bytes of text; runs first seen after that are
 * printed but not counted, so a huge dump of random text cannot make us
 * grow without bound. */
#define DUMP_STRINGS_DISTINCT_MAX 100000u
#define DUMP_STRINGS_ARENA_MAX (8u << 20)

struct string_count {
    char text[DUMP_STRINGS_KEY_MAX + 1];
    size_t len;
    uint64_t count;
};

/*
 * Reads bin_name (a .bin in dir_fd, holes skipped with SEEK_DATA) and
 * writes "<base>.strings" beside it (".bin" replaced; temporary name,
 * 0600, renamed when complete): every run of at least min printable bytes
 * (0x20-0x7e and tab), one per line, in file order, like strings(1).
 * Fills top[0..*ntop) with the most frequent counted runs, most frequent
 * first, ties in byte order. cancel (NULL: never) is polled between
 * reads. 0, or -1 with errno (EINVAL: min is 0 or above
 * DUMP_STRINGS_KEY_MAX; EEXIST: the .strings name is taken; ECANCELED)
 * and no .strings file left.
 */
int dump_strings(int dir_fd, const char *bin_name, unsigned min, const atomic_bool *cancel,
                 struct string_count top[DUMP_STRINGS_TOP], size_t *ntop);

/* Streaming strings(1) scanner: feed buffers in file order, break at
 * holes, finish at the end. Runs go to out (may be NULL) and are counted
 * in counter (may be NULL); both are borrowed, the caller closes/frees
 * them and checks out for write errors. The scanner itself owns nothing
 * (no release needed). */
struct dump_counter;
#define DUMP_SCANNER_PENDING 16
struct dump_scanner {
    unsigned min;
    FILE *out;
    struct dump_counter *counter;
    char head[DUMP_STRINGS_KEY_MAX]; /* the current run's first bytes */
    uint64_t run_len;                /* the current run's length so far */
    bool flushed;                    /* head already written (run too long to count) */
    unsigned npending;               /* runs found, not counted yet */
    struct {
        const char *text;
        size_t len;
        uint64_t hash;
    } pending[DUMP_SCANNER_PENDING];
    size_t out_len;                  /* bytes waiting in out_buf */
    char out_buf[16384];             /* output, written to out in large pieces */
};

void dump_scanner_init(struct dump_scanner *s, unsigned min, FILE *out,
                       struct dump_counter *counter);
void dump_scanner_feed(struct dump_scanner *s, const unsigned char *buf, size_t len);
void dump_scanner_break(struct dump_scanner *s); /* a non-printable byte: ends a run */
/* Ends the last run and writes what is buffered to out: out holds the
 * whole output only after this. */
void dump_scanner_finish(struct dump_scanner *s);

/* Bounded counting table. _new returns NULL with ENOMEM; _free accepts NULL. */
struct dump_counter *dump_counter_new(void);
void dump_counter_free(struct dump_counter *c);
void dump_counter_add(struct dump_counter *c, const char *s, size_t len);
/* Top DUMP_STRINGS_TOP runs, most frequent first, ties in byte order. */
size_t dump_counter_top(const struct dump_counter *c, struct string_count top[DUMP_STRINGS_TOP]);
/* Distinct runs refused because the table was full. */
uint64_t dump_counter_dropped(const struct dump_counter *c);

#endif
