/*
 * unwind_symbols: the files behind a stack's frames and their names: each
 * mapped file opened once for the run, its symbols (or its separate debug
 * file's) loaded on first need, the perf map of JIT code, C++ names
 * demangled. The other half of the unwind module (see unwind_internal.h).
 */
#include "unwind_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"

/* ---- symbols ---------------------------------------------------------------------- */

/* The file mapped by e, opened once for the run: through the mapping
 * itself (/proc/PID/map_files: exactly the mapped file, deleted or not,
 * in whatever mount namespace), else by its path under the process's root
 * (map_files needs CAP_SYS_ADMIN), then only if it is still the mapped
 * inode: a file replaced on disk has other contents. */
struct elf_file *unwind_file_of(struct capture *c, const struct map_entry *e)
{
    struct unwinder *u = c->u;
    for (struct elf_file *f = u->files; f; f = f->next)
        if (f->inode == e->inode && f->dev == e->dev && strcmp(f->path, e->path) == 0)
            return f;
    struct elf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(e->path))) {
        free(f);
        return NULL;
    }
    f->dev = e->dev;
    f->inode = e->inode;
    char path[4200];
    snprintf(path, sizeof path, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)c->tid,
             e->start, e->end);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 && !e->deleted) {
        snprintf(path, sizeof path, "/proc/%d/root%s", (int)c->tid, e->path);
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (f->fd >= 0 && (fstat(f->fd, &st) < 0 || (uint64_t)st.st_ino != e->inode)) {
            close(f->fd);
            f->fd = -1;
        }
    }
    u->stats.files_loaded++;
    f->next = u->files;
    u->files = f;
    return f;
}

/* Opens path under the process's root; -1 if it is not there. */
static int open_in_root(pid_t tid, const char *path)
{
    char full[4300];
    if (snprintf(full, sizeof full, "/proc/%d/root%s", (int)tid, path) >= (int)sizeof full)
        return -1;
    return open(full, O_RDONLY | O_CLOEXEC);
}

/* The symbols of the separate debug file of a stripped file (see
 * symtab.h), looked for in the process's own file system: first by build
 * ID, then by .gnu_debuglink (the build ID, or the CRC, must match). NULL
 * when there is none; the stripped file's .dynsym is all there is then. */
static struct symtab *debug_symbols_for(pid_t tid, const char *path, int fd)
{
    struct elf_debug_ref ref;
    if (symtab_debug_ref(fd, &ref) < 0 || ref.has_symtab)
        return NULL;
    char candidate[4300];
    if (ref.build_id_len > 1) {
        int n = snprintf(candidate, sizeof candidate, "/usr/lib/debug/.build-id/%02x/",
                         ref.build_id[0]);
        for (size_t i = 1; i < ref.build_id_len && n > 0 && (size_t)n < sizeof candidate - 8; i++)
            n += snprintf(candidate + n, sizeof candidate - (size_t)n, "%02x", ref.build_id[i]);
        snprintf(candidate + n, sizeof candidate - (size_t)n, ".debug");
        int dfd = open_in_root(tid, candidate);
        struct elf_debug_ref dref;
        if (dfd >= 0 && symtab_debug_ref(dfd, &dref) == 0 &&
            dref.build_id_len == ref.build_id_len &&
            memcmp(dref.build_id, ref.build_id, ref.build_id_len) == 0) {
            struct symtab *t = symtab_from_elf(dfd);
            close(dfd);
            if (t)
                return t;
        } else if (dfd >= 0) {
            close(dfd);
        }
    }
    if (!ref.debuglink[0])
        return NULL;
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 0;
    /* Next to the file, in .debug/ there, and under /usr/lib/debug. */
    static const char *const prefixes[] = {"", "", "/usr/lib/debug"};
    static const char *const subdirs[] = {"/", "/.debug/", "/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(candidate, sizeof candidate, "%s%.*s%s%s", prefixes[i], dir_len, path,
                 subdirs[i], ref.debuglink);
        int dfd = open_in_root(tid, candidate);
        if (dfd < 0)
            continue;
        struct symtab *t = symtab_crc32_matches(dfd, ref.debuglink_crc) ? symtab_from_elf(dfd) : NULL;
        close(dfd);
        if (t)
            return t;
    }
    return NULL;
}

