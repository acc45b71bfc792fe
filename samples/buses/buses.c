/* samples/buses/buses.c - `buses [--variant V] FILE`: where are the North
 * Bound #22 buses?  The XML bus pipeline of the course:
 *
 *   expat --events--> buses_to_dicts --bus--> filter_on_field("route","22")
 *     --> filter_on_field("direction","North Bound") --> bus_locations
 *
 * printing `22,<id>,"North Bound",<latitude>,<longitude>` for every match,
 * in the order of the file.  The variants compute the same output:
 *
 *   coroutine  (default) the expat handlers send the events into the
 *              buses_to_dicts coroutine (the course's expat_parse), and every
 *              stage after it is a coroutine too.  The events
 *              go in batches of --batch N (default 256); --batch 1 sends
 *              each event alone, as the course does (see bus.h for why).
 *   direct     the same pipeline with plain expat callbacks and function
 *              calls, no coroutines: the state is a variable.
 *   threaded   a threaded() stage (corio_threaded) between
 *              buses_to_dicts and the filters, which run on the bridge's
 *              thread (threaded.c).
 *   process    the filters in a child process, the buses sent
 *              to it as frames over a socket pair (process.c).
 *
 * Each variant is one function in VARIANTS.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "usage.h"
#include "variants.h"

#define PROG "buses"
#define USAGE "buses [--variant coroutine|direct|threaded|process] [--batch N] FILE"

/* ---- coroutine --------------------------------------------- */

static int run_coroutine(bus_run *run, size_t batch) {
    /* Built from the sink up, as the course's nested calls are:
     * buses_to_dicts(filter_on_field(..., filter_on_field(..., bus_locations()))) */
    bus_chain chain;
    int r = bus_chain_start(&chain, run);
    if (r < 0) {
        bus_error(run, "creating the pipeline", r);
        return -1;
    }
    int status = bus_parse_into(run, batch, chain.by_route);
    bus_chain_destroy(&chain);
    return status;
}

/* ---- direct: the same without coroutines --------------------------------- */

/* Everything the callbacks need.  Without a coroutine to remember where it
 * is, buses_to_dicts keeps its state in `in_bus`. */
typedef struct direct_state {
    bus_run *run;
    bool in_bus;        /* state B: collecting a bus */
    size_t number;      /* buses seen */
    bus bus;
    bus_text fragments;
} direct_state;

/* filter_on_field("route","22") and filter_on_field("direction",...) as
 * plain tests, then bus_locations. */
static void direct_found_bus(direct_state *s) {
    const char *route = bus_get(&s->bus, "route");
    if (route == NULL || strcmp(route, BUS_ROUTE) != 0) return;
    const char *dir = bus_get(&s->bus, "direction");
    if (dir == NULL || strcmp(dir, BUS_DIRECTION) != 0) return;
    int r = bus_print(s->run, &s->bus);
    if (r < 0) bus_stop(s->run, r);
}

static void XMLCALL direct_start(void *data, const XML_Char *name, const XML_Char **attrs) {
    (void)attrs;
    direct_state *s = data;
    if (s->in_bus) {
        s->fragments.len = 0;
    } else if (strcmp(name, "bus") == 0) {
        s->in_bus = true;
        bus_clear(&s->bus);
        s->bus.number = ++s->number;
        s->fragments.len = 0;
    }
}

static void XMLCALL direct_end(void *data, const XML_Char *name) {
    direct_state *s = data;
    if (!s->in_bus) return;
    if (strcmp(name, "bus") == 0) {
        s->in_bus = false;
        direct_found_bus(s);
        return;
    }
    int r = bus_set(&s->bus, name, s->fragments.len > 0 ? s->fragments.p : "", s->fragments.len);
    if (r < 0) bus_stop(s->run, r);
}

