/*
 * jsonread: a small strict JSON reader (RFC 8259) for one text at a time,
 * such as one line of an events file or one dump's metadata file.
 *
 * The input is untrusted (it comes from files a traced program's names and
 * paths went into), so the reader is strict and bounded: any text that is
 * not exactly one JSON value (with optional whitespace around it) is
 * refused with a short reason and the byte offset; nesting deeper than
 * JSONREAD_MAX_DEPTH is refused; a string holding \u0000 is refused (the
 * callers use C strings); lone UTF-16 surrogates in \u escapes are refused.
 * Raw bytes of 0x80 and above are kept as they are (the writer, json.c,
 * only writes valid UTF-8; consumers escape again on output).
 *
 * Ownership: the caller owns a struct jsonread_doc, set up with
 * jsonread_init() and released with jsonread_release(); jsonread_parse()
 * may be called many times on one doc (each call replaces the previous
 * tree and reuses its memory). Values returned point into the doc and stay
 * valid until the next parse or the release. Pure: no I/O, no globals;
 * any thread, one doc per thread.
 */
#ifndef MMAPWATCH_JSONREAD_H
#define MMAPWATCH_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONREAD_MAX_DEPTH 32

enum jsonread_type {
    JSONREAD_NULL,
    JSONREAD_BOOL,
    JSONREAD_NUMBER,
    JSONREAD_STRING,
    JSONREAD_ARRAY,
    JSONREAD_OBJECT,
};

struct jsonread_value;

struct jsonread_doc {
    struct jsonread_value *nodes;
    size_t nnodes, nodes_cap;
    char *text;            /* decoded strings and keys, NUL-separated */
    size_t text_len, text_cap;
};

void jsonread_init(struct jsonread_doc *doc);
void jsonread_release(struct jsonread_doc *doc);

/* Parses in[0..len). Returns the root value, or NULL with *why set to a
 * static reason ("unexpected character", "out of memory", ...) and *at to
 * the byte offset where it went wrong. */
const struct jsonread_value *jsonread_parse(struct jsonread_doc *doc, const char *in,
                                            size_t len, const char **why, size_t *at);

enum jsonread_type jsonread_type(const struct jsonread_value *v);

/* Member key of an object: the value, or NULL when v is not an object or
 * has no such member (the first one when a key repeats). */
const struct jsonread_value *jsonread_get(const struct jsonread_value *v, const char *key);

/* The string, or NULL when v is NULL or not a string. */
const char *jsonread_str(const struct jsonread_value *v);

/* A number that is an integer written without fraction or exponent and
 * fits: true and *out set; false otherwise (also for NULL). */
bool jsonread_u64(const struct jsonread_value *v, uint64_t *out);
bool jsonread_i64(const struct jsonread_value *v, int64_t *out);

/* true and *out set when v is a boolean. */
bool jsonread_bool(const struct jsonread_value *v, bool *out);

/* Children of an array or object, in order: first, then next until NULL.
 * For an object's members, jsonread_key() gives the member's key. */
const struct jsonread_value *jsonread_first(const struct jsonread_value *v);
const struct jsonread_value *jsonread_next(const struct jsonread_value *v);
const char *jsonread_key(const struct jsonread_value *member);

/* Where v was in the parsed input: *from gets its first byte's offset;
 * returns its length (a key to cache what a value means by its text). */
size_t jsonread_span(const struct jsonread_value *v, size_t *from);

#endif
