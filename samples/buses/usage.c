/* samples/buses/usage.c - the command-line errors of gen_buses and buses
 * (see usage.h). */
#include "usage.h"

#include <stdio.h>
#include <string.h>

int bus_bad_usage(const char *prog, const char *usage, const char *problem, const char *arg) {
    if (arg != NULL) fprintf(stderr, "%s: %s '%s'\n", prog, problem, arg);
    else fprintf(stderr, "%s: %s\n", prog, problem);
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
}

int bus_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }
