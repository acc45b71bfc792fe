/* samples/buses/threaded.c - `buses --variant threaded`, as the course's:
 *
 *   main thread:   expat --events--> buses_to_dicts --bus--> pack
 *                    --pack--> threaded() (corio_threaded)
 *   bridge thread:   --pack--> unpack --bus--> filter_on_field("route","22")
 *                    --> filter_on_field("direction","North Bound") --> bus_locations
 *
 * The bus buses_to_dicts sends is valid only during that send (it reuses
 * its buffers for the next bus), so it cannot be queued for another thread
 * as it is.  The pack stage copies each bus into a pack (bus.h, "buses as
 * bytes") and hands over a pack of some 64 KiB at a time, each in its own
 * allocation: a queue hand-over costs a lock and often a wake-up, which a
 * few hundred buses a pack make negligible.  The unpack stage, the
 * bridge's target, frees each pack once its buses are through the filters.
 *
 * Errors on the far side (a bus without a printed field, a failed write)
 * are explained there.  The far side cannot stop the parse directly, so it
 * records its error, and the pack stage looks at it before each hand-over
 * and stops the main side with it.  Meanwhile the unpack stage keeps taking
 * packs and freeing them, so that no pack is left in the queue without an
 * owner (the bridge drops the items a finished target no longer takes).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "variants.h"

/* How many packs may wait in the bridge's queue: enough that the main
 * thread seldom waits for the far one, few enough to bound the memory
 * (16 packs of 64 KiB). */
#define QUEUE_PACKS 16

/* What runs on the bridge's thread.  It has its own bus_run: printing and
 * `reported` belong to that thread while it runs; the main thread reads
 * them only after closing the bridge, which joins it. */
typedef struct far_side {
    bus_run run;
    bus_chain chain;
    bus scratch;       /* the bus rebuilt from a pack */
    _Atomic int err;   /* the first error, already explained on stderr */
} far_side;

typedef struct threaded {
    bus_run *run;       /* the main thread's */
    far_side far;
    corio_coro *bridge; /* threaded(unpack) */
} threaded;

static void far_failed(far_side *f, int err) {
    if (!f->run.reported) bus_error(&f->run, f->run.path, err);
    f->run.reported = true;
    /* release: the message is out before the main thread acts on it */
    atomic_store_explicit(&f->err, err, memory_order_release);
}

/* unpack: the bridge's target, on the bridge's thread.  Each value is a
 * pack (bus_text *) it now owns. */
static void *unpack_body(void *arg) {
    far_side *f = arg;
    void *v;
    while (corio_coro_yield(NULL, &v) == 0) {
        bus_text *pack = v;
        if (atomic_load_explicit(&f->err, memory_order_relaxed) == 0) {
            int r = bus_unpack_send(&f->run, pack->p, pack->len, &f->scratch, f->chain.by_route);
            if (r < 0) far_failed(f, r);
        }
        bus_text_fini(pack);
        free(pack);
    }
    /* Closed (the bridge sends nothing else): close the filters, unless
     * they already failed. */
    if (atomic_load_explicit(&f->err, memory_order_relaxed) == 0) {
        int r = bus_close(f->chain.by_route);
        if (r < 0) far_failed(f, r);
    }
    return NULL;
}

/* The room a new pack starts with: the limit and a bus or so beyond it,
 * so that filling it seldom reallocates. */
static int new_pack(bus_packer *p) { return bus_text_reserve(&p->pack, p->limit + 4096); }

/* The pack stage's flush: the pack goes to the bridge, which now owns it. */
static int hand_over(bus_packer *p) {
    threaded *t = p->ctx;
    int err = atomic_load_explicit(&t->far.err, memory_order_acquire);
    if (err < 0) {
        t->run->reported = true; /* the far side said why */
        return err;
    }
    bus_text *pack = malloc(sizeof *pack);
    if (pack == NULL) return -ENOMEM;
    *pack = p->pack;
    p->pack = (bus_text){0};
    int r = bus_send(t->bridge, pack);
    if (r < 0) { /* not queued: still ours */
        bus_text_fini(pack);
        free(pack);
        return r;
    }
    return new_pack(p);
}

/* The pack stage's end: closing the bridge waits until the far side has
 * taken every pack and closed its filters. */
static int close_bridge(bus_packer *p) {
    threaded *t = p->ctx;
    return bus_close(t->bridge);
}

int bus_run_threaded(bus_run *run, size_t batch) {
    threaded t = {.run = run};
    t.far.run = (bus_run){.prog = run->prog, .path = run->path, .out = run->out};
    atomic_init(&t.far.err, 0);
    bus_init(&t.far.scratch);
    bus_packer packer = {.limit = BUS_PACK_LIMIT, .flush = hand_over, .end = close_bridge, .ctx = &t};
    corio_coro *unpack = NULL, *pack = NULL;

    /* A bridge that cannot be made closes its target: the rest is
     * destroyed below, as after any failure. */
    int r = bus_chain_start(&t.far.chain, &t.far.run);
    if (r == 0) r = bus_start(&unpack, unpack_body, &t.far, "unpack");
    if (r == 0) r = corio_threaded(&t.bridge, unpack, QUEUE_PACKS);
    if (r == 0) r = new_pack(&packer);
    if (r == 0) r = bus_start(&pack, bus_packer_body, &packer, "pack");
    int status;
    if (r < 0) {
        bus_error(run, "creating the pipeline", r);
        status = -1;
    } else {
        status = bus_parse_into(run, batch, pack);
    }
    /* After a failure the stages may still be suspended: destroying the
     * pack stage closes it (and it closes the bridge), destroying the
     * bridge joins its thread in any case.  Only then is the far side
     * ours again. */
    corio_coro_destroy(pack);
    corio_coro_destroy(t.bridge);
    if (atomic_load_explicit(&t.far.err, memory_order_acquire) < 0) status = -1;
    corio_coro_destroy(unpack);
    bus_chain_destroy(&t.far.chain);
    bus_fini(&t.far.scratch);
    bus_text_fini(&packer.pack);
    return status;
}
