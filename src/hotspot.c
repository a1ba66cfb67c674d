/*
 * hotspot: Java frames of a HotSpot JVM named from the JVM's own exported
 * description of its structures. See include/hotspot.h.
 *
 * Everything read here comes from the target and is untrusted: every
 * pointer is checked for alignment before it is followed, every count and
 * index against a bound, every string for length and characters. A check
 * that fails makes the frame "[java]"; a table that fails makes every
 * frame "[java]" for the rest of the run.
 */
#include "hotspot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "javaname.h"
#include "symtab.h"

/* Bounds on what the tables and structures may hold. */
#define TABLE_ENTRIES_MAX 20000  /* JDK 17 has about 1,300 structure entries */
#define ENTRY_STRIDE_MAX 256
#define TABLE_STRING_MAX 128     /* type and field names */
#define CODE_HEAPS_MAX 16
#define SEGMAP_HOPS_MAX 4096     /* 4096 hops of 254 segments: blobs up to 64 MiB */
#define SEGMAP_UNUSED 0xff       /* CodeHeap's free_sentinel */
#define SYMBOL_MAX JAVANAME_PART_MAX /* a longer class or method name is refused */
#define CP_LENGTH_MAX 65536      /* constant pool indices are u2 */
#define METHODS_MAX 65536
#define FRAME_WORDS_MAX (1u << 16)
#define NAME_CACHE_SIZE 1024     /* Method* -> name, direct mapped */

/* The structure fields used, by (type, field); alt: the name another JDK
 * gives it. */
enum field {
    F_CODECACHE_HEAPS,
    F_GROWABLE_LEN,
    F_GROWABLE_DATA,
    F_CODEHEAP_MEMORY,
    F_CODEHEAP_SEGMAP,
    F_CODEHEAP_LOG2_SEGMENT,
    F_VSPACE_LOW_BOUNDARY,
    F_VSPACE_HIGH_BOUNDARY,
    F_VSPACE_LOW,
    F_HEAPBLOCK_USED,
    F_BLOB_NAME,
    F_BLOB_FRAME_SIZE,
    F_BLOB_CODE_BEGIN,
    F_BLOB_CODE_END,
    F_NMETHOD_METHOD,
    F_METHOD_CONSTMETHOD,
    F_CONSTMETHOD_CONSTANTS,
    F_CONSTMETHOD_NAME_INDEX,
    F_CONSTMETHOD_SIGNATURE_INDEX,
    F_POOL_HOLDER,
    F_POOL_LENGTH,
    F_KLASS_NAME,
    F_KLASS_METHODS,
    F_SYMBOL_LENGTH,
    F_SYMBOL_BODY,
    F_ARRAY_LENGTH,
    F_METHOD_ARRAY_DATA,
    /* For inlined frames only: without them, compiled frames are still named. */
    F_NMETHOD_METADATA,
    F_NMETHOD_SCOPES_PCS,
    F_NMETHOD_DEPENDENCIES,
    F_SCOPES_DATA_BEGIN,
    F_PCDESC_PC_OFFSET,
    F_PCDESC_SCOPE_OFFSET,
    F_COUNT
};
#define F_REQUIRED F_NMETHOD_METADATA

static const struct {
    const char *type, *field, *alt_type;
} wanted_fields[F_COUNT] = {
    [F_CODECACHE_HEAPS] = {"CodeCache", "_heaps", NULL},
    [F_GROWABLE_LEN] = {"GrowableArrayBase", "_len", "GenericGrowableArray"},
    [F_GROWABLE_DATA] = {"GrowableArray<int>", "_data", NULL},
    [F_CODEHEAP_MEMORY] = {"CodeHeap", "_memory", NULL},
    [F_CODEHEAP_SEGMAP] = {"CodeHeap", "_segmap", NULL},
    [F_CODEHEAP_LOG2_SEGMENT] = {"CodeHeap", "_log2_segment_size", NULL},
    [F_VSPACE_LOW_BOUNDARY] = {"VirtualSpace", "_low_boundary", NULL},
    [F_VSPACE_HIGH_BOUNDARY] = {"VirtualSpace", "_high_boundary", NULL},
    [F_VSPACE_LOW] = {"VirtualSpace", "_low", NULL},
    [F_HEAPBLOCK_USED] = {"HeapBlock::Header", "_used", NULL},
    [F_BLOB_NAME] = {"CodeBlob", "_name", NULL},
    [F_BLOB_FRAME_SIZE] = {"CodeBlob", "_frame_size", NULL},
    [F_BLOB_CODE_BEGIN] = {"CodeBlob", "_code_begin", NULL},
    [F_BLOB_CODE_END] = {"CodeBlob", "_code_end", NULL},
    [F_NMETHOD_METHOD] = {"CompiledMethod", "_method", "nmethod"},
    [F_METHOD_CONSTMETHOD] = {"Method", "_constMethod", NULL},
    [F_CONSTMETHOD_CONSTANTS] = {"ConstMethod", "_constants", NULL},
    [F_CONSTMETHOD_NAME_INDEX] = {"ConstMethod", "_name_index", NULL},
    [F_CONSTMETHOD_SIGNATURE_INDEX] = {"ConstMethod", "_signature_index", NULL},
    [F_POOL_HOLDER] = {"ConstantPool", "_pool_holder", NULL},
    [F_POOL_LENGTH] = {"ConstantPool", "_length", NULL},
    [F_KLASS_NAME] = {"Klass", "_name", NULL},
    [F_KLASS_METHODS] = {"InstanceKlass", "_methods", NULL},
    [F_SYMBOL_LENGTH] = {"Symbol", "_length", NULL},
    [F_SYMBOL_BODY] = {"Symbol", "_body", NULL},
    [F_ARRAY_LENGTH] = {"Array<int>", "_length", NULL},
    [F_METHOD_ARRAY_DATA] = {"Array<Method*>", "_data", NULL},
    [F_NMETHOD_METADATA] = {"nmethod", "_metadata_offset", NULL},
    [F_NMETHOD_SCOPES_PCS] = {"nmethod", "_scopes_pcs_offset", NULL},
    [F_NMETHOD_DEPENDENCIES] = {"nmethod", "_dependencies_offset", NULL},
    [F_SCOPES_DATA_BEGIN] = {"CompiledMethod", "_scopes_data_begin", "nmethod"},
    [F_PCDESC_PC_OFFSET] = {"PcDesc", "_pc_offset", NULL},
    [F_PCDESC_SCOPE_OFFSET] = {"PcDesc", "_scope_decode_offset", NULL},
};

