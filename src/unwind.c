/*
 * unwind: the capture of a stack's top and the walk over a snapshot
 * (libunwind remote unwinding with our own accessors), and the memory and
 * module caches behind them. Files and symbols are in unwind_symbols.c.
 * See include/unwind.h for the contract and the caching rules.
 */
#include "unwind.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libunwind.h>
#include <linux/audit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <time.h>
#include <unistd.h>

#include "hotspot.h"
#include "json.h"
#include "log.h"
#include "maps.h"
#include "memread.h"
#include "procfs.h"
#include "symtab.h"

#ifndef __x86_64__
#error "unwind.c unwinds x86_64 processes from an x86_64 tracer"
#endif

/* Exported by libunwind (and stable since 1.0) but not declared in its
 * public headers: the lookup of an .eh_frame_hdr binary-search table,
 * which libunwind's own remote code uses. We locate each module's table
 * ourselves (module_table) and hand it over, so libunwind never re-reads
 * /proc/PID/maps or the ELF file on a miss as its ptrace accessors do. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

#include "unwind_internal.h"

/* ---- memory -------------------------------------------------------------- */

static void drop_pages(struct unwind_space *s)
{
    for (size_t b = 0; b < PAGE_BUCKETS; b++) {
        while (s->buckets[b]) {
            struct page *p = s->buckets[b];
            s->buckets[b] = p->next;
            free(p);
        }
    }
    s->npages = 0;
}


/* Pages of read-only file mappings do not change while mapped: they are
 * what libunwind reads again and again (.eh_frame_hdr, .eh_frame). */
static const struct map_entry *cacheable(const struct unwind_space *s, uint64_t addr)
{
    const struct map_entry *e = s->maps_valid ? maps_lookup(&s->maps, addr) : NULL;
    if (e && e->path[0] == '/' && e->inode != 0 && e->prot[1] != 'w')
        return e;
    return NULL;
}

/* Whether the page at addr is in the target's memory now: reading one
 * that is not (never touched, or swapped out) would fault it in, and
 * looking must not make the target grow. */
