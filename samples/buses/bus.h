/* samples/buses/bus.h - the pieces of the bus pipeline of the course
 * that every variant of `buses` shares: the bus "dictionary",
 * the XML events, the file reader that feeds expat, the match
 * printer, the pipeline stages as corio coroutines
 * (buses_to_dicts, filter_on_field,
 * bus_locations), and the byte form of a batch of buses that
 * the threaded and process variants hand to the other side.
 *
 * Conventions of the stages (those of samples/pipelines/stages.h):
 *  - What travels through corio_coro_send() is a pointer (a bus_event * into
 *    buses_to_dicts, a bus * after it) that is valid only during that send:
 *    a stage uses or forwards it before it yields again and never keeps it.
 *    A stage that hands values to another thread or process
 *    must copy them first.
 *  - A stage body returns NULL when it was closed, or BUS_ERR(-errno) when
 *    it failed; bus_send() and bus_close() turn that back into an int.
 *  - Closing propagates: a stage that is closed closes its target.  Whoever
 *    created a coroutine destroys it.
 */
#ifndef BUSES_BUS_H
#define BUSES_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <expat.h>

#include "corio.h"

/** A stage's failure, as its return value. */
#define BUS_ERR(e) ((void *)(intptr_t)(e))

/** The size of the blocks read from the file and given to XML_Parse. */
#define BUS_BLOCK_SIZE (1u << 20)

/* ---- growing text -------------------------------------------------------- */

/** A byte buffer that grows; `p` is NUL-terminated once anything was
 *  appended. */
typedef struct bus_text {
    char *p;
    size_t len, cap;
} bus_text;

/** Append s[0, n) (and keep a NUL after it).  0 or -ENOMEM. */
int bus_text_append(bus_text *t, const char *s, size_t n);
/** Make room for n more bytes and the NUL.  0 or -ENOMEM. */
int bus_text_reserve(bus_text *t, size_t n);
void bus_text_fini(bus_text *t);

/* ---- the bus dictionary -------------------------------------- */

/** One bus: element name -> text, as the course's dict.  Names and values
 *  live NUL-terminated in one buffer (`text`) that is reused from bus to bus,
 *  so that collecting a bus allocates nothing once the buffers have grown;
 *  the fields hold offsets into it, which stay right when it moves. */
typedef struct bus_field {
    size_t name, value;
} bus_field;

typedef struct bus {
    size_t number; /**< 1 for the first <bus> of the file, and so on */
    bus_text text;
    bus_field *fields;
    size_t nfields, cap;
} bus;

void bus_init(bus *b);
void bus_fini(bus *b);
/** busdict = { } */
void bus_clear(bus *b);
/** busdict[name] = value[0, len): a name already present gets the new value,
 *  as a dict assignment does.  0 or -ENOMEM. */
int bus_set(bus *b, const char *name, const char *value, size_t len);
/** busdict.get(name): the value, or NULL when the bus has no such field.
 *  Valid until the bus is changed. */
const char *bus_get(const bus *b, const char *name);

/* ---- one run of the program ---------------------------------------------- */

/** What every part of one run shares: where to print, whom to blame, and
 *  the first error.  The expat handlers cannot return an error, so they
 *  store it here and stop the parser; bus_parse_file() then reports it. */
typedef struct bus_run {
    const char *prog;  /**< for messages: "buses" */
    const char *path;  /**< the XML file */
    FILE *out;         /**< where the matches are printed */
    XML_Parser parser; /**< for the line numbers of parse errors */
    int err;           /**< the first error of a handler or stage, or 0 */
    bool reported;     /**< err was already explained on stderr */
} bus_run;

/** Print "PROG: WHAT: strerror(-err)" on stderr. */
void bus_error(const bus_run *run, const char *what, int err);

/** Keep the first error `err` (< 0) of a handler and stop the parser.  The
 *  handler then returns; expat calls no more handlers. */
void bus_stop(bus_run *run, int err);