/* Type sizes used. */
enum type { T_CONSTANT_POOL, T_HEAPBLOCK, T_PCDESC, T_COUNT };
#define T_REQUIRED T_PCDESC
static const char *const wanted_types[T_COUNT] = {"ConstantPool", "HeapBlock", "PcDesc"};

/* The exported symbols, in this order. */
enum sym {
    S_STRUCTS, S_STRUCT_TYPE_NAME, S_STRUCT_FIELD_NAME, S_STRUCT_TYPE_STRING,
    S_STRUCT_IS_STATIC, S_STRUCT_OFFSET, S_STRUCT_ADDRESS, S_STRUCT_STRIDE,
    S_TYPES, S_TYPE_TYPE_NAME, S_TYPE_SIZE, S_TYPE_STRIDE,
    S_INTS, S_INT_NAME, S_INT_VALUE, S_INT_STRIDE,
    S_COUNT
};
static const char *const symbol_names[S_COUNT] = {
    "gHotSpotVMStructs", "gHotSpotVMStructEntryTypeNameOffset",
    "gHotSpotVMStructEntryFieldNameOffset", "gHotSpotVMStructEntryTypeStringOffset",
    "gHotSpotVMStructEntryIsStaticOffset", "gHotSpotVMStructEntryOffsetOffset",
    "gHotSpotVMStructEntryAddressOffset", "gHotSpotVMStructEntryArrayStride",
    "gHotSpotVMTypes", "gHotSpotVMTypeEntryTypeNameOffset", "gHotSpotVMTypeEntrySizeOffset",
    "gHotSpotVMTypeEntryArrayStride",
    "gHotSpotVMIntConstants", "gHotSpotVMIntConstantEntryNameOffset",
    "gHotSpotVMIntConstantEntryValueOffset", "gHotSpotVMIntConstantEntryArrayStride",
};

struct field_info {
    bool found;
    uint64_t value; /* offset, or the address of a static field */
    unsigned size;  /* bytes; 0 when the type's size is unknown (structs) */
};

struct cached_name {
    uint64_t method, const_method;
    char *name;
};

struct code_heap {
    uint64_t low, high, segmap;
    unsigned log2_segment;
};

enum load_state { LOAD_NOT_YET, LOAD_OK, LOAD_BAD };

struct hotspot {
    pid_t pid;
    enum load_state state;
    char status[160];
    bool failure_told;
    bool symbols_done;
    uint64_t symbols[S_COUNT]; /* absolute addresses in the target; 0: absent */
    unsigned load_attempts;
    struct field_info fields[F_COUNT];
    uint64_t type_size[T_COUNT];
    int64_t interp_method_offset, interp_sender_sp_offset; /* words from fp */
    bool inlining;          /* the scope data can be read: inlined frames are shown */
    struct code_heap heaps[CODE_HEAPS_MAX];
    unsigned nheaps;
    struct cached_name names[NAME_CACHE_SIZE];
};

/* ---- reading ------------------------------------------------------------ */

static bool rd(const struct hotspot_memory *m, uint64_t addr, void *buf, size_t len)
{
    return addr != 0 && addr <= UINT64_MAX - len && m->read(m->ctx, addr, buf, len);
}

static bool rd_u64(const struct hotspot_memory *m, uint64_t addr, uint64_t *v)
{
    return rd(m, addr, v, sizeof *v);
}

/* An unsigned integer of size bytes (1, 2, 4 or 8). */
static bool rd_uint(const struct hotspot_memory *m, uint64_t addr, unsigned size, uint64_t *v)
{
    uint8_t b1;
    uint16_t b2;
    uint32_t b4;
    switch (size) {
    case 1: if (!rd(m, addr, &b1, 1)) return false; *v = b1; return true;
    case 2: if (!rd(m, addr, &b2, 2)) return false; *v = b2; return true;
    case 4: if (!rd(m, addr, &b4, 4)) return false; *v = b4; return true;
    case 8: return rd_u64(m, addr, v);
    default: return false;
    }
}

/* A pointer that may be followed: non-null, word-aligned, user space. */
static bool plausible_ptr(uint64_t p) { return p >= 4096 && (p & 7) == 0 && p < (1ULL << 47); }

/* The NUL-terminated string at addr, at most size - 1 bytes; false when
 * it is longer, unreadable or holds a non-printable byte. */
static bool rd_cstring(const struct hotspot_memory *m, uint64_t addr, char *out, size_t size)
{
    size_t len = 0;
    while (len < size) {
        size_t in_page = 4096 - (size_t)((addr + len) & 4095);
        size_t n = size - len < in_page ? size - len : in_page;
        if (!rd(m, addr + len, out + len, n))
            return false;
        for (size_t i = len; i < len + n; i++) {
            if (out[i] == '\0')
                return true;
            if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
                return false;
        }
        len += n;
    }
    return false;
}

/* ---- the tables ----------------------------------------------------------- */

const char *hotspot_libjvm(const struct maps_list *maps)
{
    for (size_t i = 0; i < maps->count; i++) {
        const char *p = maps->entries[i].path;
        const char *slash = strrchr(p, '/');
        if (p[0] == '/' && slash && strcmp(slash + 1, "libjvm.so") == 0)
            return p;
    }
    return NULL;
}

static void set_bad(struct hotspot *hs, const char *why)
{
    hs->state = LOAD_BAD;
    snprintf(hs->status, sizeof hs->status, "%s", why);
}

/* The absolute addresses of the exported symbols: libjvm.so's file read
 * through the mapping (or its path under the process's root, if it is
 * still the mapped inode), its load bias from the offset-0 mapping. */
static bool find_symbols(struct hotspot *hs, const struct maps_list *maps)
{
    const struct map_entry *first = NULL;
    for (size_t i = 0; i < maps->count && !first; i++) {
        const struct map_entry *e = &maps->entries[i];
        const char *slash = strrchr(e->path, '/');
        if (e->path[0] == '/' && slash && strcmp(slash + 1, "libjvm.so") == 0 && e->offset == 0)
            first = e;
    }
    if (!first)
        return false;
    char path[4200];
    snprintf(path, sizeof path, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)hs->pid,
             first->start, first->end);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(path, sizeof path, "/proc/%d/root%s", (int)hs->pid, first->path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != first->inode)) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        set_bad(hs, "libjvm.so could not be opened");
        return false;
    }
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    uint64_t load_vaddr = UINT64_MAX;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && eh.e_phentsize == sizeof ph &&
        eh.e_phnum <= 64) {
        for (unsigned i = 0; i < eh.e_phnum; i++)
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) ==
                    (ssize_t)sizeof ph &&
                ph.p_type == PT_LOAD && ph.p_offset == 0) {
                load_vaddr = ph.p_vaddr & ~(uint64_t)4095;
                break;
            }
    }
    int found = load_vaddr == UINT64_MAX ? -1
                                         : symtab_elf_values(fd, symbol_names, S_COUNT, hs->symbols);
    close(fd);
    if (found != S_COUNT) {
        set_bad(hs, "libjvm.so does not export the gHotSpotVM tables");
        return false;
    }
    for (unsigned i = 0; i < S_COUNT; i++)
        hs->symbols[i] += first->start - load_vaddr;
    return true;
}

/* The companion symbols: the layout of one table's entries. */
struct layout {
    uint64_t base, stride, off[6];
    unsigned noff;
};

static int read_layout(struct hotspot *hs, const struct hotspot_memory *m, enum sym table,
                       unsigned noff, struct layout *out)
{
    out->noff = noff;
    if (!rd_u64(m, hs->symbols[table], &out->base))
        return -1;
    for (unsigned i = 0; i < noff; i++)
        if (!rd_u64(m, hs->symbols[table + 1 + i], &out->off[i]))
            return -1;
    if (!rd_u64(m, hs->symbols[table + 1 + noff], &out->stride))
        return -1;
    if (out->stride == 0 && out->base)
        return 0; /* static initializers not run yet: look again later */
    if (!plausible_ptr(out->base) || out->stride < 16 || out->stride > ENTRY_STRIDE_MAX)
        return -1;
    for (unsigned i = 0; i < noff; i++)
        if (out->off[i] > out->stride - 4)
            return -1;
    return 1;
}

/* Reads one entry of a table: false at its end (a NULL first name) or on
 * a read error (*bad). */