static bool page_present(struct capture *c, uint64_t addr)
{
    struct unwind_space *s = c->space;
    if (s->pagemap_fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/pagemap", (int)c->tid);
        if ((s->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return false;
    }
    uint64_t entry;
    if (pread(s->pagemap_fd, &entry, sizeof entry, (off_t)(addr / PAGE * sizeof entry)) !=
        (ssize_t)sizeof entry)
        return false;
    return (entry & MEMREAD_PAGE_PRESENT) != 0;
}

static const uint8_t *page_at(struct capture *c, uint64_t addr)
{
    struct unwind_space *s = c->space;
    const struct map_entry *e = cacheable(s, addr);
    if (e) {
        size_t b = (addr / PAGE) % PAGE_BUCKETS;
        for (struct page *p = s->buckets[b]; p; p = p->next)
            if (p->addr == addr)
                return p->data;
        struct elf_file *f = unwind_file_of(c, e);
        if (!f || f->fd < 0)
            return NULL;
        if (s->npages >= PAGE_CACHE_MAX)
            drop_pages(s);
        struct page *p = malloc(sizeof *p);
        if (!p)
            return NULL;
        ssize_t n = pread(f->fd, p->data, PAGE, (off_t)(e->offset + (addr - e->start)));
        if (n <= 0) {
            free(p);
            return NULL;
        }
        memset(p->data + n, 0, PAGE - (size_t)n); /* past the end of the file */
        p->addr = addr;
        p->next = s->buckets[b];
        s->buckets[b] = p;
        s->npages++;
        return p->data;
    }
    struct page *scratch = c->u->scratch;
    for (unsigned i = 0; i < c->nscratch; i++)
        if (scratch[i].addr == addr)
            return scratch[i].data;
    if (!page_present(c, addr))
        return NULL;
    struct page *p = &scratch[c->next_scratch];
    if (memread_read(c->tid, addr, p->data, PAGE) != PAGE)
        return NULL;
    p->addr = addr;
    c->next_scratch = (c->next_scratch + 1) % SCRATCH_PAGES;
    if (c->nscratch < SCRATCH_PAGES)
        c->nscratch++;
    return p->data;
}

/* len bytes at addr of the thread's memory, from the stack window or the
 * page caches. false if some byte cannot be read. */
static bool read_bytes(struct capture *c, uint64_t addr, void *out, size_t len)
{
    if (addr >= c->window_start && addr - c->window_start <= c->window_len &&
        len <= c->window_len - (addr - c->window_start)) {
        memcpy(out, c->window + (addr - c->window_start), len);
        return true;
    }
    uint8_t *dst = out;
    while (len > 0) {
        if (addr > UINT64_MAX - PAGE)
            return false;
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        size_t in_page = PAGE - (size_t)(addr - page);
        size_t n = len < in_page ? len : in_page;
        const uint8_t *data = page_at(c, page);
        if (!data)
            return false;
        memcpy(dst, data + (addr - page), n);
        dst += n;
        addr += n;
        len -= n;
    }
    return true;
}

static bool read_word(struct capture *c, uint64_t addr, uint64_t *value)
{
    return read_bytes(c, addr, value, sizeof *value);
}

/* ---- modules ---------------------------------------------------------------- */

static void free_modules(struct unwind_space *s)
{
    for (size_t i = 0; i < s->nmodules; i++)
        free(s->modules[i].path);
    free(s->modules);
    s->modules = NULL;
    s->nmodules = 0;
}

/* Everything cached about this address space goes: its code changed. */
static void drop_all(struct unwind_space *s)
{
    drop_pages(s);
    free_modules(s);
    maps_release(&s->maps);
    s->maps_valid = false;
    unw_flush_cache(s->as, 0, 0);
    s->u->stats.cache_drops++;
}

static bool is_file_path(const struct map_entry *e) { return e->path[0] == '/'; }

/* Where the ELF header of the file mapped by e is: the start of the same
 * file's offset-0 mapping. The vDSO is an ELF image of its own. */
static uint64_t header_of(const struct maps_list *maps, size_t index)
{
    const struct map_entry *e = &maps->entries[index];
    if (strcmp(e->path, "[vdso]") == 0)
        return e->start;
    if (!is_file_path(e))
        return 0;
    for (size_t i = index + 1; i-- > 0;) {
        const struct map_entry *m = &maps->entries[i];
        if (m->inode == e->inode && strcmp(m->path, e->path) == 0 && m->offset == 0)
            return m->start;
    }
    return 0;
}

static void load_modules(struct capture *c)
{
    struct unwind_space *s = c->space;
    free_modules(s);
    maps_release(&s->maps);
    s->maps_valid = false;
    c->u->stats.maps_reads++;
    /* The thread's own maps: a leader that has exited reads as empty. */
    if (maps_read(c->tid, false, &s->maps) < 0)
        return;
    s->maps_valid = true;
    size_t n = 0;
    for (size_t i = 0; i < s->maps.count; i++)
        n += s->maps.entries[i].prot[2] == 'x';
    s->modules = calloc(n ? n : 1, sizeof *s->modules);
    if (!s->modules)
        return;
    for (size_t i = 0; i < s->maps.count; i++) {
        const struct map_entry *e = &s->maps.entries[i];
        if (e->prot[2] != 'x')
            continue;
        struct module *m = &s->modules[s->nmodules];
        if (!(m->path = strdup(e->path)))
            break;
        m->start = e->start;
        m->end = e->end;
        m->inode = e->inode;
        m->anonymous = !is_file_path(e) && strcmp(e->path, "[vdso]") != 0;
        m->header = header_of(&s->maps, i);
        s->nmodules++;
    }
}

struct module *unwind_module_at(struct capture *c, uint64_t ip)
{
    struct unwind_space *s = c->space;
    if (!s->maps_valid && !c->maps_refreshed) {
        load_modules(c);
        c->maps_refreshed = true;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t lo = 0, hi = s->nmodules;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            struct module *m = &s->modules[mid];
            if (ip < m->start)
                hi = mid;
            else if (ip >= m->end)
                lo = mid + 1;
            else
                return m;
        }
        /* Mapped since we last looked (launch mode does not stop at small
         * mmaps): read the maps again, once per stack. */
        if (c->maps_refreshed)
            break;
        load_modules(c);
        c->maps_refreshed = true;
    }
    return NULL;
}

/* The module's load bias and .eh_frame_hdr, from its ELF and program
 * headers at the address the process maps them (the bytes come from the
 * mapped file itself, see file_of: one replaced on disk or in another
 * mount namespace cannot mislead us). */
void unwind_module_layout(struct capture *c, struct module *m)
{
    if (m->layout_done)
        return;
    m->layout_done = true;
    Elf64_Ehdr eh;
    if (!m->header || !read_bytes(c, m->header, &eh, sizeof eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64)
        return;
    Elf64_Phdr ph[64];
    if (!read_bytes(c, m->header + eh.e_phoff, ph, eh.e_phnum * sizeof ph[0]))
        return;
    const Elf64_Phdr *eh_frame = NULL;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0 && !m->has_bias) {
            m->bias = m->header - (ph[i].p_vaddr & ~(uint64_t)(PAGE - 1));
            m->has_bias = true;
        } else if (ph[i].p_type == PT_GNU_EH_FRAME) {
            eh_frame = &ph[i];
        }
    }
    if (!m->has_bias || !eh_frame)
        return;
    /* .eh_frame_hdr: version 1, the encodings of eh_frame_ptr, fde_count
     * and the table, then those; the table is what libunwind searches and
     * it must be (datarel | sdata4) pairs. */
    uint64_t hdr = m->bias + eh_frame->p_vaddr;
    uint8_t head[12];
    if (!read_bytes(c, hdr, head, sizeof head) || head[0] != 1 ||
        (head[1] & 0x0f) != 0x0b /* sdata4 */ || head[2] != 0x03 /* udata4 */ ||
        head[3] != 0x3b /* datarel|sdata4 */)
        return;
    uint32_t fde_count;
    memcpy(&fde_count, head + 8, sizeof fde_count);
    m->table = (unw_dyn_info_t){
        .start_ip = m->start,
        .end_ip = m->end,
        .format = UNW_INFO_FORMAT_REMOTE_TABLE,
        .u.rti = {
            .segbase = hdr,
            .table_len = fde_count * 8 / sizeof(unw_word_t),
            .table_data = hdr + sizeof head,
        },
    };
    m->has_table = fde_count > 0;
}

