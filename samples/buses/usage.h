/* samples/buses/usage.h - the command-line errors of gen_buses and buses:
 * both say what is wrong with which argument, then their usage line, and
 * exit with status 2. */
#ifndef BUSES_USAGE_H
#define BUSES_USAGE_H

/** Print "PROG: PROBLEM 'ARG'" (or "PROG: PROBLEM" when arg is NULL) and
 *  "usage: USAGE" on stderr; returns 2, the exit status for it. */
int bus_bad_usage(const char *prog, const char *usage, const char *problem, const char *arg);

/** True for -h and --help. */
int bus_is_help(const char *arg);

#endif