static bool read_entry(const struct hotspot_memory *m, const struct layout *l, unsigned index,
                       uint8_t *entry, bool *bad)
{
    if (!rd(m, l->base + (uint64_t)index * l->stride, entry, l->stride)) {
        *bad = true;
        return false;
    }
    uint64_t first;
    memcpy(&first, entry + l->off[0], sizeof first);
    return first != 0;
}

static uint64_t entry_u64(const uint8_t *entry, uint64_t off)
{
    uint64_t v;
    memcpy(&v, entry + off, sizeof v);
    return v;
}

static unsigned scalar_size(const char *type)
{
    size_t len = strlen(type);
    if ((len && type[len - 1] == '*') || strcmp(type, "address") == 0 ||
        strcmp(type, "size_t") == 0 || strcmp(type, "intx") == 0 || strcmp(type, "uintx") == 0)
        return 8;
    if (strcmp(type, "int") == 0 || strcmp(type, "jint") == 0 || strcmp(type, "uint") == 0 ||
        strcmp(type, "juint") == 0 || strcmp(type, "u4") == 0)
        return 4;
    if (strcmp(type, "u2") == 0 || strcmp(type, "jushort") == 0)
        return 2;
    if (strcmp(type, "bool") == 0 || strcmp(type, "u1") == 0)
        return 1;
    return 0;
}

static const char *load_structs(struct hotspot *hs, const struct hotspot_memory *m,
                                const struct layout *l)
{
    /* off: type name, field name, type string, is static, offset, address */
    uint8_t entry[ENTRY_STRIDE_MAX];
    bool bad = false;
    for (unsigned i = 0; i < TABLE_ENTRIES_MAX; i++) {
        if (!read_entry(m, l, i, entry, &bad))
            return bad ? "the structure table could not be read" : NULL;
        char type[TABLE_STRING_MAX], field[TABLE_STRING_MAX], type_string[TABLE_STRING_MAX];
        uint64_t field_ptr = entry_u64(entry, l->off[1]);
        if (!rd_cstring(m, entry_u64(entry, l->off[0]), type, sizeof type))
            return "a structure entry has no readable type name";
        if (!field_ptr)
            continue; /* a type-only entry */
        if (!rd_cstring(m, field_ptr, field, sizeof field))
            return "a structure entry has no readable field name";
        for (unsigned f = 0; f < F_COUNT; f++) {
            if (hs->fields[f].found || strcmp(field, wanted_fields[f].field) != 0 ||
                (strcmp(type, wanted_fields[f].type) != 0 &&
                 (!wanted_fields[f].alt_type || strcmp(type, wanted_fields[f].alt_type) != 0)))
                continue;
            uint64_t ts = entry_u64(entry, l->off[2]);
            int32_t is_static;
            memcpy(&is_static, entry + l->off[3], sizeof is_static);
            hs->fields[f].found = true;
            hs->fields[f].value = entry_u64(entry, is_static ? l->off[5] : l->off[4]);
            hs->fields[f].size =
                ts && rd_cstring(m, ts, type_string, sizeof type_string) ? scalar_size(type_string) : 0;
            if (hs->fields[f].value > (is_static ? UINT64_MAX : 65536))
                return "a structure field has an absurd offset";
            if (is_static && !plausible_ptr(hs->fields[f].value))
                return "a static structure field has an absurd address";
        }
    }
    return "the structure table has no end";
}

static const char *load_types(struct hotspot *hs, const struct hotspot_memory *m,
                              const struct layout *l)
{
    uint8_t entry[ENTRY_STRIDE_MAX];
    bool bad = false;
    for (unsigned i = 0; i < TABLE_ENTRIES_MAX; i++) {
        if (!read_entry(m, l, i, entry, &bad))
            return bad ? "the type table could not be read" : NULL;
        char type[TABLE_STRING_MAX];
        if (!rd_cstring(m, entry_u64(entry, l->off[0]), type, sizeof type))
            return "a type entry has no readable name";
        for (unsigned t = 0; t < T_COUNT; t++)
            if (strcmp(type, wanted_types[t]) == 0) {
                hs->type_size[t] = entry_u64(entry, l->off[1]);
                if (hs->type_size[t] == 0 || hs->type_size[t] > 65536)
                    return "a type has an absurd size";
            }
    }
    return "the type table has no end";
}

static const char *load_int_constants(struct hotspot *hs, const struct hotspot_memory *m,
                                      const struct layout *l, bool *have_sender, bool *have_last)
{
    uint8_t entry[ENTRY_STRIDE_MAX];
    bool bad = false;
    for (unsigned i = 0; i < TABLE_ENTRIES_MAX; i++) {
        if (!read_entry(m, l, i, entry, &bad))
            return bad ? "the constant table could not be read" : NULL;
        char name[TABLE_STRING_MAX];
        if (!rd_cstring(m, entry_u64(entry, l->off[0]), name, sizeof name))
            return "a constant has no readable name";
        int32_t value;
        memcpy(&value, entry + l->off[1], sizeof value);
        if (strcmp(name, "frame::interpreter_frame_sender_sp_offset") == 0) {
            hs->interp_sender_sp_offset = value;
            *have_sender = true;
        } else if (strcmp(name, "frame::interpreter_frame_last_sp_offset") == 0) {
            /* x86_64 (frame_x86.hpp): the Method* is the slot below last_sp. */
            hs->interp_method_offset = (int64_t)value - 1;
            *have_last = true;
        }
    }
    return "the constant table has no end";
}

