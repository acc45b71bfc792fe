/* samples/buses/buses.c - `buses [--variant V] FILE`: where are the North
 * Bound #22 buses?  The XML bus pipeline of seed slides 54-74 (and 84):
 *
 *   expat --events--> buses_to_dicts --bus--> filter_on_field("route","22")
 *     --> filter_on_field("direction","North Bound") --> bus_locations
 *
 * printing `22,<id>,"North Bound",<latitude>,<longitude>` for every match,
 * in the order of the file.  The variants compute the same output:
 *
 *   coroutine  (default) the expat handlers send the events into the
 *              buses_to_dicts coroutine (slide 70's expat_parse), and every
 *              stage after it is a coroutine too (slides 63-68).  The events
 *              go in batches of --batch N (default 256); --batch 1 sends
 *              each event alone, as the slide does (see bus.h for why).
 *   direct     the same pipeline with plain expat callbacks and function
 *              calls, no coroutines: the state of slide 64 is a variable.
 *   threaded   slide 84: a threaded() stage (corio_threaded) between
 *              buses_to_dicts and the filters.  Not available yet.
 *   process    slide 86: the filters in a child process, the buses sent
 *              over a pipe.  Not available yet.
 *
 * Each variant is one function in VARIANTS; one that is not written yet has
 * no function, and asking for it is an error (exit status 2).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "usage.h"

#define PROG "buses"
#define USAGE "buses [--variant coroutine|direct|threaded|process] [--batch N] FILE"

/* The fields and values the pipeline filters on (slide 68). */
#define ROUTE "22"
#define DIRECTION "North Bound"

/* ---- coroutine: slides 63-70 --------------------------------------------- */

/* The expat handlers of slide 70.  Each adds its event to the batch and
 * sends the batch to the first stage when it is full; a stage that fails
 * stops the parse. */
typedef struct coro_source {
    bus_run *run;
    corio_coro *target; /* buses_to_dicts */
    bus_batch batch;
} coro_source;

/* target.send(batch), then start a new one. */
static int send_batch(coro_source *s) {
    int r = bus_send(s->target, &s->batch);
    bus_batch_clear(&s->batch);
    return r;
}

static void add_event(coro_source *s, enum bus_event_kind kind, const char *p, size_t len) {
    int r = 0;
    bool joins = kind == BUS_EV_TEXT && s->batch.n > 0 &&
                 s->batch.ev[s->batch.n - 1].kind == BUS_EV_TEXT;
    if (!joins && s->batch.n == s->batch.cap) r = send_batch(s);
    if (r == 0) r = bus_batch_add(&s->batch, kind, p, len);
    if (r < 0) bus_stop(s->run, r);
}

static void XMLCALL coro_start(void *data, const XML_Char *name, const XML_Char **attrs) {
    (void)attrs;
    add_event(data, BUS_EV_START, name, strlen(name));
}

static void XMLCALL coro_end(void *data, const XML_Char *name) {
    add_event(data, BUS_EV_END, name, strlen(name));
}

static void XMLCALL coro_text(void *data, const XML_Char *text, int len) {
    add_event(data, BUS_EV_TEXT, text, (size_t)len);
}

static int run_coroutine(bus_run *run, size_t batch) {
    /* Built from the sink up, as the nested calls of slide 68 are:
     * buses_to_dicts(filter_on_field(..., filter_on_field(..., bus_locations()))) */
    corio_coro *locations = NULL, *by_direction = NULL, *by_route = NULL, *dicts = NULL;
    bus_filter direction = {.field = "direction", .value = DIRECTION};
    bus_filter route = {.field = "route", .value = ROUTE};
    bus_dicts d;
    bus_dicts_init(&d, NULL);
    int r = bus_start(&locations, bus_locations_body, run, "bus_locations");
    if (r == 0) {
        direction.target = locations;
        r = bus_start(&by_direction, bus_filter_body, &direction, "filter_on_field(direction)");
    }
    if (r == 0) {
        route.target = by_direction;
        r = bus_start(&by_route, bus_filter_body, &route, "filter_on_field(route)");
    }
    if (r == 0) {
        d.target = by_route;
        r = bus_start(&dicts, bus_dicts_body, &d, "buses_to_dicts");
    }
    coro_source s = {run, dicts, {0}};
    if (r == 0) r = bus_batch_init(&s.batch, batch);
    int status = 0;
    if (r < 0) {
        bus_error(run, "creating the pipeline", r);
        status = -1;
    } else {
        XML_SetUserData(run->parser, &s);
        XML_SetElementHandler(run->parser, coro_start, coro_end);
        XML_SetCharacterDataHandler(run->parser, coro_text);
        status = bus_parse_file(run);
        /* The last events, then the end of the input closes the pipeline,
         * which flushes the output at its end. */
        if (status == 0 && (r = send_batch(&s)) == 0) r = bus_close(dicts);
        if (status == 0 && r < 0) {
            if (!run->reported) bus_error(run, run->path, r);
            status = -1;
        }
    }
    /* After a failure the stages may still be suspended: destroy closes
     * them (and they close their targets, which is harmless twice). */
    corio_coro_destroy(dicts);
    corio_coro_destroy(by_route);
    corio_coro_destroy(by_direction);
    corio_coro_destroy(locations);
    bus_batch_fini(&s.batch);
    bus_dicts_fini(&d);
    return status;
}

/* ---- direct: the same without coroutines --------------------------------- */

/* Everything the callbacks need.  Without a coroutine to remember where it
 * is, buses_to_dicts keeps its state of slide 64 in `in_bus`. */
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
    if (route == NULL || strcmp(route, ROUTE) != 0) return;
    const char *dir = bus_get(&s->bus, "direction");
    if (dir == NULL || strcmp(dir, DIRECTION) != 0) return;
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
 * no handlers yet), sending `batch` events at a time where it sends events,
 * and returns 0, or -1 after saying why on stderr. */
typedef int (*variant_fn)(bus_run *run, size_t batch);

static const struct {
    const char *name;
    variant_fn run; /* NULL: not written yet */
} VARIANTS[] = {
    {"coroutine", run_coroutine},
    {"direct", run_direct},
    {"threaded", NULL}, /* slide 84, on corio_threaded (corio/sync.h) */
    {"process", NULL},  /* slide 86, the filters in a child process */
};
enum { NVARIANTS = sizeof VARIANTS / sizeof VARIANTS[0] };

static int bad_usage(const char *problem, const char *arg) {
    return bus_bad_usage(PROG, USAGE, problem, arg);
}

int main(int argc, char **argv) {
    const char *variant = "coroutine", *path = NULL;
    size_t batch = BUS_BATCH_DEFAULT;
    bool options = true;
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
    if (VARIANTS[v].run == NULL) {
        fprintf(stderr, "%s: variant '%s' is not available yet\n", PROG, variant);
        return 2;
    }

    /* Matches are few, but a large buffer keeps the output to a few writes
     * when a file has many. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    bus_run run = {.prog = PROG, .path = path, .out = stdout};
    run.parser = XML_ParserCreate(NULL);
    if (run.parser == NULL) {
        bus_error(&run, "creating the XML parser", -ENOMEM);
        return 1;
    }
    int status = VARIANTS[v].run(&run, batch);
    XML_ParserFree(run.parser);
    return status == 0 ? 0 : 1;
}
