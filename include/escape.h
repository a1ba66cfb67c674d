/*
 * escape: how bytes a traced program controls (thread names, paths,
 * command lines, strings found in its memory) are shown.
 *
 * Text output escapes them the way strace does, so that nothing the
 * target chose can move the operator's cursor, recolour the terminal or
 * split one event into two lines: a byte below 0x20, DEL (0x7f), a
 * backslash, a C1 control (U+0080..U+009F, which some terminals obey) and
 * every byte that is not part of well-formed UTF-8 are written as \xNN
 * (two lowercase hex digits). Well-formed UTF-8 otherwise passes as is.
 *
 * Pure functions, callable from any thread.
 */
#ifndef MMAPWATCH_ESCAPE_H
#define MMAPWATCH_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1), or 0 if
 * it is ill-formed; then *bad_len is the number of bytes of its maximal
 * ill-formed subpart (Unicode's table 3-7: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF). */
size_t escape_utf8_seq(const unsigned char *s, size_t n, size_t *bad_len);

/* Whether s[0..len) is well-formed UTF-8. */
bool escape_utf8_valid(const char *s, size_t len);

/* Bytes escape_text() needs for in[0..len), the NUL included. */
size_t escape_text_size(const char *in, size_t len);

/* Writes the text form of in[0..len) (see above) into out, NUL-terminated.
 * out_size must be at least escape_text_size(in, len). Returns the
 * length written (without the NUL). */
size_t escape_text(const char *in, size_t len, char *out, size_t out_size);

#endif