/* The code heaps: CodeCache::_heaps, a GrowableArray<CodeHeap*>. Their
 * reserved ranges never move, so they are read once. */
static const char *load_heaps(struct hotspot *hs, const struct hotspot_memory *m)
{
    const struct field_info *f = hs->fields;
    uint64_t array, data, len;
    if (!rd_u64(m, f[F_CODECACHE_HEAPS].value, &array) || !plausible_ptr(array) ||
        !rd_uint(m, array + f[F_GROWABLE_LEN].value, 4, &len) ||
        !rd_u64(m, array + f[F_GROWABLE_DATA].value, &data))
        return "CodeCache::_heaps could not be read";
    if (len == 0)
        return NULL; /* not set up yet */
    if (len > CODE_HEAPS_MAX || !plausible_ptr(data))
        return "CodeCache::_heaps makes no sense";
    for (unsigned i = 0; i < len; i++) {
        uint64_t heap, log2;
        struct code_heap *h = &hs->heaps[i];
        uint64_t mem = f[F_CODEHEAP_MEMORY].value, seg = f[F_CODEHEAP_SEGMAP].value;
        if (!rd_u64(m, data + 8 * i, &heap) || !plausible_ptr(heap) ||
            !rd_u64(m, heap + mem + f[F_VSPACE_LOW_BOUNDARY].value, &h->low) ||
            !rd_u64(m, heap + mem + f[F_VSPACE_HIGH_BOUNDARY].value, &h->high) ||
            !rd_u64(m, heap + seg + f[F_VSPACE_LOW].value, &h->segmap) ||
            !rd_uint(m, heap + f[F_CODEHEAP_LOG2_SEGMENT].value, 4, &log2))
            return "a code heap could not be read";
        if (h->low >= h->high || !plausible_ptr(h->low) || !plausible_ptr(h->segmap) ||
            log2 < 4 || log2 > 16)
            return "a code heap makes no sense";
        h->log2_segment = (unsigned)log2;
    }
    hs->nheaps = (unsigned)len;
    return NULL;
}

/* Reads the tables once: LOAD_OK, LOAD_BAD (with the reason in status),
 * or LOAD_NOT_YET (the JVM has not initialized them: look again on a
 * later stack). */
static void load(struct hotspot *hs, const struct maps_list *maps, const struct hotspot_memory *m)
{
    if (!hs->symbols_done) {
        hs->symbols_done = true;
        if (!find_symbols(hs, maps)) {
            if (hs->state != LOAD_BAD)
                set_bad(hs, "libjvm.so is not mapped from its start");
            return;
        }
    }
    if (++hs->load_attempts > 64) {
        set_bad(hs, "the JVM's tables were never initialized");
        return;
    }
    struct layout structs, types, ints;
    int a = read_layout(hs, m, S_STRUCTS, 6, &structs);
    int b = read_layout(hs, m, S_TYPES, 2, &types);
    int c = read_layout(hs, m, S_INTS, 2, &ints);
    if (a < 0 || b < 0 || c < 0) {
        set_bad(hs, "the layout of the JVM's tables makes no sense");
        return;
    }
    if (a == 0 || b == 0 || c == 0)
        return;
    bool have_sender = false, have_last = false;
    const char *why = load_structs(hs, m, &structs);
    if (!why)
        why = load_types(hs, m, &types);
    if (!why)
        why = load_int_constants(hs, m, &ints, &have_sender, &have_last);
    if (why) {
        set_bad(hs, why);
        return;
    }
    hs->inlining = true;
    for (unsigned f = F_REQUIRED; f < F_COUNT; f++)
        hs->inlining &= hs->fields[f].found;
    for (unsigned t = T_REQUIRED; t < T_COUNT; t++)
        hs->inlining &= hs->type_size[t] != 0;
    for (unsigned f = 0; f < F_REQUIRED; f++)
        if (!hs->fields[f].found) {
            snprintf(hs->status, sizeof hs->status, "this JVM has no %s::%s",
                     wanted_fields[f].type, wanted_fields[f].field);
            hs->state = LOAD_BAD;
            return;
        }
    for (unsigned t = 0; t < T_REQUIRED; t++)
        if (!hs->type_size[t]) {
            snprintf(hs->status, sizeof hs->status, "this JVM has no type %s", wanted_types[t]);
            hs->state = LOAD_BAD;
            return;
        }
    if (!have_sender || !have_last) {
        set_bad(hs, "this JVM does not export its interpreter frame layout");
        return;
    }
    if ((why = load_heaps(hs, m))) {
        set_bad(hs, why);
        return;
    }
    if (hs->nheaps > 0)
        hs->state = LOAD_OK;
}

/* ---- names ------------------------------------------------------------------ */

