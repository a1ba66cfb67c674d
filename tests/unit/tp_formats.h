/*
 * tp_formats: tracepoint format texts as the kernel writes them, shared by
 * the unit tests that parse them (tracefs) and build from them (the BPF
 * programs).
 */
#ifndef MMAPWATCH_TEST_TP_FORMATS_H
#define MMAPWATCH_TEST_TP_FORMATS_H

/* syscalls/sys_enter_mmap: six 8-byte arguments after __syscall_nr. */
extern const char TP_FORMAT_ENTER_MMAP[];

#endif