/** Read run->path in blocks of BUS_BLOCK_SIZE and feed them to
 *  run->parser (whose handlers are set), the last one with isFinal.
 *  Returns 0, or -1 after printing why on stderr: the file cannot be read,
 *  it is not well-formed XML ("PROG: PATH: XML error at line L, column C:
 *  what", with expat's position), or a handler failed (run->err). */
int bus_parse_file(bus_run *run);

/** bus_locations' print:
 *  %(route)s,%(id)s,"%(direction)s",%(latitude)s,%(longitude)s
 *  A bus without one of those fields is an error (a KeyError in Python):
 *  -EBADMSG, explained on stderr with the bus's number and id.  (Not with
 *  a line number: the parser may be ahead of the bus, some events later.) */
int bus_print(bus_run *run, const bus *b);

/* ---- the XML events ----------------------------------------- */

enum bus_event_kind {
    BUS_EV_START, /**< ('start', (name, attrs)): an element starts */
    BUS_EV_END,   /**< ('end', name) */
    BUS_EV_TEXT   /**< ('text', data): character data */
};

/** One event; its name (START, END: NUL-terminated) or its text (TEXT:
 *  `len` bytes) is at `off` in the text of the batch holding it. */
typedef struct bus_event {
    enum bus_event_kind kind;
    size_t off, len;
} bus_event;

/** Events travel in batches: one corio_coro_send() carries up to `cap` of
 *  them.  A send costs a few tens of nanoseconds, and a bus is some 50
 *  events, so sending them one by one (cap 1) costs as much as expat's
 *  parse; a batch of a few hundred makes the switches negligible.  Expat
 *  gives its names and text only for the duration of a callback, so the
 *  batch copies them into `text`.  Consecutive text is joined into one
 *  event, as the course's `parser.buffer_text = True` does. */
typedef struct bus_batch {
    bus_event *ev;
    size_t n, cap;
    bus_text text;
} bus_batch;

/** The default number of events per batch. */
#define BUS_BATCH_DEFAULT 256

/** An empty batch of `cap` (>= 1) events.  0 or -ENOMEM. */
int bus_batch_init(bus_batch *b, size_t cap);
void bus_batch_fini(bus_batch *b);
/** Drop the events (after they were sent). */
void bus_batch_clear(bus_batch *b);
/** Append an event; the caller sends the batch first when it is full
 *  (n == cap), except for TEXT after TEXT, which is joined to the last
 *  event.  0 or -ENOMEM. */
int bus_batch_add(bus_batch *b, enum bus_event_kind kind, const char *s, size_t len);
/** The name or text of `ev` in `b`. */
static inline const char *bus_batch_str(const bus_batch *b, const bus_event *ev) {
    return b->text.p + ev->off;
}

/* ---- coroutine helpers ----------------------------------------------------- */

/** Create a primed coroutine named `name`. */
int bus_start(corio_coro **co, corio_coro_fn fn, void *arg, const char *name);

/** Send `value` to the stage `co`: 0 when it took it and yielded for the
 *  next one; its error when it failed; -EPIPE when it returned without
 *  one; a negative corio error. */
int bus_send(corio_coro *co, void *value);

/** Close the stage `co`: 0, its error, or the error of corio_coro_close. */
int bus_close(corio_coro *co);

/* ---- the stages ------------------------------------------------------------ */

/** The fields and values the pipeline filters on. */
#define BUS_ROUTE "22"
#define BUS_DIRECTION "North Bound"

/** buses_to_dicts: receives batches of events (bus_batch *),
 *  and sends each <bus> element, as a bus *, to `target`.  It takes the
 *  events of a batch one by one and yields for the next batch only when it
 *  has used up the one it holds. */
