/*
 * model_feed.h: what the model's unit tests share (test_model.c,
 * test_growth.c, test_adopt.c). A model whose JSON output goes to a
 * temporary file; synthetic events fed to it as a source would send them;
 * the output read back and its lines counted.
 *
 * One model at a time in a test binary (the output module is
 * process-wide): feed_start opens the output and the model, feed_finish
 * frees the model, closes the output, removes the file and returns what
 * was written. A case that a failed CHECK ended before its feed_finish
 * leaves them to the next feed_start, which ends them first.
 *
 * Every event fed gets the next time of one clock (1 us apart, the same
 * sequence in every run), the x86-64 arch unless the test set one, comm
 * "unit", and is stopped (the source could hold its thread). The test sets
 * the rest: kind, pid and tid, and the kind's own fields.
 *
 * Threads: the test's own thread only.
 */
#ifndef MMAPWATCH_TESTS_MODEL_FEED_H
#define MMAPWATCH_TESTS_MODEL_FEED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"
#include "model.h"
#include "syscalls.h"

/* Opens the output (JSON, into a new temporary file) and a model with the
 * given config. NULL if either fails. */
struct model *feed_start(const struct model_config *c);

/* Frees the model (NULL is fine), closes the output and returns its text
 * (malloc'd, the caller frees; NULL if it could not be read). The
 * temporary file is removed. */
char *feed_finish(struct model *m);

/* How many lines of text hold fragment a and, unless b is NULL, b too. */
int lines_with(const char *text, const char *a, const char *b);

/* The clock's last time given (CLOCK_MONOTONIC-like, ns); feed_tick_ns
 * moves it on and returns the new time, for what a test stamps itself
 * (an adoption, a lost event's window). */
uint64_t feed_now_ns(void);
uint64_t feed_tick_ns(void);

/* Feeds one event (filled in as said above); returns the model's reply. */
struct model_reply feed_event(struct model *m, struct event e);

/* A new thread tid of process pid, made by parent (0: unknown); shares_vm
 * for a vfork child. */
void feed_spawn(struct model *m, pid_t pid, pid_t tid, pid_t parent, bool shares_vm);

/* A syscall's entry with its first four arguments (the fifth, mmap's fd,
 * is -1); the reply says whether the model wants the result (want_done)
 * and holds. */
struct model_reply feed_enter(struct model *m, pid_t pid, pid_t tid, enum syscall_id id,
                              uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

/* The result of thread tid's call in flight: an error when rval is in
 * -4095..-1 (a negative errno). */
void feed_done(struct model *m, pid_t pid, pid_t tid, int64_t rval);

/* One call, entered and done. */
void feed_call(struct model *m, pid_t pid, pid_t tid, enum syscall_id id, uint64_t a0,
               uint64_t a1, uint64_t a2, uint64_t a3, int64_t rval);

/* An anonymous private read-write mmap of len bytes that returns addr. */
void feed_map_at(struct model *m, pid_t pid, pid_t tid, uint64_t addr, uint64_t len);

#endif