/* ---- libunwind accessors ------------------------------------------------------ */

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    struct capture *c = arg;
    struct module *m = unwind_module_at(c, ip);
    if (!m || m->anonymous)
        return -UNW_ENOINFO; /* JIT code: the frame-pointer chain will do */
    unwind_module_layout(c, m);
    if (!m->has_table)
        return -UNW_ENOINFO;
    return _Ux86_64_dwarf_search_unwind_table(as, ip, &m->table, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    (void)as;
    (void)arg;
    free(pi->unwind_info);
    pi->unwind_info = NULL;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as;
    (void)addr;
    (void)arg;
    return -UNW_ENOINFO; /* no dynamic unwind registrations are followed */
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *value, int write,
                      void *arg)
{
    (void)as;
    struct capture *c = arg;
    if (write)
        return -UNW_EINVAL; /* we never write to the target */
    uint64_t word;
    if (read_word(c, addr, &word)) {
        *value = word;
        return 0;
    }
    /* Defined even on failure: libunwind's fallback paths do not all look
     * at the error before they use the word. */
    *value = 0;
    return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *value, int write,
                      void *arg)
{
    (void)as;
    struct capture *c = arg;
    const struct stack_regs *r = &c->regs;
    if (write)
        return -UNW_EINVAL;
    switch (reg) {
    case UNW_X86_64_RAX: *value = r->ax; break;
    case UNW_X86_64_RDX: *value = r->dx; break;
    case UNW_X86_64_RCX: *value = r->cx; break;
    case UNW_X86_64_RBX: *value = r->bx; break;
    case UNW_X86_64_RSI: *value = r->si; break;
    case UNW_X86_64_RDI: *value = r->di; break;
    case UNW_X86_64_RBP: *value = r->bp; break;
    case UNW_X86_64_RSP: *value = r->sp; break;
    case UNW_X86_64_R8: *value = r->r8; break;
    case UNW_X86_64_R9: *value = r->r9; break;
    case UNW_X86_64_R10: *value = r->r10; break;
    case UNW_X86_64_R11: *value = r->r11; break;
    case UNW_X86_64_R12: *value = r->r12; break;
    case UNW_X86_64_R13: *value = r->r13; break;
    case UNW_X86_64_R14: *value = r->r14; break;
    case UNW_X86_64_R15: *value = r->r15; break;
    case UNW_X86_64_RIP: *value = r->ip; break;
    default: return -UNW_EBADREG;
    }
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *value, int write,
                        void *arg)
{
    (void)as;
    (void)reg;
    (void)value;
    (void)write;
    (void)arg;
    return -UNW_EBADREG; /* unwinding needs no floating-point register */
}

