/* samples/buses/variants.h - the variants of `buses` that live in files of
 * their own (threaded.c, process.c).  Each runs the whole pipeline over
 * run->path with run->parser (fresh, no handlers yet), sending `batch`
 * events at a time into buses_to_dicts, and returns 0, or -1 after saying
 * why on stderr. */
#ifndef BUSES_VARIANTS_H
#define BUSES_VARIANTS_H

#include <stddef.h>

#include "bus.h"

/** The filters and bus_locations on the thread of a threaded()
 *  stage (corio_threaded), the parse on the calling thread. */
int bus_run_threaded(bus_run *run, size_t batch);

/** The filters and bus_locations in a child process (this
 *  program again, `buses --child FILE`), the buses sent to it as frames
 *  (corio/frame.h) over a socket pair. */
int bus_run_process(bus_run *run, size_t batch);

/** The child of bus_run_process: reads frames of packed buses from its
 *  stdin until the end of the stream and feeds them to the filters;
 *  run->path only names the file in messages.  0, or -1 after saying why
 *  (a damaged or truncated stream included). */
int bus_run_child(bus_run *run);

#endif
