/* samples/buses/gen_buses.c - `gen_buses [--mb N] [--seed S] OUT`: writes a
 * made-up CTA "allroutes.xml" of about N MB (10^6 bytes; default 30, the
 * size of the course's input) for `buses` to search.  The shape is the
 * course's, pretty-printed with tabs:
 *
 *   <?xml version="1.0"?>
 *   <buses>
 *   	<bus>
 *   		<id>7574</id>
 *   		<route>147</route>
 *   		...
 *   		<finalStop><![CDATA[Paulina & Howard Terminal]]></finalStop>
 *   		<operator>42493</operator>
 *   	</bus>
 *   	...
 *   </buses>
 *
 * What a parser must cope with is in it on purpose: one bus in eight has its
 * fields in a shuffled order; a quarter of the final stops are plain text
 * with &amp; instead of CDATA; one direction in ten is spelled with a
 * character reference (North&#32;Bound), which expat reports in pieces.
 * About one bus in sixteen is on route 22, half of those North Bound.
 *
 * The output depends only on N and S: the numbers come from a splitmix64
 * generator seeded with S and are printed with integer arithmetic (no
 * floating point, no locale), so the same arguments give the same bytes on
 * every machine.  OUT "-" is stdout.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

#define PROG "gen_buses"
#define USAGE "gen_buses [--mb N] [--seed S] OUT    (N MB, default 30; OUT - is stdout)"

/* ---- the random numbers --------------------------------------------------- */

/* splitmix64: tiny, fast and fully specified, so the file is the same
 * everywhere (rand() differs between C libraries). */
static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A number in [0, n).  The modulo bias is irrelevant here. */
static uint64_t rng_below(uint64_t n) { return rng_next() % n; }

#define PICK(array) (array[rng_below(sizeof array / sizeof array[0])])

/* ---- the data ------------------------------------------------------------- */

static const char *const ROUTES[] = {"3",  "4",  "6",  "8",  "9",   "12",  "20",  "21",
                                     "29", "36", "49", "52", "53",  "55",  "60",  "62",
                                     "63", "66", "72", "77", "79",  "80",  "82",  "85",
                                     "87", "94", "2",  "1",  "147", "151", "152", "156"};
static const char *const DIRECTIONS[] = {"North Bound", "South Bound", "East Bound",
                                         "West Bound"};
static const char *const COLORS[] = {"#3300ff", "#ff0000", "#009900", "#ff9900", "#cc00cc"};
/* Spelled with a bare '&': CDATA keeps it as it is, plain text escapes it. */
static const char *const STOPS[] = {
    "Paulina & Howard Terminal", "Clark & Arthur",      "Harrison & Wabash",
    "Halsted & 79th",            "Navy Pier",           "Cumberland Blue Line Station",
    "Jefferson Park Terminal",   "Midway Orange Line",  "Kedzie & Van Buren",
    "Ashland & 95th",            "Union Station",       "Museum Campus"};

/* The fields of one bus, in the course's order. */
enum field {
    F_ID, F_ROUTE, F_COLOR, F_REVENUE, F_DIRECTION, F_LATITUDE, F_LONGITUDE,
    F_PATTERN, F_PATTERN_DIRECTION, F_RUN, F_FINAL_STOP, F_OPERATOR, NFIELDS
};
static const char *const FIELD_NAMES[NFIELDS] = {
    "id", "route", "color", "revenue", "direction", "latitude", "longitude",
    "pattern", "patternDirection", "run", "finalStop", "operator"};

/* ---- writing ---------------------------------------------------------------- */

typedef struct out {
    FILE *f;
    uint64_t bytes; /* written so far */
} out;

static void put(out *o, const char *s) {
    size_t n = strlen(s);
    fwrite(s, 1, n, o->f); /* errors are checked once, with ferror, at the end */
    o->bytes += n;
}

/* A direction, sometimes with its space as a character reference. */
static void put_direction(out *o, const char *dir) {
    if (rng_below(10) != 0) {
        put(o, dir);
        return;
    }
    const char *space = strchr(dir, ' ');
    char word[16];
    snprintf(word, sizeof word, "%.*s", (int)(space - dir), dir);
    put(o, word);
    put(o, "&#32;");
    put(o, space + 1);
}

/* A final stop as CDATA or as text with its '&' escaped. */
static void put_stop(out *o, const char *stop) {
    if (rng_below(4) != 0) {
        put(o, "<![CDATA[");
        put(o, stop);
        put(o, "]]>");
        return;
    }
    for (const char *p = stop; *p != '\0'; p++) {
        char c[2] = {*p, '\0'};
        put(o, *p == '&' ? "&amp;" : c);
    }
}

static void put_bus(out *o) {
    /* Draw every value first, in one fixed order, so that shuffling the
     * fields does not change which numbers the later buses get. */
    char id[8], lat[32], lon[32], pattern[8], run[8], operator[8];
    const char *route = rng_below(16) == 0 ? "22" : PICK(ROUTES);
    const char *dir = strcmp(route, "22") == 0 ? DIRECTIONS[rng_below(2)] : PICK(DIRECTIONS);
    const char *color = PICK(COLORS);
    const char *revenue = rng_below(20) == 0 ? "false" : "true";
    const char *stop = PICK(STOPS);
    snprintf(id, sizeof id, "%" PRIu64, 1000 + rng_below(9000));
    /* Chicago: latitude 41.644 to 42.023, longitude -87.94 to -87.525, with
     * the 15 and 14 decimals of the course, from integers of 1e-15 and 1e-14
     * degrees. */
    uint64_t la = 41644000000000000u + rng_below(379000000000000u);
    uint64_t lo = 8752500000000000u + rng_below(41500000000000u);
    snprintf(lat, sizeof lat, "%" PRIu64 ".%015" PRIu64, la / 1000000000000000u,
             la % 1000000000000000u);
    snprintf(lon, sizeof lon, "-%" PRIu64 ".%014" PRIu64, lo / 100000000000000u,
             lo % 100000000000000u);
    snprintf(pattern, sizeof pattern, "%" PRIu64, 1 + rng_below(9999));
    snprintf(run, sizeof run, "P%03" PRIu64, rng_below(1000));
    snprintf(operator, sizeof operator, "%" PRIu64, 10000 + rng_below(90000));

    int order[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) order[i] = i;
    if (rng_below(8) == 0) { /* Fisher-Yates */
        for (int i = NFIELDS - 1; i > 0; i--) {
            int j = (int)rng_below((uint64_t)i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    put(o, "\t<bus>\n");
    for (int i = 0; i < NFIELDS; i++) {
        enum field f = (enum field)order[i];
        put(o, "\t\t<");
        put(o, FIELD_NAMES[f]);
        put(o, ">");
        switch (f) {
        case F_ID: put(o, id); break;
        case F_ROUTE: put(o, route); break;
        case F_COLOR: put(o, color); break;
        case F_REVENUE: put(o, revenue); break;
        case F_DIRECTION: put_direction(o, dir); break;
        case F_LATITUDE: put(o, lat); break;
        case F_LONGITUDE: put(o, lon); break;
        case F_PATTERN: put(o, pattern); break;
        case F_PATTERN_DIRECTION: put(o, dir); break;
        case F_RUN: put(o, run); break;
        case F_FINAL_STOP: put_stop(o, stop); break;
        case F_OPERATOR: put(o, operator); break;
        case NFIELDS: break;
        }
        put(o, "</");
        put(o, FIELD_NAMES[f]);
        put(o, ">\n");
    }
    put(o, "\t</bus>\n");
}

/* ---- main ----------------------------------------------------------------- */

static int bad_usage(const char *problem, const char *arg) {
    return bus_bad_usage(PROG, USAGE, problem, arg);
}

int main(int argc, char **argv) {
    double mb = 30;
    uint64_t seed = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (bus_is_help(a)) {
            printf("usage: %s\n", USAGE);
            return 0;
        } else if (strcmp(a, "--mb") == 0 || strcmp(a, "--seed") == 0) {
            if (i + 1 == argc) return bad_usage("missing the value of", a);
            const char *v = argv[++i];
            errno = 0;
            if (a[2] == 'm') {
                /* A fraction is allowed: the tests want small files. */
                mb = strtod(v, &end);
                if (errno != 0 || end == v || *end != '\0' || !(mb > 0 && mb <= 100000))
                    return bad_usage("bad size", v);
            } else {
                unsigned long long s = strtoull(v, &end, 10);
                if (errno != 0 || *v < '0' || *v > '9' || *end != '\0')
                    return bad_usage("bad seed", v);
                seed = s;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return bad_usage("unknown option", a);
        } else if (path == NULL) {
            path = a;
        } else {
            return bad_usage("unexpected argument", a);
        }
    }
    if (path == NULL) return bad_usage("missing OUT", NULL);

    out o = {strcmp(path, "-") == 0 ? stdout : fopen(path, "w"), 0};
    if (o.f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
        return 1;
    }
    rng_state = seed;
    static const char footer[] = "</buses>\n";
    uint64_t target = (uint64_t)(mb * 1e6);
    put(&o, "<?xml version=\"1.0\"?>\n<buses>\n");
    /* At least one bus, then buses until the footer would reach the size. */
    do put_bus(&o);
    while (o.bytes + sizeof footer - 1 < target);
    put(&o, footer);

    bool failed = ferror(o.f) != 0;
    if ((o.f == stdout ? fflush(o.f) : fclose(o.f)) == EOF) failed = true;
    if (failed) {
        fprintf(stderr, "%s: writing %s: %s\n", PROG, path, strerror(errno != 0 ? errno : EIO));
        return 1;
    }
    return 0;
}
