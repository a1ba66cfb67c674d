/*
 * stack: a symbolized call stack (what unwind.h produces) and its JSON
 * form, as events and dump metadata carry it. Output layer: pure, no
 * system calls, any thread.
 *
 * Ownership: a struct stack owns its frames and their strings until
 * stack_release(); stack_to_json returns a malloc'd string.
 */
#ifndef MMAPWATCH_STACK_H
#define MMAPWATCH_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stack_frame {
    uint64_t ip;
    char *symbol; /* "name+0x1a" (demangled), or NULL when unknown */
    char *module; /* path of the file mapped at ip, or NULL (anonymous memory) */
    const char *source; /* what named it (static): "elf", "perf-map", "jvm-compiled",
                         * "jvm-inlined" (inlined into the next frame's code, same ip),
                         * "jvm-interpreted", "jvm-stub", "jvm" ([java]); NULL */
};

struct stack {
    struct stack_frame *frames; /* innermost first */
    unsigned depth;
    bool truncated;             /* stopped at the depth limit with more frames beyond */
};

void stack_release(struct stack *s);

/* Where frame f's code is, for text output: its module's path, else what
 * named it ("[anon]" when nothing did). */
const char *stack_frame_where(const struct stack_frame *f);

/* The JSON array of a stack ([{"ip":..,"symbol":..,"module":..}, ...]),
 * malloc'd; at most max_bytes long: outer frames that do not fit are left
 * out (*complete = false). NULL on ENOMEM. */
char *stack_to_json(const struct stack *s, size_t max_bytes, bool *complete);

#endif
