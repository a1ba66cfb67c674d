/*
 * symtab: names for code addresses, from an ELF file's symbol tables or
 * from a perf map (the "START SIZE NAME" text file that JITs such as the
 * JVM write to /tmp/perf-PID.map).
 *
 * Both inputs describe someone else's program and are untrusted: every
 * offset, count and string is bounds-checked, and a malformed table is
 * refused (NULL) rather than half used.
 *
 * Addresses are the file's own (ELF st_value, i.e. before the load bias is
 * added) for ELF tables, and absolute for perf maps.
 *
 * Ownership: a struct symtab owns its entries and names; names returned by
 * symtab_lookup() stay valid until symtab_free(). C++ names are demangled
 * on first lookup and kept.
 */
#ifndef MMAPWATCH_SYMTAB_H
#define MMAPWATCH_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symtab;

/* The function symbols of the ELF file open on fd (.symtab and .dynsym,
 * both when present). NULL when it has none, is not a 64-bit ELF, is
 * malformed, or memory ran out. The fd stays the caller's. */
struct symtab *symtab_from_elf(int fd);

/* The values (st_value: file addresses) of the symbols called names[i],
 * of any type, from the ELF file open on fd (.dynsym first, then .symtab),
 * into values[i]; 0 for a name not found. The number found, or -1 if fd is
 * not a 64-bit ELF file that can be read. */
int symtab_elf_values(int fd, const char *const *names, size_t count, uint64_t *values);

/* Where the full symbol table of a stripped ELF file may be: distributions
 * strip .symtab (and with it every static function's name) and ship it in a
 * separate debug file, found by build ID
 * (/usr/lib/debug/.build-id/NN/REST.debug) or by the .gnu_debuglink name
 * (next to the file, in .debug/ there, or under /usr/lib/debug). */
struct elf_debug_ref {
    bool has_symtab;        /* the file keeps its own .symtab: nothing to look for */
    uint8_t build_id[64];   /* NT_GNU_BUILD_ID */
    size_t build_id_len;    /* 0: none */
    char debuglink[256];    /* .gnu_debuglink's file name; "": none */
    uint32_t debuglink_crc; /* the CRC-32 it records of that file */
};

/* Fills *ref from the ELF file open on fd. 0, or -1 if it is not a 64-bit
 * ELF file that can be read. */
int symtab_debug_ref(int fd, struct elf_debug_ref *ref);

/* Whether the CRC-32 of the whole file open on fd is want (the check
 * .gnu_debuglink asks for: a debug file of another build would name the
 * wrong functions). */
bool symtab_crc32_matches(int fd, uint32_t want);

/* The entries of a perf map file (text). NULL when it cannot be read or
 * holds no valid line; malformed lines are skipped, as perf does. */
struct symtab *symtab_from_perf_map(int fd);

/* The symbol whose [start, start + size) holds addr (a symbol of size 0
 * holds only addresses up to the next symbol), demangled, with
 * *offset = addr - start. NULL when no symbol holds addr. */
const char *symtab_lookup(struct symtab *table, uint64_t addr, uint64_t *offset);

size_t symtab_count(const struct symtab *table);

void symtab_free(struct symtab *table);

/* The readable form of a C++ (Itanium ABI) mangled name, malloc'd, or NULL
 * when name is not a mangled name. */
char *symtab_demangle(const char *name);

#endif
