/*
 * dump_file: the files a dump writes, named and published so that nothing
 * is ever overwritten, followed through a link, or seen half written.
 *
 * A dump's files share one base name, "<pid>-<addr hex>-<len>-<seq>", with
 * the suffixes .bin, .json and .strings. Each is written under a hidden
 * temporary name (".<name>.tmp", or ".<name>.<k>.tmp" when that is taken),
 * created O_EXCL|O_NOFOLLOW with mode 0600, and renamed into place without
 * replacing anything (RENAME_NOREPLACE, or link + unlink). A name that is
 * taken, by a file, a symbolic link or anything else, is never a failure:
 * the dump takes the next seq whose names are all free.
 *
 * Threads: no state; any thread may call these on its own files.
 */
#ifndef MMAPWATCH_DUMP_FILE_H
#define MMAPWATCH_DUMP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Large enough for any "<pid>-<addr>-<len>-<seq>.strings" plus the
 * ".<name>.<k>.tmp" temporary form. */
#define DUMP_NAME_MAX 96

/* "<pid>-<addr hex>-<len>-<seq><suffix>" into buf; -1 if it does not fit. */
int dump_file_name(char *buf, size_t size, pid_t pid, uint64_t addr, uint64_t len,
                   unsigned seq, const char *suffix);

/* Whether nothing at all (no file, link, directory) is called name.
 * false with errno EEXIST when something is, other errno when it cannot
 * be told. */
bool dump_file_name_free(int dir_fd, const char *name);

/* From *seq upward, the first seq for which every base name + suffix of
 * suffixes[0..n) is free; stored in *seq. -1 with EEXIST when none is
 * free below UINT32_MAX, ENAMETOOLONG when a name does not fit, or the
 * errno of a look-up that failed otherwise (EACCES, EIO, ...). */
int dump_file_free_seq(int dir_fd, pid_t pid, uint64_t addr, uint64_t len, unsigned *seq,
                       const char *const *suffixes, size_t n);

/* Creates a temporary file for name (mode 0600 whatever the umask,
 * O_EXCL|O_NOFOLLOW|O_CLOEXEC), taking the next free temporary name when
 * ".<name>.tmp" is taken; its name goes into tmp. Returns the fd, or -1
 * with errno (never EEXIST unless 64 names in a row are taken). */
int dump_file_create_temp(int dir_fd, const char *name, char *tmp, size_t tmp_size);

/* Renames tmp to name unless name exists (then -1 with EEXIST); never
 * replaces and never follows a link. */
int dump_file_publish(int dir_fd, const char *tmp, const char *name);

/* pwrite of all len bytes at off (EINTR retried, no progress = ENOSPC). */
int dump_file_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Flushes, optionally fsyncs, and closes a stream over a temporary file;
 * -1 with errno if anything written was lost. Always closes. */
int dump_file_finish_stream(FILE *f, bool sync);

#endif