/* The bytes of Symbol sym (a class name, method name or signature). */
static bool rd_symbol(struct hotspot *hs, const struct hotspot_memory *m, uint64_t sym,
                      char *out, size_t size)
{
    uint64_t len;
    if (!plausible_ptr(sym) ||
        !rd_uint(m, sym + hs->fields[F_SYMBOL_LENGTH].value, 2, &len) || len == 0 ||
        len >= size || !rd(m, sym + hs->fields[F_SYMBOL_BODY].value, out, len))
        return false;
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return false;
    return true;
}

/* The name of Method* method, checked every step of the way; NULL when
 * any read does not make sense. */
static char *method_name(struct hotspot *hs, const struct hotspot_memory *m, uint64_t method)
{
    const struct field_info *f = hs->fields;
    uint64_t cm, cp, holder, name_idx, sig_idx, cp_len, sym_name, sym_sig, sym_klass;
    if (!plausible_ptr(method) || !rd_u64(m, method + f[F_METHOD_CONSTMETHOD].value, &cm) ||
        !plausible_ptr(cm))
        return NULL;
    struct cached_name *slot = &hs->names[(method >> 3) % NAME_CACHE_SIZE];
    if (slot->method == method && slot->const_method == cm)
        return strdup(slot->name);
    if (!rd_u64(m, cm + f[F_CONSTMETHOD_CONSTANTS].value, &cp) || !plausible_ptr(cp) ||
        !rd_uint(m, cm + f[F_CONSTMETHOD_NAME_INDEX].value, 2, &name_idx) ||
        !rd_uint(m, cm + f[F_CONSTMETHOD_SIGNATURE_INDEX].value, 2, &sig_idx) ||
        !rd_u64(m, cp + f[F_POOL_HOLDER].value, &holder) || !plausible_ptr(holder) ||
        !rd_uint(m, cp + f[F_POOL_LENGTH].value, 4, &cp_len))
        return NULL;
    if (cp_len == 0 || cp_len > CP_LENGTH_MAX || name_idx == 0 || name_idx >= cp_len ||
        sig_idx == 0 || sig_idx >= cp_len)
        return NULL;
    uint64_t slots = cp + hs->type_size[T_CONSTANT_POOL];
    if (!rd_u64(m, slots + 8 * name_idx, &sym_name) ||
        !rd_u64(m, slots + 8 * sig_idx, &sym_sig) ||
        !rd_u64(m, holder + f[F_KLASS_NAME].value, &sym_klass))
        return NULL;
    /* The method must be one of its holder's: a stale or wrong Method*
     * that still reads as names would otherwise name the wrong code. */
    uint64_t methods, count;
    if (!rd_u64(m, holder + f[F_KLASS_METHODS].value, &methods) || !plausible_ptr(methods) ||
        !rd_uint(m, methods + f[F_ARRAY_LENGTH].value, 4, &count) || count == 0 ||
        count > METHODS_MAX)
        return NULL;
    uint64_t *list = malloc(count * sizeof *list);
    bool member = false;
    if (list && rd(m, methods + f[F_METHOD_ARRAY_DATA].value, list, count * sizeof *list))
        for (uint64_t i = 0; i < count && !member; i++)
            member = list[i] == method;
    free(list);
    if (!member)
        return NULL;
    char klass[SYMBOL_MAX], name[SYMBOL_MAX], sig[SYMBOL_MAX];
    if (!rd_symbol(hs, m, sym_klass, klass, sizeof klass) ||
        !rd_symbol(hs, m, sym_name, name, sizeof name) ||
        !rd_symbol(hs, m, sym_sig, sig, sizeof sig))
        return NULL;
    char *result = javaname_method(klass, name, sig);
    char *kept = result ? strdup(result) : NULL;
    if (kept) {
        free(slot->name);
        *slot = (struct cached_name){.method = method, .const_method = cm, .name = kept};
    }
    return result;
}

/* ---- the code cache --------------------------------------------------------- */

struct blob {
    uint64_t addr, code_begin, code_end;
    int64_t frame_size; /* words */
    char name[64];
};

/* The code blob that holds pc: the code heap's segment map says where
 * the block that holds pc starts (each byte is the distance, in
 * segments, to walk back; 0 at a block's first segment). */
