/*
 * commands: the subcommands that look at a process without tracing its
 * system calls.
 *
 *   mmapwatch maps -p PID ...   its mappings from /proc/PID/smaps, like pmap -x
 *   mmapwatch read -p PID ...   bytes of its memory, raw or as strings
 *   mmapwatch report EVENTS     an events file as an HTML page or folded stacks
 *
 * main() hands over before the tracer's own option parsing: argv[0] is the
 * subcommand's name, the rest are its options, parsed by getopt_long with
 * optind reset so it does not matter what was parsed before. Each returns
 * the process exit code: 0 done, 1 runtime failure (one line naming the
 * pid), 2 usage error (one line). Nothing is left allocated, open, traced
 * or stopped when they return.
 *
 * The small helpers below are shared by both so that their option errors
 * read the same; they are static inline to keep each command one file.
 */
#ifndef MMAPWATCH_COMMANDS_H
#define MMAPWATCH_COMMANDS_H

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"

int cmd_maps_main(int argc, char **argv);
int cmd_read_main(int argc, char **argv);
int cmd_report_main(int argc, char **argv);

/* The one line for a getopt_long error ('?' or ':'), about word (the
 * argv element getopt was looking at; with "+" in optstring it never
 * permutes, so that is the one). */
static inline void cmd_option_error(const char *cmd, int c, const char *word,
                                    const struct option *longopts)
{
    bool is_long = word[0] == '-' && word[1] == '-' && word[2] != '\0';
    if (is_long) {
        size_t len = strcspn(word + 2, "=");
        int matches = 0;
        const struct option *match = NULL;
        for (const struct option *o = longopts; o->name; o++) {
            if (strncmp(o->name, word + 2, len) == 0) {
                if (strlen(o->name) == len) { /* exact beats any prefix */
                    match = o;
                    matches = 1;
                    break;
                }
                match = o;
                matches++;
            }
        }
        if (matches == 1 && c == ':')
            log_error("%s: option '--%s' needs a value", cmd, match->name);
        else if (matches == 1 && word[2 + len] == '=')
            log_error("%s: option '--%s' takes no value (got '%s')", cmd, match->name, word);
        else if (matches > 1)
            log_error("%s: ambiguous option '%.*s'; see mmapwatch %s --help", cmd,
                      (int)(len + 2), word, cmd);
        else
            log_error("%s: unknown option '%.*s'; see mmapwatch %s --help", cmd,
                      (int)(len + 2), word, cmd);
        return;
    }
    if (c == ':')
        log_error("%s: option '-%c' needs a value", cmd, optopt);
    else
        log_error("%s: unknown option '-%c'; see mmapwatch %s --help", cmd,
                  optopt ? optopt : '?', cmd);
}

/* The one line for a failure to look at process pid: the cause in the
 * words a user acts on. */
static inline void cmd_pid_error(const char *cmd, pid_t pid, int err, const char *what)
{
    if (err == ENOENT || err == ESRCH)
        log_error("%s: no such process %d", cmd, (int)pid);
    else if (err == EACCES || err == EPERM)
        log_error("%s: permission denied %s process %d: run as root or add CAP_SYS_PTRACE",
                  cmd, what, (int)pid);
    else
        log_error("%s: error %s process %d: %s", cmd, what, (int)pid, strerror(err));
}

/* What every subcommand checks once its options are parsed: no stray
 * words, and a process to work on. false after logging one line. */
static inline bool cmd_check_operands(const char *cmd, int argc, char **argv, bool have_pid)
{
    if (optind < argc) {
        log_error("%s: unexpected argument '%s'; see mmapwatch %s --help", cmd, argv[optind],
                  cmd);
        return false;
    }
    if (!have_pid) {
        log_error("%s: no process given: use -p PID; see mmapwatch %s --help", cmd, cmd);
        return false;
    }
    return true;
}

#endif
