/*
 * xlat: numbers of the memory-map syscalls turned into names, table-driven.
 *
 * All functions are pure. Those that take a buffer write a NUL-terminated
 * string into it (truncated to fit) and return it; 128 bytes is always
 * enough for xlat_prot, 256 for the flag sets. Unknown bits are appended as
 * a hex number ("MAP_PRIVATE|0x8000000") so nothing is ever hidden.
 */
#ifndef MMAPWATCH_XLAT_H
#define MMAPWATCH_XLAT_H

#include <stddef.h>

/* "PROT_READ|PROT_WRITE", "PROT_NONE" */
const char *xlat_prot(unsigned long prot, char *buf, size_t size);

/* The short form used in JSON and maps listings: "rw-", "r-x", "---". */
const char *xlat_prot_short(unsigned long prot, char buf[4]);

/* "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE"; the sharing type (low bits) first. */
const char *xlat_map_flags(unsigned long flags, char *buf, size_t size);

/* "MREMAP_MAYMOVE|MREMAP_FIXED", "0" for none. */
const char *xlat_mremap_flags(unsigned long flags, char *buf, size_t size);

/* "ENOMEM"; NULL when unknown. */
const char *xlat_errno_name(int err);

/* "SIGSEGV", "SIGRTMIN+3"; NULL when unknown. */
const char *xlat_signal_name(int sig);

#endif