/* The symbols of module m's file, loaded on first need: *debug gets those
 * of its separate debug file (or NULL). */
static struct symtab *symbols_of(struct capture *c, struct module *m, struct symtab **debug)
{
    struct unwind_space *s = c->space;
    *debug = NULL;
    const struct map_entry *e = s->maps_valid ? maps_lookup(&s->maps, m->start) : NULL;
    if (!e || e->inode != m->inode)
        return NULL;
    struct elf_file *f = unwind_file_of(c, e);
    if (!f || f->fd < 0)
        return NULL;
    if (!f->symbols_done) {
        f->symbols = symtab_from_elf(f->fd);
        if (!e->deleted)
            f->debug_symbols = debug_symbols_for(c->tid, e->path, f->fd);
        f->symbols_done = true;
    }
    *debug = f->debug_symbols;
    return f->symbols;
}

/* The process's perf map, loaded again when the file changed (a JIT
 * appends as it compiles); checked at most once per stack. */
static struct symtab *perf_map_of(struct capture *c)
{
    struct unwind_space *s = c->space;
    if (c->perf_checked)
        return s->perf_map;
    c->perf_checked = true;
    if (!s->nspid)
        s->nspid = procfs_namespace_pid(s->pid);
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/root/tmp/perf-%d.map", (int)s->pid, (int)s->nspid);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return s->perf_map;
    }
    if (!s->perf_seen || st.st_size != s->perf_size ||
        st.st_mtim.tv_sec != s->perf_mtime.tv_sec || st.st_mtim.tv_nsec != s->perf_mtime.tv_nsec) {
        symtab_free(s->perf_map);
        s->perf_map = symtab_from_perf_map(fd);
        s->perf_seen = true;
        s->perf_size = st.st_size;
        s->perf_mtime = st.st_mtim;
    }
    close(fd);
    return s->perf_map;
}

static char *format_symbol(const char *name, uint64_t offset)
{
    char *out = NULL;
    int len = (int)strnlen(name, SYMBOL_MAX + 1);
    const char *cut = len > SYMBOL_MAX ? "..." : "";
    if (len > SYMBOL_MAX)
        len = SYMBOL_MAX;
    if (asprintf(&out, "%.*s%s+0x%" PRIx64, len, name, cut, offset) < 0)
        return NULL;
    return out;
}

/* Names frame f. A return address points after its call, which may be
 * the first byte of the next function: the caller is looked up at ip-1
 * (the offset shown is still from ip). */
void unwind_symbolize(struct capture *c, struct stack_frame *f, bool innermost)
{
    uint64_t lookup = innermost ? f->ip : f->ip - 1, offset;
    const char *name = NULL, *source = NULL;
    struct module *m = unwind_module_at(c, lookup);
    if (m && !m->anonymous) {
        f->module = strdup(m->path);
        unwind_module_layout(c, m);
        struct symtab *debug = NULL;
        struct symtab *symbols = m->has_bias ? symbols_of(c, m, &debug) : NULL;
        if (debug)
            name = symtab_lookup(debug, lookup - m->bias, &offset);
        if (!name && symbols)
            name = symtab_lookup(symbols, lookup - m->bias, &offset);
        source = "elf";
    } else if (!f->source ||
               (strcmp(f->source, "jvm-interpreted") != 0 && strcmp(f->source, "jvm-inlined") != 0)) {
        /* A JVM's perf map names its compiled code and stubs as the JVM
         * itself does; of the interpreter it says only "Interpreter", and
         * it knows nothing of inlining. */
        name = symtab_lookup(perf_map_of(c), lookup, &offset);
        source = "perf-map";
    }
    char *text = name ? format_symbol(name, offset + (f->ip - lookup)) : NULL;
    if (text) {
        free(f->symbol);
        f->symbol = text;
        f->source = source;
    }
}
