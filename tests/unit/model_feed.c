/*
 * model_feed.c: the model's unit tests' synthetic source and output
 * capture (model_feed.h).
 */
#include "model_feed.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "output.h"

#define OUTPUT_MAX (1 << 20) /* more than any test writes */

static char out_path[] = "/tmp/mmapwatch-unit-model-XXXXXX";
static uint64_t clock_ns = 1000;
static bool started;              /* between feed_start and feed_finish */
static struct model *started_model;

struct model *feed_start(const struct model_config *c)
{
    /* A case whose CHECK failed returned before its feed_finish: end its
     * model and output here, or every later case would fail too. */
    if (started)
        free(feed_finish(started_model));
    int fd = mkstemp(out_path);
    if (fd < 0)
        return NULL;
    close(fd);
    if (output_open(out_path, true) < 0) {
        unlink(out_path);
        memcpy(out_path + strlen(out_path) - 6, "XXXXXX", 6);
        return NULL;
    }
    started = true;
    started_model = model_new(c);
    return started_model;
}

char *feed_finish(struct model *m)
{
    started = false;
    started_model = NULL;
    model_free(m);
    output_close();
    char *text = calloc(1, OUTPUT_MAX);
    int fd = open(out_path, O_RDONLY);
    if (fd >= 0 && text) {
        ssize_t n = read(fd, text, OUTPUT_MAX - 1);
        (void)n;
        close(fd);
    }
    unlink(out_path);
    /* The template again, for the next feed_start. */
    memcpy(out_path + strlen(out_path) - 6, "XXXXXX", 6);
    return text;
}

int lines_with(const char *text, const char *a, const char *b)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        char *one = strndup(line, end ? (size_t)(end - line) : strlen(line));
        if (one && strstr(one, a) && (!b || strstr(one, b)))
            n++;
        free(one);
        line = end ? end + 1 : NULL;
    }
    return n;
}

uint64_t feed_now_ns(void)
{
    return clock_ns;
}

uint64_t feed_tick_ns(void)
{
    return clock_ns += 1000;
}

struct model_reply feed_event(struct model *m, struct event e)
{
    e.time_ns = feed_tick_ns();
    e.arch = e.arch ? e.arch : SYSCALL_ARCH_X86_64;
    e.comm = "unit";
    e.stopped = true;
    struct model_reply r;
    model_event(m, &e, &r);
    return r;
}

void feed_spawn(struct model *m, pid_t pid, pid_t tid, pid_t parent, bool shares_vm)
{
    struct event e = {.kind = EVENT_SPAWN, .pid = pid, .tid = tid};
    e.spawn.parent = parent;
    e.spawn.shares_vm = shares_vm;
    feed_event(m, e);
}

struct model_reply feed_enter(struct model *m, pid_t pid, pid_t tid, enum syscall_id id,
                              uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct event e = {.kind = EVENT_CALL_ENTER, .pid = pid, .tid = tid};
    e.call.nr = (uint64_t)syscall_number(SYSCALL_ARCH_X86_64, id);
    e.call.args[0] = a0;
    e.call.args[1] = a1;
    e.call.args[2] = a2;
    e.call.args[3] = a3;
    e.call.args[4] = (uint64_t)-1;
    return feed_event(m, e);
}

void feed_done(struct model *m, pid_t pid, pid_t tid, int64_t rval)
{
    struct event e = {.kind = EVENT_CALL_DONE, .pid = pid, .tid = tid};
    e.result.rval = rval;
    e.result.is_error = rval < 0 && rval > -4096;
    feed_event(m, e);
}

void feed_call(struct model *m, pid_t pid, pid_t tid, enum syscall_id id, uint64_t a0,
               uint64_t a1, uint64_t a2, uint64_t a3, int64_t rval)
{
    feed_enter(m, pid, tid, id, a0, a1, a2, a3);
    feed_done(m, pid, tid, rval);
}

void feed_map_at(struct model *m, pid_t pid, pid_t tid, uint64_t addr, uint64_t len)
{
    feed_call(m, pid, tid, SC_MMAP, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
              (int64_t)addr);
}
