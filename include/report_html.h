/*
 * report_html: writes a report_view (report_model.h) as one self-contained
 * HTML page: the run's header rendered here, everything else rendered by
 * the page's own script from a JSON block of data. Inline CSS and script
 * only; a Content-Security-Policy forbids every network load and allows
 * only the page's own script and style (by a per-page nonce), so the page
 * opens from file:// offline and a name that slipped through as markup
 * still could not run.
 *
 * Everything from the events file (thread names, call sites, paths,
 * strings found in dumps) is untrusted: it is HTML-escaped where written
 * as markup, and written into the JSON block with <, > and & escaped so
 * it can never end the script element; the script puts it into the page
 * as text only (textContent), never as markup.
 *
 * Any thread; no state. Ownership: nothing is kept.
 */
#ifndef MMAPWATCH_REPORT_HTML_H
#define MMAPWATCH_REPORT_HTML_H

#include <stdio.h>

#include "report_model.h"

struct report_html_options {
    const char *events_path;  /* shown in the header */
    const char *dumps_dir;    /* absolute directory of the dumps for links, or NULL */
    size_t max_regions;       /* rows of the regions table */
};

/* The page on out. 0, or -1 with errno set when writing failed. */
int report_html_write(FILE *out, const struct report_view *v,
                      const struct report_html_options *o);

/* s escaped as HTML text (also safe inside a quoted attribute) on out. */
void report_html_escape(FILE *out, const char *s);

/* s as the inside of a JSON string that may sit in a <script> element:
 * RFC 8259 escaping, invalid UTF-8 replaced, and <, >, & as \u escapes. */
void report_html_json_string(FILE *out, const char *s);

#endif