typedef struct bus_dicts {
    corio_coro *target;
    bus bus;                /**< the bus being collected (state B) */
    bus_text fragments;     /**< the text of the current inner element */
    const bus_batch *batch; /**< the batch being read, valid until it yields */
    size_t next;            /**< the next event of `batch` */
} bus_dicts;
void bus_dicts_init(bus_dicts *d, corio_coro *target);
void bus_dicts_fini(bus_dicts *d);
void *bus_dicts_body(void *arg);

/** filter_on_field: sends on the buses whose `field` is `value`. */
typedef struct bus_filter {
    const char *field, *value;
    corio_coro *target;
} bus_filter;
void *bus_filter_body(void *arg);

/** bus_locations: prints every bus sent to it with bus_print()
 *  on the bus_run `arg`; flushes the output when closed. */
void *bus_locations_body(void *arg);

/** The end of every variant's pipeline, the course's
 *  filter_on_field("route","22", filter_on_field("direction","North Bound",
 *  bus_locations())), built from the sink up.  `by_route` is where the buses
 *  go in.  The coroutines point into the struct: it must not move while
 *  they live. */
typedef struct bus_chain {
    bus_filter route, direction;
    corio_coro *by_route, *by_direction, *locations;
} bus_chain;
/** Start the three stages, printing on `run`.  0, or a corio error (what
 *  was started is destroyed). */
int bus_chain_start(bus_chain *c, bus_run *run);
/** Destroy the stages (closing those still suspended). */
void bus_chain_destroy(bus_chain *c);

/** The front of the pipeline, the course's expat_parse into buses_to_dicts:
 *  parse run->path with run->parser (no handlers set yet), sending `batch`
 *  events at a time to a buses_to_dicts coroutine that sends the buses to
 *  `target`; at the end of the input close it, which closes `target`.
 *  Returns 0, or -1 after saying why on stderr (unless run->reported).
 *  `target` is left to the caller to destroy. */
int bus_parse_into(bus_run *run, size_t batch, corio_coro *target);

/* ---- buses as bytes ----------------------------------------- */

/** A bus passed to another thread or process must be copied: the one a
 *  stage receives is valid only during the send.  A pack is such a copy of
 *  a run of buses, as bytes in a bus_text: for each bus its number (8
 *  bytes), its field count (4 bytes), then for each field the name and the
 *  value, each as a length (4 bytes) followed by that many bytes and a
 *  NUL.  Integers are little-endian.  The NULs let the reader use the
 *  strings where they are; the lengths let it check every one against the
 *  end of the pack, since a pack from another process is not trusted. */

/** Append bus `b` to the pack `t`.  0 or -ENOMEM. */
int bus_pack(bus_text *t, const bus *b);

/** Send every bus of the pack p[0, len) to `target`, one by one, rebuilt in
 *  `scratch` (a bus the caller owns).  Returns 0, the target's error, or
 *  -EBADMSG for a malformed pack, explained on stderr (with run->path, and
 *  run->reported set). */
int bus_unpack_send(bus_run *run, const char *p, size_t len, bus *scratch, corio_coro *target);

/** The stage that packs the buses sent to it: it appends each to `pack`
 *  and calls flush() once the pack holds `limit` bytes or more, so that
 *  what crosses to the other side is a few large messages instead of one
 *  per bus.  When closed it flushes what is left and calls end(), the
 *  other side's close.  flush() hands p->pack over and leaves it empty (it
 *  may take the buffer and leave a new one); both return 0 or an error,
 *  which becomes the stage's.  The creator fills the struct and finishes
 *  `pack` afterwards. */
typedef struct bus_packer {
    bus_text pack;
    size_t limit;
    int (*flush)(struct bus_packer *p);
    int (*end)(struct bus_packer *p);
    void *ctx; /**< the callbacks' */
} bus_packer;
void *bus_packer_body(void *arg);

/** The default pack size of the threaded and process variants: a few
 *  hundred buses, so that the cost of a hand-over (a queue, a frame with
 *  its system calls) is spread over many. */
#define BUS_PACK_LIMIT ((size_t)64 * 1024)

#endif
