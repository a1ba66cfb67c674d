/*
 * mmapwatch: which thread maps which memory region, when.
 *
 * main: parse options, open the output, attach or launch, run the loop,
 * tear down. Nothing else lives here.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "dump.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "target.h"
#include "tracer.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "maps") == 0)
        return cmd_maps_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "read") == 0)
        return cmd_read_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return cmd_report_main(argc - 1, argv + 1);
    struct options opts;
    switch (options_parse(argc, argv, &opts)) {
    case OPTIONS_OK:
        break;
    case OPTIONS_DONE:
        return 0;
    case OPTIONS_USAGE_ERROR:
        return 2;
    }
    log_set_verbose(opts.verbose);
    /* A reader that goes away (| head) must be an error we handle, not a
     * signal that kills us with tracees attached. */
    signal(SIGPIPE, SIG_IGN);
    /* One kept fd per traced thread (its comm): a JVM has thousands of
     * threads, and the soft limit is often 1024 while the hard one is not. */
    target_raise_file_limit();

    /* Before anything is attached: a dump directory we cannot use is a
     * usage error, not something to find out at the first dump. */
    int dump_dir_fd = -1;
    if (opts.dump && dump_dir_open(opts.dump_dir, &dump_dir_fd) < 0)
        return 2;
    output_set_time_format(opts.time_format);
    if (output_open(opts.output_path, opts.json) < 0) {
        if (dump_dir_fd >= 0)
            close(dump_dir_fd);
        return 1;
    }
    struct tracer *tracer = tracer_new(&opts, dump_dir_fd);
    if (!tracer) {
        output_close();
        return 1;
    }

    int status = 0;
    if (opts.command) {
        if (tracer_launch(tracer) < 0)
            status = 1;
    } else {
        for (unsigned i = 0; i < opts.npids; i++) {
            if (tracer_attach(tracer, opts.pids[i]) < 0) {
                /* All or nothing: let go of those already seized. */
                status = 1;
                tracer_request_detach(tracer);
                break;
            }
        }
        /* --comm / --match: a "target" event and an attach for each. */
        if (status == 0 && tracer_attach_targets(tracer) < 0) {
            status = 1;
            tracer_request_detach(tracer);
        }
    }
    if (status == 0)
        status = tracer_run(tracer);
    else if (!opts.command)
        tracer_run(tracer);
    tracer_free(tracer);
    output_close();
    return status;
}
