/*
 * hotspot: names the Java frames of a HotSpot JVM's stack from outside the
 * JVM, with no agent, no jcmd and no stop beyond the one in progress.
 *
 * HotSpot describes its own data structures for debuggers: libjvm.so
 * exports gHotSpotVMStructs (type, field, offset or static address),
 * gHotSpotVMTypes (type sizes), gHotSpotVMIntConstants and
 * gHotSpotVMLongConstants, each with companion symbols that give the
 * layout of their entries. The serviceability agent (jhsdb) reads them;
 * so does this module, once per JVM: the symbols' addresses from
 * libjvm.so's dynamic symbol table (the mapped file), the tables from the
 * JVM's memory. Everything below is found by name in those tables, never
 * by a hard-coded offset; only the x86_64 interpreter frame layout (the
 * Method* one word below the exported last_sp slot) is architecture
 * knowledge.
 *
 * With them, a frame whose pc lies in the code cache is:
 *  - compiled (an nmethod): named from its Method*, with the methods
 *    inlined at pc from its scope descriptors; its caller is found
 *    with the nmethod's frame size, so -XX:+PreserveFramePointer is not
 *    needed;
 *  - interpreted (pc in the "Interpreter" blob): named from the Method*
 *    the interpreter keeps in its frame; its caller by frame pointer;
 *  - another stub (call stub, adapters, runtime stubs): named by its blob
 *    name, stepped with its frame size or the frame pointer.
 * A Method* is named "pkg.Class.method(type, ...)" only when every read on
 * the way makes sense (aligned pointers, indices inside the constant pool,
 * names and signatures that parse) and the method is found in its holder
 * class's method array; otherwise the frame is "[java]": never a wrong
 * name.
 *
 * Memory is read only through the caller's reader (struct
 * hotspot_memory), which must not fault pages into the target (unwind.c's
 * reader checks pagemap and reads file pages from the file).
 *
 * Threads: one thread at a time per struct hotspot (the tracer thread).
 * Ownership: the caller owns the struct hotspot (hotspot_free) and each
 * name it is given (free).
 */
#ifndef MMAPWATCH_HOTSPOT_H
#define MMAPWATCH_HOTSPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "maps.h"

struct hotspot;

/* Reads len bytes of the target at addr into buf; false when any of them
 * cannot be read without faulting a page in. */
struct hotspot_memory {
    bool (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
    void *ctx;
};

/* The path of the libjvm.so mapped in maps, or NULL: not a HotSpot JVM. */
const char *hotspot_libjvm(const struct maps_list *maps);

/* The JVM of process pid, whose maps hold libjvm.so: its tables are read
 * on first use (hotspot_frame) and kept. NULL only when out of memory. */
struct hotspot *hotspot_new(pid_t pid);
void hotspot_free(struct hotspot *hs);

enum hotspot_kind {
    HOTSPOT_NOT_JAVA,    /* pc outside the code cache */
    HOTSPOT_UNKNOWN,     /* JVM code we cannot describe: "[java]" */
    HOTSPOT_INTERPRETED,
    HOTSPOT_COMPILED,
    HOTSPOT_STUB,        /* generated code that is no Java method */
};

struct hotspot_regs {
    uint64_t pc, sp, fp;
};

#define HOTSPOT_INLINED_MAX 16

struct hotspot_result {
    enum hotspot_kind kind;
    char *name;              /* malloc'd, or NULL ("[java]") */
    /* Compiled frames: the methods the JIT inlined at pc, innermost first
     * (name is the outermost, the nmethod's own), each malloc'd; 0 when
     * none, or when the scope data could not be read for sure. */
    char *inlined[HOTSPOT_INLINED_MAX];
    unsigned ninlined;
    bool has_caller;         /* caller holds the calling frame's registers */
    struct hotspot_regs caller;
};

/* Describes the frame at f (pc: its code address; sp, fp: its stack and
 * frame pointer as the callee left them: pc is a return address, or a
 * point where the frame is complete; the innermost frame of a sample
 * taken inside compiled code may be in its prologue or epilogue, which is
 * not handled yet) of a thread whose stack mapping
 * is [stack_lo, stack_hi), in the JVM maps describe (maps: the process's
 * current mappings, for finding libjvm.so; the tables are read from the
 * first call that finds them valid). Never fails: what cannot be known is
 * HOTSPOT_UNKNOWN without a caller. */
void hotspot_frame(struct hotspot *hs, const struct maps_list *maps,
                   const struct hotspot_memory *mem, const struct hotspot_regs *f,
                   uint64_t stack_lo, uint64_t stack_hi, struct hotspot_result *out);

/* Why the tables could not be used ("" when they could, or were not
 * read yet). */
const char *hotspot_status(const struct hotspot *hs);

/* The same reason, but only the first time it is asked after the tables
 * turned out unusable (NULL otherwise): for a warning said once. */
const char *hotspot_failure_once(struct hotspot *hs);

#endif
