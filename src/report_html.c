/*
 * report_html: the HTML page of `mmapwatch report`. See
 * include/report_html.h.
 *
 * The page's script and style are tracked as src/report_page.js and
 * src/report_page.css and built into report_page.h (C strings) by the
 * Makefile, so they stay readable and are checked into the page as they
 * are.
 */
#include "report_html.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "json.h"
#include "options.h"
#include "report_page.h"

void report_html_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            /* control characters have no business in a header line */
            fputc((unsigned char)*s < 0x20 ? '?' : *s, out);
        }
    }
}

void report_html_json_string(FILE *out, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    size_t size = len * 6 + 1;
    char small[1024], *buf = size <= sizeof small ? small : malloc(size);
    if (!buf || json_escape(s ? s : "", len, buf, size) == (size_t)-1) {
        fputs("?", out);
        if (buf != small)
            free(buf);
        return;
    }
    for (const char *c = buf; *c; c++) {
        if (*c == '<')
            fputs("\\u003c", out);
        else if (*c == '>')
            fputs("\\u003e", out);
        else if (*c == '&')
            fputs("\\u0026", out);
        else
            fputc(*c, out);
    }
    if (buf != small)
        free(buf);
}

static void jstr(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    report_html_json_string(out, s);
    fputc('"', out);
}

/* Seconds since the first event, for the page's clock. */
static double rel(const struct report_view *v, int64_t us)
{
    return (double)(us - v->first_us) / 1e6;
}

static void groups_json(FILE *out, const char *key, const struct report_group *g, size_t n)
{
    fprintf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", out);
        jstr(out, g[i].name);
        fprintf(out, ",\"count\":%" PRIu64 ",\"ever\":%" PRIu64 ",\"held\":%" PRIu64
                     ",\"peak\":%" PRIu64 "}",
                g[i].count, g[i].ever, g[i].held, g[i].peak);
    }
    fputc(']', out);
}

static void series_json(FILE *out, const char *key, const struct report_series *s, size_t n,
                        size_t npoints)
{
    fprintf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", out);
        jstr(out, s[i].name);
        fputs(",\"mapped\":[", out);
        for (size_t p = 0; p < npoints; p++)
            fprintf(out, "%s%" PRIu64, p ? "," : "", s[i].mapped[p]);
        fputs("],\"resident\":[", out);
        for (size_t p = 0; p < npoints; p++)
            fprintf(out, "%s%" PRIu64, p ? "," : "", s[i].resident[p]);
        fputs("]}", out);
    }
    fputc(']', out);
}

/* A file:// URL of dir/name with every byte outside a safe set
 * percent-encoded: a name cannot turn a link into anything but a file. */
static void file_url(FILE *out, const char *dir, const char *name)
{
    fputs("\"file://", out);
    for (int part = 0; part < 2; part++) {
        const char *s = part ? name : dir;
        if (part)
            fputc('/', out);
        for (; *s; s++) {
            unsigned char c = (unsigned char)*s;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || (c == '/' && !part))
                fputc(c, out);
            else
                fprintf(out, "%%%02X", c);
        }
    }
    fputc('"', out);
}

