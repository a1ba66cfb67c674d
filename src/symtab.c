/*
 * symtab: ELF symbol tables and perf maps as sorted address ranges. See
 * include/symtab.h.
 *
 * The ELF file is read with pread, section by section (only the section
 * headers, the symbol tables and their string tables), never mapped: a
 * file truncated under us gives a short read we can check, not a SIGBUS.
 */
#include "symtab.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Demangler: the Itanium C++ ABI's own entry point, __cxa_demangle, from
 * the C++ runtime that ships with the compiler (libstdc++). It is the
 * demangler g++ itself uses, so it reads every name the JVM's libjvm.so
 * (built with g++) contains; it is a stable C-linkage ABI function, so C
 * can call it without any C++ in this project; and libstdc++ exists as a
 * static archive, so `make static` keeps working. (libiberty's
 * cplus_demangle is the same code but is not a stable interface: Debian
 * ships it only as an unversioned static library.) */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *length, int *status);

/* Files larger than this are not symbol tables we want to hold. */
#define SECTION_MAX (256u << 20)
#define PERF_MAP_MAX (64u << 20)

struct symbol {
    uint64_t start, size;
    const char *name;   /* into one of the table's string blocks */
    char *demangled;    /* lazily; NULL until looked up, or when not C++ */
    bool tried;         /* demangling attempted */
    unsigned char rank; /* among symbols at one address: lower is preferred */
};

struct symtab {
    struct symbol *symbols;
    size_t count, cap;
    char **blocks;      /* string tables (ELF) or the file text (perf map) */
    size_t nblocks;
};

size_t symtab_count(const struct symtab *t) { return t ? t->count : 0; }

void symtab_free(struct symtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->symbols[i].demangled);
    for (size_t i = 0; i < t->nblocks; i++)
        free(t->blocks[i]);
    free(t->blocks);
    free(t->symbols);
    free(t);
}

static bool keep_block(struct symtab *t, char *block)
{
    char **grown = realloc(t->blocks, (t->nblocks + 1) * sizeof *grown);
    if (!grown)
        return false;
    t->blocks = grown;
    t->blocks[t->nblocks++] = block;
    return true;
}

static bool add_symbol(struct symtab *t, uint64_t start, uint64_t size, const char *name,
                       unsigned rank)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct symbol *grown = realloc(t->symbols, cap * sizeof *grown);
        if (!grown)
            return false;
        t->symbols = grown;
        t->cap = cap;
    }
    t->symbols[t->count++] = (struct symbol){
        .start = start, .size = size, .name = name, .rank = (unsigned char)rank};
    return true;
}

static int by_start_then_rank(const void *a, const void *b)
{
    const struct symbol *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorts, then keeps one symbol per address (the best ranked): aliases
 * such as mmap/mmap64/__mmap name one function. */
static struct symtab *finish(struct symtab *t)
{
    if (t->count == 0) {
        symtab_free(t);
        return NULL;
    }
    qsort(t->symbols, t->count, sizeof *t->symbols, by_start_then_rank);
    size_t kept = 0;
    for (size_t i = 0; i < t->count; i++)
        if (kept == 0 || t->symbols[kept - 1].start != t->symbols[i].start)
            t->symbols[kept++] = t->symbols[i];
    t->count = kept;
    return t;
}

/* ---- ELF ------------------------------------------------------------------- */

static void *read_at(int fd, uint64_t offset, uint64_t size, uint64_t file_size)
{
    if (size == 0 || size > SECTION_MAX || offset > file_size || size > file_size - offset)
        return NULL;
    char *buf = malloc(size + 1);
    if (!buf)
        return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        done += (size_t)n;
    }
    buf[size] = '\0'; /* string tables: a last name without its NUL ends here */
    return buf;
}

/* Global names before weak ones before local ones; among those, a name
 * without a leading underscore ("mmap" rather than "__mmap"). */
static unsigned rank_of(const Elf64_Sym *s, const char *name)
{
    unsigned bind = ELF64_ST_BIND(s->st_info);
    unsigned rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 2 : 4;
    return rank + (name[0] == '_' ? 1 : 0);
}

static bool add_elf_symbols(struct symtab *t, int fd, uint64_t file_size,
                            const Elf64_Shdr *shdrs, unsigned nsections, unsigned index)
{
    const Elf64_Shdr *sh = &shdrs[index];
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= nsections)
        return true; /* not one we can read: skip it */
    const Elf64_Shdr *strsh = &shdrs[sh->sh_link];
    Elf64_Sym *syms = read_at(fd, sh->sh_offset, sh->sh_size, file_size);
    char *strings = read_at(fd, strsh->sh_offset, strsh->sh_size, file_size);
    if (!syms || !strings) {
        free(syms);
        free(strings);
        return true;
    }
    if (!keep_block(t, strings)) {
        free(syms);
        free(strings);
        return false;
    }
    size_t n = sh->sh_size / sizeof *syms;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const Elf64_Sym *s = &syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
            s->st_value == 0 || s->st_name >= strsh->sh_size || strings[s->st_name] == '\0')
            continue;
        const char *name = strings + s->st_name;
        ok = add_symbol(t, s->st_value, s->st_size, name, rank_of(s, name));
    }
    free(syms);
    return ok;
}