static int resume(unw_addr_space_t as, unw_cursor_t *cursor, void *arg)
{
    (void)as;
    (void)cursor;
    (void)arg;
    return -UNW_EINVAL; /* we only look */
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
                         unw_word_t *offset, void *arg)
{
    (void)as;
    (void)addr;
    (void)buf;
    (void)len;
    (void)offset;
    (void)arg;
    return -UNW_ENOINFO; /* symbols are ours: see symbolize() */
}

/* ---- the walk ------------------------------------------------------------------------ */

/* One step up the frame-pointer chain from a frame with stack pointer sp
 * and frame pointer rbp: valid only when rbp points into the same stack,
 * above sp, aligned, and holds a non-zero return address. */
static bool frame_pointer_step(struct capture *c, uint64_t sp, uint64_t rbp, uint64_t *ip,
                               uint64_t *next_sp, uint64_t *next_rbp)
{
    const struct map_entry *stack = c->space->maps_valid ? maps_lookup(&c->space->maps, sp) : NULL;
    if (!stack || (rbp & 7) || rbp < sp || rbp >= stack->end || stack->end - rbp < 16)
        return false;
    uint64_t saved_rbp, ret;
    if (!read_word(c, rbp, &saved_rbp) || !read_word(c, rbp + 8, &ret) || ret == 0)
        return false;
    *ip = ret;
    *next_sp = rbp + 16;
    *next_rbp = saved_rbp;
    return true;
}

static struct unwind_space *space_new(struct unwinder *u, pid_t pid)
{
    struct unwind_space *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->u = u;
    s->pid = pid;
    s->pagemap_fd = -1;
    s->as = unw_create_addr_space(&u->accessors, 0);
    if (!s->as) {
        free(s);
        return NULL;
    }
    /* libunwind caches the unwind rules of each ip it has seen: the
     * second stack through the same code costs no .eh_frame parsing. */
    unw_set_caching_policy(s->as, UNW_CACHE_GLOBAL);
    return s;
}

static int capture_untimed(struct unwinder *u, struct unwind_space **spacep, pid_t pid,
                           pid_t tid, const struct stack_regs *regs, struct stack_snapshot *out)
{
    *out = (struct stack_snapshot){.regs = *regs};
    if (!*spacep && !(*spacep = space_new(u, pid)))
        return -1;
    struct capture c = {.u = u, .space = *spacep, .tid = tid, .regs = *regs};
    /* The window ends with the stack's mapping: everything above the
     * stack pointer there has been used, so it is in memory; what lies
     * beyond may not be. */
    const struct map_entry *stack = NULL;
    if (!c.space->maps_valid) {
        load_modules(&c);
        c.maps_refreshed = true;
    }
    if (c.space->maps_valid && !(stack = maps_lookup(&c.space->maps, regs->sp)) &&
        !c.maps_refreshed) {
        load_modules(&c); /* a thread stack mapped since */
        stack = c.space->maps_valid ? maps_lookup(&c.space->maps, regs->sp) : NULL;
    }
    size_t want = stack ? (size_t)(stack->end - regs->sp < STACK_WINDOW
                                       ? stack->end - regs->sp : STACK_WINDOW) : 0;
    ssize_t n = want ? memread_read(tid, regs->sp, u->window, want) : 0;
    out->bytes = u->window;
    out->len = n > 0 ? (size_t)n : 0;
    return 0;
}

/* hotspot.h reads the target through the stack's own reader. */
static bool read_for_jvm(void *ctx, uint64_t addr, void *buf, size_t len)
{
    return read_bytes(ctx, addr, buf, len);
}

/* The last frame of out, in anonymous code of a HotSpot JVM, named
 * (symbol, source) and stepped by hotspot.h; methods the JIT inlined there
 * come first, as frames of the same ip. true when c->regs now hold its
 * caller's; false when it is no JVM frame or its caller was not found (the
 * frame-pointer chain is tried then, as for any JIT code). */