static void regions_json(FILE *out, const struct report_view *v, const struct report_html_options *o)
{
    size_t n = v->nregions < o->max_regions ? v->nregions : o->max_regions;
    fputs(",\"regions\":[", out);
    for (size_t i = 0; i < n; i++) {
        const struct report_region *r = &v->regions[i];
        fprintf(out, "%s{\"pid\":%d,\"tid\":%d,\"comm\":", i ? "," : "", (int)r->pid, (int)r->tid);
        jstr(out, r->comm);
        fprintf(out, ",\"site\":%zu,\"addr\":\"0x%" PRIx64 "\",\"len\":%" PRIu64 ",\"ever\":%" PRIu64
                     ",\"held\":%" PRIu64 ",\"born\":%.6f,\"ended\":",
                r->site, r->addr, r->len, r->ever, r->held, rel(v, r->born_us));
        if (r->ended_us < 0)
            fputs("null", out);
        else
            fprintf(out, "%.6f", rel(v, r->ended_us));
        fputs(",\"end\":", out);
        jstr(out, r->end);
        fprintf(out, ",\"resident\":%" PRId64 ",\"dumps\":%u,\"dump\":", r->resident, r->dumps);
        const char *name = r->dump_file ? r->dump_file : NULL;
        if (!name && r->dump_path) {
            const char *slash = strrchr(r->dump_path, '/');
            name = slash ? slash + 1 : r->dump_path;
        }
        jstr(out, name);
        fputs(",\"href\":", out);
        if (name && o->dumps_dir && strchr(name, '/') == NULL)
            file_url(out, o->dumps_dir, name);
        else
            fputs("null", out);
        fputs(",\"strings\":[", out);
        for (size_t k = 0; k < r->nstrings; k++) {
            fputs(k ? ",[" : "[", out);
            jstr(out, r->strings[k].text);
            fprintf(out, ",%" PRIu64 "]", r->strings[k].count);
        }
        fputs("]}", out);
    }
    fprintf(out, "],\"nregions\":%zu", v->nregions);
}

/* Stacks as indices into one list of frame names (a deep JVM stack
 * repeats the same frames many times over). */
static int stacks_json(FILE *out, const struct report_view *v)
{
    size_t total = 0;
    for (size_t i = 0; i < v->nstacks; i++)
        total += v->stacks[i].depth;
    const char **names = malloc((total ? total : 1) * sizeof *names);
    size_t nnames = 0;
    if (!names)
        return -1;
    fputs(",\"stacks\":[", out);
    for (size_t i = 0; i < v->nstacks; i++) {
        const struct report_stack *s = &v->stacks[i];
        fprintf(out, "%s{\"count\":%" PRIu64 ",\"ever\":%" PRIu64 ",\"held\":%" PRIu64 ",\"f\":[",
                i ? "," : "", s->count, s->ever, s->held);
        for (size_t d = 0; d < s->depth; d++) {
            size_t k = 0;
            /* linear, but over distinct names only: stacks share most */
            while (k < nnames && strcmp(names[k], s->frames[d]) != 0)
                k++;
            if (k == nnames)
                names[nnames++] = s->frames[d];
            fprintf(out, "%s%zu", d ? "," : "", k);
        }
        fputs("]}", out);
    }
    fputs("],\"frames\":[", out);
    for (size_t k = 0; k < nnames; k++) {
        if (k)
            fputc(',', out);
        jstr(out, names[k]);
    }
    fputc(']', out);
    free(names);
    return 0;
}

static int data_json(FILE *out, const struct report_view *v, const struct report_html_options *o)
{
    fprintf(out, "{\"version\":1,\"first_us\":%" PRId64 ",\"duration\":%.6f", v->first_us,
            rel(v, v->last_us));
    fprintf(out, ",\"totals\":{\"count\":%" PRIu64 ",\"ever\":%" PRIu64 ",\"held\":%" PRIu64
                 ",\"peak\":%" PRIu64 "},\"have_stacks\":%s",
            v->count, v->ever, v->held, v->peak, v->have_stacks ? "true" : "false");
    fputs(",\"times\":[", out);
    for (size_t p = 0; p < v->npoints; p++)
        fprintf(out, "%s%.6f", p ? "," : "", rel(v, v->times[p]));
    fputs("],\"total_mapped\":[", out);
    for (size_t p = 0; p < v->npoints; p++)
        fprintf(out, "%s%" PRIu64, p ? "," : "", v->total_mapped[p]);
    fputs("],\"total_resident\":[", out);
    for (size_t p = 0; p < v->npoints; p++)
        fprintf(out, "%s%" PRIu64, p ? "," : "", v->total_resident[p]);
    fputc(']', out);
    series_json(out, "by_site", v->by_site, v->nby_site, v->npoints);
    series_json(out, "by_thread", v->by_thread, v->nby_thread, v->npoints);
    fputs(",\"markers\":[", out);
    for (size_t i = 0; i < v->nmarkers; i++) {
        fprintf(out, "%s{\"t\":%.6f,\"kind\":", i ? "," : "", rel(v, v->markers[i].us));
        jstr(out, v->markers[i].kind);
        fputs(",\"text\":", out);
        jstr(out, v->markers[i].text);
        fputc('}', out);
    }
    fputc(']', out);
    groups_json(out, "sites", v->sites, v->nsites);
    groups_json(out, "threads", v->threads, v->nthreads);
    regions_json(out, v, o);
    if (stacks_json(out, v) < 0)
        return -1;
    fputc('}', out);
    return 0;
}

