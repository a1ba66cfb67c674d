/*
 * log: the only writer of diagnostics (not events) to stderr.
 *
 * Every line starts with "mmapwatch: " so that a user who runs a command
 * under mmapwatch can tell our words from the command's. Messages are one
 * line each: what failed, the subject quoted, and what to do about it.
 * Events (mmap, munmap, ...) never go through here: see output.h.
 */
#ifndef MMAPWATCH_LOG_H
#define MMAPWATCH_LOG_H

/* "mmapwatch: <message>\n" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "mmapwatch: warning: <message>\n" on stderr. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "mmapwatch: <message>\n" on stderr, always: a fact about the run the
 * user should know without -v (which event source follows the target). */
void log_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "mmapwatch: <message>\n" on stderr, only when verbose logging is on (-v). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void log_set_verbose(int verbose);

#endif
