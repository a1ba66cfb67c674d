/*
 * json: a tiny append-only JSON object writer for one event line.
 *
 * The caller owns a struct json_line (usually on the stack); json_begin()
 * starts "{", json_add_*() append "key":value pairs, json_end() closes the
 * object and returns the line (without newline). Strings are escaped per
 * RFC 8259: quote, backslash and control characters; bytes that are not
 * valid UTF-8 (a thread name is any bytes) become U+FFFD so every line is
 * valid UTF-8; json_add_bytes() adds the exact bytes in hex beside such a
 * value, so nothing the target wrote is lost. Objects and arrays nest with
 * json_open()/json_close(). When the buffer would overflow the line is marked truncated
 * and json_end() returns NULL: the caller reports the loss, never prints
 * half an object.
 */
#ifndef MMAPWATCH_JSON_H
#define MMAPWATCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a 256-frame stack of long C++ names (unwind.h caps a stack's
 * JSON below this). */
#define JSON_LINE_MAX 65536
#define JSON_STACK_MAX 61440

struct json_line {
    char buf[JSON_LINE_MAX];
    size_t len;
    bool first;      /* no pair written yet */
    bool truncated;  /* something did not fit */
};

void json_begin(struct json_line *j);
void json_add_str(struct json_line *j, const char *key, const char *value); /* NULL -> null */
void json_add_int(struct json_line *j, const char *key, int64_t value);
void json_add_uint(struct json_line *j, const char *key, uint64_t value);
void json_add_hex(struct json_line *j, const char *key, uint64_t value);  /* "0x7f..." */
void json_add_bool(struct json_line *j, const char *key, bool value);
/* A value the traced program controls (a thread name, a path): as
 * json_add_str, and when the bytes are not valid UTF-8 a second pair
 * "KEY_hex" with every byte as two lowercase hex digits, so a reader gets
 * the exact bytes back (docs/mmapwatch.1, JSON OUTPUT). */
void json_add_bytes(struct json_line *j, const char *key, const char *value, size_t len);
/* json_add_bytes of a NUL-terminated string; NULL -> null. */
void json_add_untrusted(struct json_line *j, const char *key, const char *value);
/* Opens a nested '{' or '[' (key NULL inside an array) and closes it with
 * the matching '}' or ']'. */
void json_open(struct json_line *j, const char *key, char bracket);
void json_close(struct json_line *j, char bracket);
/* Appends "key": followed by raw, already valid JSON (an array, an object). */
void json_add_raw(struct json_line *j, const char *key, const char *raw);
const char *json_end(struct json_line *j);

/* Escapes in[0..len) as the inside of a JSON string (no quotes) into out,
 * NUL-terminated. Returns the length written, or (size_t)-1 if out is too
 * small. */
size_t json_escape(const char *in, size_t len, char *out, size_t out_size);

#endif