struct symtab *symtab_from_elf(int fd)
{
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof eh ||
        pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
        return NULL;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0)
        return NULL;
    uint64_t file_size = (uint64_t)st.st_size;
    Elf64_Shdr *shdrs =
        read_at(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), file_size);
    if (!shdrs)
        return NULL;
    struct symtab *t = calloc(1, sizeof *t);
    bool ok = t != NULL;
    for (unsigned i = 0; i < eh.e_shnum && ok; i++)
        if (shdrs[i].sh_type == SHT_SYMTAB || shdrs[i].sh_type == SHT_DYNSYM)
            ok = add_elf_symbols(t, fd, file_size, shdrs, eh.e_shnum, i);
    free(shdrs);
    if (!ok) {
        symtab_free(t);
        return NULL;
    }
    return finish(t);
}

/* The values of the named symbols in one symbol table section. */
static void find_values(int fd, uint64_t file_size, const Elf64_Shdr *shdrs, unsigned nsections,
                        unsigned index, const char *const *names, size_t count, uint64_t *values)
{
    const Elf64_Shdr *sh = &shdrs[index];
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= nsections)
        return;
    const Elf64_Shdr *strsh = &shdrs[sh->sh_link];
    Elf64_Sym *syms = read_at(fd, sh->sh_offset, sh->sh_size, file_size);
    char *strings = read_at(fd, strsh->sh_offset, strsh->sh_size, file_size);
    for (size_t i = 0; syms && strings && i < sh->sh_size / sizeof *syms; i++) {
        const Elf64_Sym *s = &syms[i];
        if (s->st_shndx == SHN_UNDEF || s->st_value == 0 || s->st_name >= strsh->sh_size)
            continue;
        for (size_t k = 0; k < count; k++)
            if (!values[k] && strcmp(strings + s->st_name, names[k]) == 0)
                values[k] = s->st_value;
    }
    free(syms);
    free(strings);
}

int symtab_elf_values(int fd, const char *const *names, size_t count, uint64_t *values)
{
    memset(values, 0, count * sizeof *values);
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof eh ||
        pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0)
        return -1;
    uint64_t file_size = (uint64_t)st.st_size;
    Elf64_Shdr *shdrs =
        read_at(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), file_size);
    if (!shdrs)
        return -1;
    /* .dynsym first: the exported definition is the one the process uses. */
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < eh.e_shnum; i++)
            if (shdrs[i].sh_type == (pass ? SHT_SYMTAB : SHT_DYNSYM))
                find_values(fd, file_size, shdrs, eh.e_shnum, i, names, count, values);
    free(shdrs);
    int found = 0;
    for (size_t k = 0; k < count; k++)
        found += values[k] != 0;
    return found;
}

/* ---- split debug information ---------------------------------------------------- */

/* NT_GNU_BUILD_ID in one SHT_NOTE section's bytes. */
static void find_build_id(const uint8_t *notes, uint64_t size, struct elf_debug_ref *ref)
{
    uint64_t off = 0;
    while (size - off >= 12) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, notes + off, 4);
        memcpy(&descsz, notes + off + 4, 4);
        memcpy(&type, notes + off + 8, 4);
        uint64_t name_at = off + 12, desc_at = name_at + ((namesz + 3ULL) & ~3ULL);
        uint64_t next = desc_at + ((descsz + 3ULL) & ~3ULL);
        if (next > size || desc_at + descsz > size)
            return;
        if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(notes + name_at, "GNU", 4) == 0 &&
            descsz > 0 && descsz <= sizeof ref->build_id) {
            memcpy(ref->build_id, notes + desc_at, descsz);
            ref->build_id_len = descsz;
            return;
        }
        off = next;
    }
}