static bool find_blob(struct hotspot *hs, const struct hotspot_memory *m, uint64_t pc,
                      struct blob *b, bool *in_cache)
{
    const struct code_heap *h = NULL;
    for (unsigned i = 0; i < hs->nheaps && !h; i++)
        if (pc >= hs->heaps[i].low && pc < hs->heaps[i].high)
            h = &hs->heaps[i];
    *in_cache = h != NULL;
    if (!h)
        return false;
    uint64_t seg = (pc - h->low) >> h->log2_segment;
    uint8_t hop;
    for (unsigned i = 0;; i++) {
        if (i == SEGMAP_HOPS_MAX || !rd(m, h->segmap + seg, &hop, 1) || hop == SEGMAP_UNUSED)
            return false;
        if (hop == 0)
            break;
        if (hop > seg)
            return false;
        seg -= hop;
    }
    uint64_t block = h->low + (seg << h->log2_segment), used;
    const struct field_info *f = hs->fields;
    if (!rd_uint(m, block + f[F_HEAPBLOCK_USED].value, 1, &used) || used != 1)
        return false;
    b->addr = block + hs->type_size[T_HEAPBLOCK];
    uint64_t name_ptr, frame_size;
    if (!rd_u64(m, b->addr + f[F_BLOB_CODE_BEGIN].value, &b->code_begin) ||
        !rd_u64(m, b->addr + f[F_BLOB_CODE_END].value, &b->code_end) ||
        !rd_uint(m, b->addr + f[F_BLOB_FRAME_SIZE].value, 4, &frame_size) ||
        !rd_u64(m, b->addr + f[F_BLOB_NAME].value, &name_ptr))
        return false;
    b->frame_size = (int32_t)frame_size;
    if (b->code_begin < b->addr || b->code_end > h->high || pc < b->code_begin ||
        pc >= b->code_end || b->frame_size < 0 || b->frame_size > FRAME_WORDS_MAX)
        return false;
    return rd_cstring(m, name_ptr, b->name, sizeof b->name);
}

/* ---- inlined methods --------------------------------------------------------- */

/* One int of HotSpot's compressed debug-info stream at *pos: bytes below
 * 192 end a number, each byte counts 64 times the one before, 5 at most. */
static bool compressed_int(const uint8_t *buf, size_t len, size_t *pos, uint32_t *out)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < 5; i++) {
        if (*pos >= len)
            return false;
        uint32_t b = buf[(*pos)++];
        sum += b << (6 * i);
        if (b < 192 || i == 4) {
            *out = sum;
            return true;
        }
    }
    return false;
}

/* The methods inlined at pc of nmethod blob (whose own method is
 * method), innermost first, into out->inlined, from the nmethod's scope
 * descriptors: the PcDesc of pc gives the innermost scope, each scope its
 * sender. All or nothing: a scope that does not decode, a method that
 * cannot be named, or a chain that does not end in the nmethod's own
 * method leaves out->ninlined 0. */
