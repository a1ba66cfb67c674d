/*
 * tracefs: the ids and record layouts of the kernel's tracepoints, as the
 * perf source needs them (source layer, read once at start).
 *
 * A tracepoint's id (the perf_event_attr config) and the layout of its raw
 * record (field offsets and sizes) are only published in tracefs:
 * events/GROUP/NAME/id and .../format. The layout is parsed from the format
 * file, never assumed, since it differs between kernels and arches.
 *
 * Finding tracefs: a tracefs mount listed in /proc/self/mountinfo (the
 * usual /sys/kernel/tracing, or /sys/kernel/debug/tracing). When none is
 * mounted and we may mount (CAP_SYS_ADMIN), a short-lived helper process
 * enters a private mount namespace, mounts tracefs there, reads the files
 * and exits: nothing is ever left mounted on the host, and mmapwatch itself
 * never changes namespace (perf_event_open needs only the ids).
 *
 * Not thread-safe in itself; call from the main thread before any event is
 * opened. tracefs_load forks: it is safe in a multi-threaded process (the
 * helper makes system calls only) but costs a fork.
 */
#ifndef MMAPWATCH_TRACEFS_H
#define MMAPWATCH_TRACEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_NAME_MAX 64
#define TP_FIELD_NAME_MAX 32
#define TP_FIELDS_MAX 24

/* One "field:TYPE NAME; offset:N; size:N; signed:N;" line of a format. */
struct tp_field {
    char name[TP_FIELD_NAME_MAX];
    uint16_t offset;
    uint16_t size;  /* 1, 2, 4 or 8 for the scalars read by tp_field_get */
    bool is_signed;
};

/* A tracepoint: "GROUP:NAME", its id and its fields in offset order. */
struct tp_format {
    char name[TP_NAME_MAX];
    uint32_t id;
    size_t nfields;
    struct tp_field fields[TP_FIELDS_MAX];
};

/* Parses the text of a format file into out (name, id, fields; the name
 * is taken from the "name:" line, without the group). Pure. 0, or -1 when
 * the text is not a format (no ID, no fields, a field line that does not
 * parse, or more than TP_FIELDS_MAX fields). */
int tracefs_parse_format(const char *text, struct tp_format *out);

/* The field called name, or NULL. */
const struct tp_field *tp_format_field(const struct tp_format *fmt, const char *name);

/* A scalar field of a raw record of size len: read with its size and
 * sign-extended when signed. false when the field lies outside the record
 * or has a size other than 1, 2, 4 or 8. Pure. */
bool tp_field_get(const struct tp_field *field, const void *raw, size_t len, uint64_t *out);

/* Where tracefs is mounted (from /proc/self/mountinfo) into dir, or false. */
bool tracefs_find(char *dir, size_t size);

/* Loads the formats (and ids) of the n tracepoints named "GROUP/NAME"
 * into out[0..n-1], from a mounted tracefs or through a private mount (see
 * above). A tracepoint this kernel does not have is not an error: its
 * out[i].id is 0. Returns 0; or -1 with a one-line reason in why (what
 * failed and why: "tracefs is not mounted and mounting it needs
 * CAP_SYS_ADMIN", ...). *mounted_privately tells which way was taken. */
int tracefs_load(const char *const names[], size_t n, struct tp_format *out,
                 bool *mounted_privately, char *why, size_t why_size);

#endif