int symtab_debug_ref(int fd, struct elf_debug_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof eh ||
        pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
        return -1;
    uint64_t file_size = (uint64_t)st.st_size;
    Elf64_Shdr *shdrs =
        read_at(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), file_size);
    char *names = shdrs ? read_at(fd, shdrs[eh.e_shstrndx].sh_offset,
                                  shdrs[eh.e_shstrndx].sh_size, file_size)
                        : NULL;
    if (!shdrs || !names) {
        free(shdrs);
        return -1;
    }
    uint64_t names_size = shdrs[eh.e_shstrndx].sh_size;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        const Elf64_Shdr *sh = &shdrs[i];
        const char *name = sh->sh_name < names_size ? names + sh->sh_name : "";
        if (sh->sh_type == SHT_SYMTAB && sh->sh_size > 0) {
            ref->has_symtab = true;
        } else if (sh->sh_type == SHT_NOTE && !ref->build_id_len) {
            uint8_t *notes = read_at(fd, sh->sh_offset, sh->sh_size, file_size);
            if (notes)
                find_build_id(notes, sh->sh_size, ref);
            free(notes);
        } else if (strcmp(name, ".gnu_debuglink") == 0) {
            /* The file name, NUL, padding to 4, then the CRC-32 of the file. */
            char *link = read_at(fd, sh->sh_offset, sh->sh_size, file_size);
            size_t len = link ? strnlen(link, sh->sh_size) : 0;
            uint64_t crc_at = (len + 4) & ~3ULL;
            if (link && len > 0 && len < sizeof ref->debuglink && !strchr(link, '/') &&
                crc_at + 4 <= sh->sh_size) {
                memcpy(ref->debuglink, link, len + 1);
                memcpy(&ref->debuglink_crc, link + crc_at, 4);
            }
            free(link);
        }
    }
    free(names);
    free(shdrs);
    return 0;
}

/* CRC-32 (the zlib/IEEE polynomial, reflected) of everything fd holds, as
 * .gnu_debuglink records it. The table and the read buffer are the call's
 * own: no static state, so any thread may call. */
bool symtab_crc32_matches(int fd, uint32_t want)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    enum { CRC_BUF = 1 << 16 };
    uint8_t *buf = malloc(CRC_BUF);
    if (!buf)
        return false;
    uint32_t crc = 0xffffffffu;
    off_t off = 0;
    bool ok = true;
    for (;;) {
        ssize_t n = pread(fd, buf, CRC_BUF, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
        off += n;
    }
    free(buf);
    return ok && (crc ^ 0xffffffffu) == want;
}

/* ---- perf map ---------------------------------------------------------------- */

/* A hex number with or without "0x", at *p; advances past it. */
static bool parse_hex(char **p, uint64_t *out)
{
    char *s = *p;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    uint64_t v = 0;
    char *start = s;
    for (;; s++) {
        unsigned digit;
        if (*s >= '0' && *s <= '9')
            digit = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            digit = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            digit = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (v >> 60)
            return false;
        v = v << 4 | digit;
    }
    if (s == start)
        return false;
    *p = s;
    *out = v;
    return true;
}

struct symtab *symtab_from_perf_map(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > PERF_MAP_MAX)
        return NULL;
    char *text = read_at(fd, 0, (uint64_t)st.st_size, (uint64_t)st.st_size);
    struct symtab *t = text ? calloc(1, sizeof *t) : NULL;
    if (!t || !keep_block(t, text)) {
        free(text);
        symtab_free(t);
        return NULL;
    }
    char *line = text;
    bool ok = true;
    while (ok && *line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        uint64_t start, size;
        char *p = line;
        if (parse_hex(&p, &start) && *p == ' ' && (p++, parse_hex(&p, &size)) && *p == ' ' &&
            p[1] != '\0' && size > 0) {
            char *name = p + 1;
            size_t len = strlen(name);
            while (len > 0 && (name[len - 1] == '\r' || name[len - 1] == ' '))
                name[--len] = '\0';
            if (len > 0)
                ok = add_symbol(t, start, size, name, 0);
        }
        if (!end)
            break;
        line = end + 1;
    }
    if (!ok) {
        symtab_free(t);
        return NULL;
    }
    return finish(t);
}

/* ---- lookup -------------------------------------------------------------------- */

char *symtab_demangle(const char *name)
{
    if (strncmp(name, "_Z", 2) != 0)
        return NULL;
    int status = -1;
    char *out = __cxa_demangle(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}

const char *symtab_lookup(struct symtab *t, uint64_t addr, uint64_t *offset)
{
    if (!t || t->count == 0 || addr < t->symbols[0].start)
        return NULL;
    size_t lo = 0, hi = t->count; /* the last symbol with start <= addr */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->symbols[mid].start <= addr)
            lo = mid;
        else
            hi = mid;
    }
    struct symbol *s = &t->symbols[lo];
    if (s->size > 0 && addr - s->start >= s->size)
        return NULL; /* in a gap between functions */
    if (!s->tried) {
        s->demangled = symtab_demangle(s->name);
        s->tried = true;
    }
    *offset = addr - s->start;
    return s->demangled ? s->demangled : s->name;
}
