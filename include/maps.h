/*
 * maps: /proc/PID/smaps and /proc/PID/maps turned into an array of
 * mappings, and the lookup of the mapping that holds an address.
 *
 * The text comes from the kernel but describes someone else's process, so
 * it is untrusted: the parser works on (buffer, length), never relies on a
 * NUL, checks every number for overflow, and copies names with their exact
 * length. maps text is smaps text without the "Key: value" lines, so one
 * parser does both.
 *
 * Ownership: a struct maps_list is filled by maps_parse()/maps_read() and
 * owns its entries and every entry's path; maps_release() frees them all
 * (NULL or an all-zero list is fine) and leaves an empty list. Entries
 * never point into the input buffer.
 */
#ifndef MMAPWATCH_MAPS_H
#define MMAPWATCH_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Which smaps fields a mapping had: one missing reads as 0, and a caller
 * that cares (a kernel without Swap accounting) can tell. */
#define MAPS_HAVE_RSS (1u << 0)
#define MAPS_HAVE_PSS (1u << 1)
#define MAPS_HAVE_DIRTY (1u << 2) /* Private_Dirty or Shared_Dirty */
#define MAPS_HAVE_SWAP (1u << 3)

struct map_entry {
    uint64_t start, end; /* [start, end), page aligned */
    char prot[5];        /* the kernel's perms column, "rw-p" / "r--s" */
    uint64_t offset;     /* file offset of start */
    uint64_t inode;
    uint64_t dev;        /* makedev(major, minor) of the file's device; 0 when anonymous */
    char *path;          /* the kernel's name, verbatim (" (deleted)" kept); "" when anonymous */
    bool deleted;        /* path ends in " (deleted)": the file was unlinked */
    uint64_t rss, pss;   /* bytes */
    uint64_t dirty;      /* bytes: Private_Dirty + Shared_Dirty */
    uint64_t swap;       /* bytes */
    unsigned have;       /* MAPS_HAVE_* */
};

struct maps_list {
    struct map_entry *entries; /* in file order: ascending addresses */
    size_t count;
    size_t cap;
    size_t bad_line;           /* after a parse error: its line number (1-based) */
};

/* Parses smaps or maps text buf[0..len) into *out (which must be empty:
 * zeroed or released). 0, or -1 with errno: EINVAL for text that is not
 * smaps (out->bad_line says where; nothing is kept), ENOMEM. Unknown
 * "Key: ..." lines are skipped, so new kernel fields do not break it; a
 * last line without its newline (a truncated read) is parsed as well. */
int maps_parse(const char *buf, size_t len, struct maps_list *out);

/* Reads /proc/PID/smaps (with_usage) or /proc/PID/maps and parses it.
 * 0, or -1 with errno: ENOENT/ESRCH (no such process), EACCES/EPERM
 * (not allowed), EFBIG (absurdly large), EINVAL (unparseable). A process
 * that has exited but not been reaped reads as 0 mappings. */
int maps_read(pid_t pid, bool with_usage, struct maps_list *out);

void maps_release(struct maps_list *list);

/* The mapping that holds addr, or NULL. list must be sorted by address,
 * as the kernel gives it. Pure. */
const struct map_entry *maps_lookup(const struct maps_list *list, uint64_t addr);

/* What a person calls the mapping: the path, or "[anon]" for an
 * anonymous one ("[heap]", "[stack]" and "[anon:NAME]" come from the
 * kernel as they are). */
const char *maps_label(const struct map_entry *e);

/* An address as a person pastes it: "0x7f3a5c000000"; as pmap and
 * /proc/PID/maps print it, "00007f3a5c000000" or "7f3a5c000000" (hex
 * without 0x: a leading zero or a letter says so); a maps range
 * "7f3a5c000000-7f3a5e000000" (its start); or decimal digits with no
 * leading zero. true with *out set; false with *why saying what to type
 * (a static string). Pure. */
bool maps_parse_address(const char *text, uint64_t *out, const char **why);

#endif