static bool java_frame(struct capture *c, struct stack *out, uint64_t sp, uint64_t fp)
{
    struct stack_frame *f = &out->frames[out->depth - 1];
    static const char *const sources[] = {
        [HOTSPOT_UNKNOWN] = "jvm", [HOTSPOT_INTERPRETED] = "jvm-interpreted",
        [HOTSPOT_COMPILED] = "jvm-compiled", [HOTSPOT_STUB] = "jvm-stub",
    };
    struct unwind_space *s = c->space;
    struct module *m = unwind_module_at(c, f->ip);
    if (!m || !m->anonymous || !s->maps_valid || !hotspot_libjvm(&s->maps) ||
        (!s->jvm && !(s->jvm = hotspot_new(s->pid))))
        return false;
    const struct map_entry *stack = maps_lookup(&s->maps, sp);
    struct hotspot_memory mem = {.read = read_for_jvm, .ctx = c};
    struct hotspot_regs regs = {.pc = f->ip, .sp = sp, .fp = fp};
    struct hotspot_result r;
    hotspot_frame(s->jvm, &s->maps, &mem, &regs, stack ? stack->start : 0,
                  stack ? stack->end : 0, &r);
    const char *why = hotspot_failure_once(s->jvm);
    if (why)
        log_warn("the Java frames of process %d cannot be named: its JVM's structure tables "
                 "(gHotSpotVMStructs in libjvm.so) are unusable: \"%s\"; they show as [java] "
                 "(a perf map, from jcmd %d Compiler.perfmap, still names compiled code)",
                 (int)s->pid, why, (int)s->pid);
    if (r.kind == HOTSPOT_NOT_JAVA)
        return false;
    for (unsigned i = 0; i < r.ninlined; i++) {
        if (out->depth == c->u->max_depth) {
            out->truncated = true;
            free(r.inlined[i]);
            continue;
        }
        f->source = "jvm-inlined";
        f->symbol = r.inlined[i];
        out->frames[out->depth] = (struct stack_frame){.ip = f->ip};
        f = &out->frames[out->depth++];
    }
    f->source = sources[r.kind];
    f->symbol = r.name ? r.name : strdup("[java]");
    if (!r.has_caller)
        return false;
    c->regs.ip = r.caller.pc;
    c->regs.sp = r.caller.sp;
    c->regs.bp = r.caller.pc ? r.caller.fp : 0;
    return true;
}

static int walk_untimed(struct unwinder *u, struct unwind_space **spacep, pid_t pid, pid_t tid,
                        uint32_t arch, const struct stack_snapshot *snap, struct stack *out)
{
    memset(out, 0, sizeof *out);
    if (arch != AUDIT_ARCH_X86_64)
        return -1; /* libunwind here unwinds x86_64 code only */
    if (!(out->frames = calloc(u->max_depth, sizeof *out->frames)))
        return -1;
    if (!*spacep && !(*spacep = space_new(u, pid)))
        return -1;
    struct capture c = {.u = u, .space = *spacep, .tid = tid, .regs = snap->regs,
                        .window = snap->bytes, .window_start = snap->regs.sp,
                        .window_len = snap->len};
    if (!c.space->maps_valid) {
        load_modules(&c);
        c.maps_refreshed = true;
    }
    u->stats.stacks++;

    unw_cursor_t cursor;
    int rc = unw_init_remote(&cursor, c.space->as, &c);
    while (rc >= 0) {
        unw_word_t ip = 0, sp = 0, rbp = 0;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        unw_get_reg(&cursor, UNW_REG_SP, &sp);
        if (ip == 0)
            break;
        if (out->depth == u->max_depth) {
            out->truncated = true;
            break;
        }
        out->frames[out->depth++].ip = ip;
        unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp);
        if (java_frame(&c, out, sp, rbp)) {
            rc = unw_init_remote(&cursor, c.space->as, &c);
            continue;
        }
        int step = unw_step(&cursor);
        if (step > 0) {
            unw_word_t next_sp = 0;
            unw_get_reg(&cursor, UNW_REG_SP, &next_sp);
            if (next_sp < sp)
                break; /* a stack grows one way: this is garbage */
            continue;
        }
        /* libunwind found no rule for this frame (code without unwind
         * information) or thinks it is the outermost: try the chain. */
        uint64_t next_ip, next_sp, next_rbp;
        unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp);
        if (!frame_pointer_step(&c, sp, rbp, &next_ip, &next_sp, &next_rbp))
            break;
        u->stats.fp_steps++;
        c.regs.ip = next_ip;
        c.regs.sp = next_sp;
        c.regs.bp = next_rbp;
        rc = unw_init_remote(&cursor, c.space->as, &c);
    }
    if (out->depth == 0) {
        out->frames[0].ip = snap->regs.ip;
        out->depth = 1;
    }
    for (unsigned i = 0; i < out->depth; i++)
        unwind_symbolize(&c, &out->frames[i], i == 0);
    u->stats.frames += out->depth;
    return 0;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Both steps are timed, so that -v can say what -k cost the tracer (and,
 * at a stop, the stopped thread) from inside: outside figures are
 * differences of noisy run times. */
