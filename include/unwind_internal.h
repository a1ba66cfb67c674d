/*
 * unwind_internal: what the two halves of the unwind module share (the
 * walk and its memory in src/unwind.c, the files and symbols in
 * src/unwind_symbols.c). Private to them: everything else uses unwind.h.
 *
 * Threads: the loop's thread only, as unwind.h.
 */
#ifndef MMAPWATCH_UNWIND_INTERNAL_H
#define MMAPWATCH_UNWIND_INTERNAL_H

#include <libunwind.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "maps.h"
#include "symtab.h"
#include "unwind.h"

#define PAGE 4096u
/* The top of the stack read in one process_vm_readv per stack: enough for
 * the frames of most native call chains; deeper frames are read a page at
 * a time. */
#define STACK_WINDOW (32u * 1024)
/* Cached pages of read-only file mappings per address space (8 MiB). */
#define PAGE_CACHE_MAX 2048
#define PAGE_BUCKETS 512
/* Other pages read for one stack (heap, deeper stack). */
#define SCRATCH_PAGES 16
/* A symbol longer than this (C++ templates) is cut, with "...". */
#define SYMBOL_MAX 1024

struct page {
    uint64_t addr;
    struct page *next;
    uint8_t data[PAGE];
};

/* One mapped file, opened once for the run and shared by every process
 * that maps it: its read-only pages are read from here (never through the
 * target, where a read would fault the page into the target's memory),
 * and its symbols are loaded from here on first need. */
struct elf_file {
    char *path;
    uint64_t dev, inode;
    int fd;                 /* -1: could not be opened */
    bool symbols_done;
    struct symtab *symbols; /* NULL: none, or unreadable */
    struct symtab *debug_symbols; /* from its separate debug file, when stripped; NULL */
    struct elf_file *next;
};

/* One executable mapping of an address space. */
struct module {
    uint64_t start, end;
    uint64_t header;        /* start of the file's offset-0 mapping (its ELF header); 0: unknown */
    char *path;             /* the kernel's name; "" when anonymous */
    uint64_t inode;         /* checked against the mapping when its symbols are looked up */
    bool anonymous;         /* JIT code and the like: no file, no unwind tables */
    bool layout_done, has_bias, has_table;
    uint64_t bias;          /* load address - file address */
    unw_dyn_info_t table;   /* its .eh_frame_hdr, for libunwind */
};

struct unwind_space {
    struct unwinder *u;
    unw_addr_space_t as;
    pid_t pid;
    struct maps_list maps;  /* the last read; kept when stale, for overlap checks */
    bool maps_valid;
    struct module *modules; /* the executable mappings of maps, in address order */
    size_t nmodules;
    struct page *buckets[PAGE_BUCKETS];
    size_t npages;
    pid_t nspid;            /* the process's pid in its own namespace; 0: not read yet */
    struct symtab *perf_map;
    struct timespec perf_mtime;
    off_t perf_size;
    bool perf_seen;         /* perf_mtime/perf_size describe a file we loaded */
    int pagemap_fd;         /* /proc/PID/pagemap, opened on first need; -1 */
    struct hotspot *jvm;    /* when libjvm.so is mapped: its Java frames; NULL */
};

/* One stack being unwound: the accessors' argument. */
struct capture {
    struct unwinder *u;
    struct unwind_space *space;
    pid_t tid;
    struct stack_regs regs;
    const uint8_t *window;  /* the snapshot's copy of the stack */
    uint64_t window_start;
    size_t window_len;
    unsigned nscratch, next_scratch;
    bool maps_refreshed;  /* already re-read for this stack */
    bool perf_checked;    /* perf map freshness checked for this stack */
};

struct unwinder {
    unsigned max_depth;
    unw_accessors_t accessors;
    struct elf_file *files;
    struct unwind_stats stats;
    uint8_t window[STACK_WINDOW];
    struct page scratch[SCRATCH_PAGES];
};

/* The file mapped by e, opened once for the run (unwind_symbols.c). NULL
 * on ENOMEM. */
struct elf_file *unwind_file_of(struct capture *c, const struct map_entry *e);

/* Names frame f: its module's path and symbol (unwind_symbols.c). */
void unwind_symbolize(struct capture *c, struct stack_frame *f, bool innermost);

/* The executable mapping holding ip, the module list read again once per
 * stack on a miss (unwind.c). NULL when there is none. */
struct module *unwind_module_at(struct capture *c, uint64_t ip);

/* Where module m's file lies in memory (its bias) and its unwind table,
 * worked out once (unwind.c). */
void unwind_module_layout(struct capture *c, struct module *m);

#endif