/* The header, rendered here so that it reads the same without script. */
static void header_html(FILE *out, const struct report_view *v, const struct report_html_options *o)
{
    char a[32], b[32], c[32], when[64] = "?";
    time_t secs = (time_t)(v->first_us / 1000000);
    struct tm tm;
    if (v->events && gmtime_r(&secs, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fputs("<header id=\"run\"><h1>mmapwatch report</h1>\n<dl>\n<dt>Events</dt><dd>", out);
    report_html_escape(out, o->events_path);
    fprintf(out, ": %" PRIu64 " events on %" PRIu64 " lines</dd>\n", v->events, v->lines);
    fputs("<dt>Target</dt><dd>", out);
    if (v->ntargets == 0)
        fputs("not named in the file", out);
    for (size_t i = 0; i < v->ntargets; i++) {
        fputs(i ? "<br>" : "", out);
        report_html_escape(out, v->targets[i]);
    }
    fputs("</dd>\n<dt>Options</dt><dd>", out);
    if (v->nrun_info == 0)
        fputs("not recorded in this events file", out);
    for (size_t i = 0; i < v->nrun_info; i++) {
        fputs(i ? "<br>" : "", out);
        report_html_escape(out, v->run_info[i]);
    }
    fprintf(out, "</dd>\n<dt>When</dt><dd>%s, for %.3f s</dd>\n", when, rel(v, v->last_us));
    fprintf(out,
            "<dt>Regions</dt><dd id=\"totals\" data-count=\"%" PRIu64 "\" data-ever=\"%" PRIu64
            "\" data-held=\"%" PRIu64 "\" data-peak=\"%" PRIu64 "\">%" PRIu64
            " reported; %s mapped in all, %s at the peak, %s held at the end%s</dd>\n",
            v->count, v->ever, v->held, v->peak, v->count, format_size(v->ever, a, sizeof a),
            format_size(v->peak, b, sizeof b), format_size(v->held, c, sizeof c),
            v->have_stacks ? "" : " (no call stacks: record with -k to see where)");
    fputs("<dt>Lost or skipped</dt><dd id=\"notes\">", out);
    if (v->nnotes == 0)
        fputs("nothing", out);
    for (size_t i = 0; i < v->nnotes; i++) {
        fprintf(out, "%s%" PRIu64 " &times; ", i ? "<br>" : "", v->notes[i].count);
        report_html_escape(out, v->notes[i].text);
    }
    fputs("</dd>\n</dl></header>\n", out);
}

int report_html_write(FILE *out, const struct report_view *v, const struct report_html_options *o)
{
    unsigned char raw[16];
    char nonce[33];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", out);
    /* No default source: nothing is ever fetched, not even a favicon;
     * only this page's own script and style run. */
    fprintf(out,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "script-src 'nonce-%s'; style-src 'nonce-%s'; img-src data:; base-uri 'none'; "
            "form-action 'none'\">\n",
            nonce, nonce);
    fputs("<meta name=\"viewport\" content=\"width=device-width\">\n<title>mmapwatch report: ",
          out);
    report_html_escape(out, o->events_path);
    fprintf(out, "</title>\n<link rel=\"icon\" href=\"data:,\">\n<style nonce=\"%s\">\n%s</style>\n"
                 "</head><body>\n",
            nonce, report_page_css);
    header_html(out, v, o);
    fputs(report_page_html, out);
    fputs("<script type=\"application/json\" id=\"mmapwatch-data\">", out);
    if (data_json(out, v, o) < 0)
        return -1;
    fprintf(out, "</script>\n<script nonce=\"%s\">\n%s</script>\n</body></html>\n", nonce,
            report_page_js);
    if (fflush(out) == EOF || ferror(out))
        return -1;
    return 0;
}