static void inlined_methods(struct hotspot *hs, const struct hotspot_memory *m,
                            const struct blob *b, uint64_t pc, uint64_t method,
                            struct hotspot_result *out)
{
    const struct field_info *f = hs->fields;
    uint64_t metadata_off, pcs_off, deps_off, scopes;
    if (!rd_uint(m, b->addr + f[F_NMETHOD_METADATA].value, 4, &metadata_off) ||
        !rd_uint(m, b->addr + f[F_NMETHOD_SCOPES_PCS].value, 4, &pcs_off) ||
        !rd_uint(m, b->addr + f[F_NMETHOD_DEPENDENCIES].value, 4, &deps_off) ||
        !rd_u64(m, b->addr + f[F_SCOPES_DATA_BEGIN].value, &scopes))
        return;
    uint64_t metadata = b->addr + metadata_off, pcs = b->addr + pcs_off;
    uint64_t desc_size = hs->type_size[T_PCDESC];
    if (metadata_off > pcs_off || pcs_off > deps_off || scopes < metadata || scopes > pcs ||
        desc_size < 8 || (deps_off - pcs_off) / desc_size > 65536)
        return;
    /* The PcDescs are sorted by pc offset: a binary search for pc's. */
    int64_t want = (int64_t)(pc - b->code_begin);
    uint64_t lo = 0, hi = (deps_off - pcs_off) / desc_size, scope = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2, at, off;
        uint64_t d = pcs + mid * desc_size;
        if (!rd_uint(m, d + f[F_PCDESC_PC_OFFSET].value, 4, &at))
            return;
        if ((int32_t)at == want) {
            if (!rd_uint(m, d + f[F_PCDESC_SCOPE_OFFSET].value, 4, &off))
                return;
            scope = off;
            break;
        }
        if ((int32_t)at < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t scopes_len = pcs - scopes, nmetadata = (scopes - metadata) / 8;
    uint64_t chain[HOTSPOT_INLINED_MAX + 1];
    unsigned n = 0;
    while (scope != 0 && scope < scopes_len && n <= HOTSPOT_INLINED_MAX) {
        uint8_t buf[16];
        size_t len = scopes_len - scope < sizeof buf ? (size_t)(scopes_len - scope) : sizeof buf;
        size_t pos = 0;
        uint32_t sender, index;
        if (!rd(m, scopes + scope, buf, len) || !compressed_int(buf, len, &pos, &sender) ||
            !compressed_int(buf, len, &pos, &index) || index == 0 || index > nmetadata ||
            !rd_u64(m, metadata + 8 * (index - 1), &chain[n]))
            return;
        n++;
        if (sender >= scope)
            return; /* senders are written before the scopes they call */
        scope = sender;
    }
    if (n < 2 || scope != 0 || chain[n - 1] != method)
        return;
    for (unsigned i = 0; i + 1 < n; i++) {
        if (!(out->inlined[i] = method_name(hs, m, chain[i]))) {
            for (unsigned k = 0; k < i; k++) {
                free(out->inlined[k]);
                out->inlined[k] = NULL;
            }
            return;
        }
    }
    out->ninlined = n - 1;
}

/* ---- frames ------------------------------------------------------------------ */

static bool in_stack(uint64_t p, uint64_t lo, uint64_t hi) { return p >= lo && p < hi && !(p & 7); }

/* The caller of a frame that keeps the frame-pointer chain. */
static bool fp_caller(const struct hotspot_memory *m, const struct hotspot_regs *f, uint64_t lo,
                      uint64_t hi, struct hotspot_regs *caller)
{
    if (!in_stack(f->fp, lo, hi) || f->fp < f->sp || hi - f->fp < 16 ||
        !rd_u64(m, f->fp, &caller->fp) || !rd_u64(m, f->fp + 8, &caller->pc) || !caller->pc)
        return false;
    caller->sp = f->fp + 16;
    return true;
}

/* The caller of a frame of frame_size words (return address on top,
 * the caller's rbp below it), as HotSpot's compiled frames are laid out. */
static bool sized_caller(const struct hotspot_memory *m, const struct hotspot_regs *f,
                         int64_t frame_size, uint64_t lo, uint64_t hi, struct hotspot_regs *caller)
{
    uint64_t sender_sp = f->sp + (uint64_t)frame_size * 8;
    if (frame_size < 2 || !in_stack(f->sp, lo, hi) || sender_sp > hi ||
        !rd_u64(m, sender_sp - 8, &caller->pc) || !rd_u64(m, sender_sp - 16, &caller->fp) ||
        !caller->pc)
        return false;
    caller->sp = sender_sp;
    return true;
}

void hotspot_frame(struct hotspot *hs, const struct maps_list *maps,
                   const struct hotspot_memory *m, const struct hotspot_regs *f,
                   uint64_t stack_lo, uint64_t stack_hi, struct hotspot_result *out)
{
    memset(out, 0, sizeof *out);
    out->kind = HOTSPOT_UNKNOWN;
    if (hs->state == LOAD_NOT_YET)
        load(hs, maps, m);
    if (hs->state != LOAD_OK)
        return;
    struct blob b;
    bool in_cache;
    if (!find_blob(hs, m, f->pc, &b, &in_cache)) {
        if (!in_cache)
            out->kind = HOTSPOT_NOT_JAVA;
        return;
    }
    if (strcmp(b.name, "nmethod") == 0 || strcmp(b.name, "native nmethod") == 0) {
        uint64_t method;
        if (!rd_u64(m, b.addr + hs->fields[F_NMETHOD_METHOD].value, &method) ||
            !(out->name = method_name(hs, m, method)))
            return;
        out->kind = HOTSPOT_COMPILED;
        if (hs->inlining)
            inlined_methods(hs, m, &b, f->pc, method, out);
        out->has_caller = sized_caller(m, f, b.frame_size, stack_lo, stack_hi, &out->caller);
    } else if (strcmp(b.name, "Interpreter") == 0) {
        uint64_t method, sender_sp;
        if (!in_stack(f->fp, stack_lo, stack_hi) || f->fp < f->sp ||
            !rd_u64(m, f->fp + (uint64_t)(hs->interp_method_offset * 8), &method) ||
            !(out->name = method_name(hs, m, method)))
            return;
        out->kind = HOTSPOT_INTERPRETED;
        /* The caller's sp is the one it had before the interpreter made
         * room for this method's locals: the frame keeps it. */
        out->has_caller = fp_caller(m, f, stack_lo, stack_hi, &out->caller) &&
                          rd_u64(m, f->fp + (uint64_t)(hs->interp_sender_sp_offset * 8),
                                 &sender_sp) &&
                          in_stack(sender_sp, f->fp + 16, stack_hi + 1);
        if (out->has_caller)
            out->caller.sp = sender_sp;
    } else {
        out->kind = HOTSPOT_STUB;
        if (!(out->name = strdup(b.name)))
            out->kind = HOTSPOT_UNKNOWN;
        out->has_caller = b.frame_size > 0
                              ? sized_caller(m, f, b.frame_size, stack_lo, stack_hi, &out->caller)
                              : fp_caller(m, f, stack_lo, stack_hi, &out->caller);
    }
}

const char *hotspot_status(const struct hotspot *hs)
{
    return hs && hs->state == LOAD_BAD ? hs->status : "";
}

const char *hotspot_failure_once(struct hotspot *hs)
{
    if (!hs || hs->state != LOAD_BAD || hs->failure_told)
        return NULL;
    hs->failure_told = true;
    return hs->status;
}

struct hotspot *hotspot_new(pid_t pid)
{
    struct hotspot *hs = calloc(1, sizeof *hs);
    if (hs)
        hs->pid = pid;
    return hs;
}

void hotspot_free(struct hotspot *hs)
{
    if (!hs)
        return;
    for (size_t i = 0; i < NAME_CACHE_SIZE; i++)
        free(hs->names[i].name);
    free(hs);
}