static void XMLCALL direct_text(void *data, const XML_Char *text, int len) {
    direct_state *s = data;
    if (!s->in_bus) return; /* state A ignores text */
    int r = bus_text_append(&s->fragments, text, (size_t)len);
    if (r < 0) bus_stop(s->run, r);
}

static int run_direct(bus_run *run, size_t batch) {
    (void)batch; /* there is nothing to send */
    direct_state s = {.run = run};
    bus_init(&s.bus);
    XML_SetUserData(run->parser, &s);
    XML_SetElementHandler(run->parser, direct_start, direct_end);
    XML_SetCharacterDataHandler(run->parser, direct_text);
    int status = bus_parse_file(run);
    if (status == 0 && fflush(run->out) == EOF) {
        bus_error(run, "writing the output", errno != 0 ? -errno : -EIO);
        status = -1;
    }
    bus_fini(&s.bus);
    bus_text_fini(&s.fragments);
    return status;
}

/* ---- the variants and main ----------------------------------------------- */

/* A variant runs the whole pipeline over run->path with run->parser (fresh,
 * no handlers yet), sending `batch` events at a time into buses_to_dicts,
 * and returns 0, or -1 after saying why on stderr. */
typedef int (*variant_fn)(bus_run *run, size_t batch);

static const struct {
    const char *name;
    variant_fn run;
} VARIANTS[] = {
    {"coroutine", run_coroutine},
    {"direct", run_direct},
    {"threaded", bus_run_threaded}, /* threaded.c */
    {"process", bus_run_process},   /* process.c */
};
enum { NVARIANTS = sizeof VARIANTS / sizeof VARIANTS[0] };

static int bad_usage(const char *problem, const char *arg) {
    return bus_bad_usage(PROG, USAGE, problem, arg);
}

int main(int argc, char **argv) {
    const char *variant = "coroutine", *path = NULL;
    size_t batch = BUS_BATCH_DEFAULT;
    bool options = true, child = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
        } else if (options && bus_is_help(a)) {
            printf("usage: %s\n", USAGE);
            return 0;
        } else if (options && strcmp(a, "--variant") == 0) {
            if (i + 1 == argc) return bad_usage("missing the value of", a);
            variant = argv[++i];
        } else if (options && strncmp(a, "--variant=", 10) == 0) {
            variant = a + 10;
        } else if (options && strcmp(a, "--child") == 0) {
            /* Not in the usage: how the process variant starts its child
             * (process.c), which reads packed buses from stdin. */
            child = true;
        } else if (options && strcmp(a, "--batch") == 0) {
            if (i + 1 == argc) return bad_usage("missing the value of", a);
            char *end;
            const char *n = argv[++i];
            errno = 0;
            unsigned long v = strtoul(n, &end, 10);
            if (errno != 0 || *n < '1' || *n > '9' || *end != '\0' || v > 1000000)
                return bad_usage("bad batch size (1 to 1000000)", n);
            batch = v;
        } else if (options && a[0] == '-' && a[1] != '\0') {
            return bad_usage("unknown option", a);
        } else if (path == NULL) {
            path = a;
        } else {
            return bad_usage("unexpected argument", a);
        }
    }
    if (path == NULL) return bad_usage("missing the XML file", NULL);

    size_t v = 0;
    while (v < NVARIANTS && strcmp(VARIANTS[v].name, variant) != 0) v++;
    if (v == NVARIANTS) return bad_usage("unknown variant", variant);

    /* Matches are few, but a large buffer keeps the output to a few writes
     * when a file has many. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    bus_run run = {.prog = PROG, .path = path, .out = stdout};
    if (child) return bus_run_child(&run) == 0 ? 0 : 1;
    run.parser = XML_ParserCreate(NULL);
    if (run.parser == NULL) {
        bus_error(&run, "creating the XML parser", -ENOMEM);
        return 1;
    }
    int status = VARIANTS[v].run(&run, batch);
    XML_ParserFree(run.parser);
    return status == 0 ? 0 : 1;
}