int unwind_capture(struct unwinder *u, struct unwind_space **spacep, pid_t pid, pid_t tid,
                   const struct stack_regs *regs, struct stack_snapshot *out)
{
    uint64_t t0 = monotonic_ns();
    int rc = capture_untimed(u, spacep, pid, tid, regs, out);
    u->stats.ns += monotonic_ns() - t0;
    return rc;
}

int unwind_walk(struct unwinder *u, struct unwind_space **spacep, pid_t pid, pid_t tid,
                uint32_t arch, const struct stack_snapshot *snap, struct stack *out)
{
    uint64_t t0 = monotonic_ns();
    int rc = walk_untimed(u, spacep, pid, tid, arch, snap, out);
    u->stats.ns += monotonic_ns() - t0;
    return rc;
}

/* ---- invalidation and life ----------------------------------------------------------------- */

/* Whether [addr, addr + len) touches code or read-only file data that we
 * may hold in the caches. */
static bool touches_cached(const struct unwind_space *s, uint64_t addr, uint64_t len)
{
    uint64_t end = addr + decode_page_align(len);
    if (end < addr)
        end = UINT64_MAX;
    for (size_t i = 0; i < s->maps.count; i++) {
        const struct map_entry *e = &s->maps.entries[i];
        if (e->end <= addr || e->start >= end)
            continue;
        if (e->prot[2] == 'x' || (is_file_path(e) && e->prot[1] != 'w'))
            return true;
    }
    return false;
}

void unwind_space_note_map_call(struct unwind_space *s, const struct map_call *call)
{
    if (!s)
        return;
    switch (call->kind) {
    case MAP_CALL_MMAP:
        if ((call->flags & MAP_FIXED) && touches_cached(s, call->addr, call->len))
            drop_all(s);
        else if (call->prot & PROT_EXEC)
            s->maps_valid = false; /* a new module */
        break;
    case MAP_CALL_MUNMAP:
    case MAP_CALL_MREMAP:
        if (touches_cached(s, call->addr, call->len))
            drop_all(s);
        break;
    case MAP_CALL_MPROTECT:
        if (touches_cached(s, call->addr, call->len))
            drop_all(s);
        else if (call->prot & PROT_EXEC)
            s->maps_valid = false;
        break;
    case MAP_CALL_BRK: /* the heap holds no code */
    case MAP_CALL_NONE:
        break;
    }
}

void unwind_space_free(struct unwind_space *s)
{
    if (!s)
        return;
    drop_pages(s);
    free_modules(s);
    maps_release(&s->maps);
    symtab_free(s->perf_map);
    hotspot_free(s->jvm);
    if (s->pagemap_fd >= 0)
        close(s->pagemap_fd);
    unw_destroy_addr_space(s->as);
    free(s);
}

struct unwinder *unwinder_new(unsigned max_depth)
{
    struct unwinder *u = calloc(1, sizeof *u);
    if (!u) {
        log_error("out of memory");
        return NULL;
    }
    u->max_depth = max_depth ? max_depth : 1;
    u->accessors = (unw_accessors_t){
        .find_proc_info = find_proc_info,
        .put_unwind_info = put_unwind_info,
        .get_dyn_info_list_addr = get_dyn_info_list_addr,
        .access_mem = access_mem,
        .access_reg = access_reg,
        .access_fpreg = access_fpreg,
        .resume = resume,
        .get_proc_name = get_proc_name,
    };
    return u;
}

void unwinder_free(struct unwinder *u)
{
    if (!u)
        return;
    while (u->files) {
        struct elf_file *f = u->files;
        u->files = f->next;
        symtab_free(f->symbols);
        symtab_free(f->debug_symbols);
        if (f->fd >= 0)
            close(f->fd);
        free(f->path);
        free(f);
    }
    free(u);
}

void unwinder_stats(const struct unwinder *u, struct unwind_stats *out)
{
    if (u)
        *out = u->stats;
    else
        memset(out, 0, sizeof *out);
}
