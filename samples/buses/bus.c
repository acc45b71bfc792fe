/* samples/buses/bus.c - the bus dictionary, the expat file reader, the
 * printer and the coroutine stages that the variants of `buses` share.
 * See bus.h for the conventions.
 */
#define _POSIX_C_SOURCE 200809L
#include "bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- growing text -------------------------------------------------------- */

int bus_text_reserve(bus_text *t, size_t n) {
    if (t->cap - t->len > n) return 0; /* room for n bytes and the NUL */
    if (n >= SIZE_MAX / 2 - t->len) return -ENOMEM;
    size_t cap = t->cap > 0 ? t->cap : 64;
    while (cap - t->len <= n) cap *= 2;
    char *p = realloc(t->p, cap);
    if (p == NULL) return -ENOMEM;
    t->p = p;
    t->cap = cap;
    return 0;
}

int bus_text_append(bus_text *t, const char *s, size_t n) {
    int r = bus_text_reserve(t, n);
    if (r < 0) return r;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

void bus_text_fini(bus_text *t) {
    free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
}

/* ---- the bus dictionary -------------------------------------------------- */

void bus_init(bus *b) { memset(b, 0, sizeof *b); }

void bus_fini(bus *b) {
    bus_text_fini(&b->text);
    free(b->fields);
    bus_init(b);
}

void bus_clear(bus *b) {
    b->text.len = 0;
    b->nfields = 0;
}

const char *bus_get(const bus *b, const char *name) {
    /* A bus has a dozen fields: a linear search beats hashing them. */
    for (size_t i = 0; i < b->nfields; i++)
        if (strcmp(b->text.p + b->fields[i].name, name) == 0)
            return b->text.p + b->fields[i].value;
    return NULL;
}

int bus_set(bus *b, const char *name, const char *value, size_t len) {
    size_t i = 0;
    while (i < b->nfields && strcmp(b->text.p + b->fields[i].name, name) != 0) i++;
    if (i == b->nfields) {
        if (b->nfields == b->cap) {
            size_t cap = b->cap > 0 ? b->cap * 2 : 16;
            bus_field *f = realloc(b->fields, cap * sizeof *f);
            if (f == NULL) return -ENOMEM;
            b->fields = f;
            b->cap = cap;
        }
        size_t off = b->text.len;
        int r = bus_text_append(&b->text, name, strlen(name) + 1);
        if (r < 0) return r;
        b->fields[i].name = off;
        b->nfields++;
    }
    /* A repeated name leaves its old value in the buffer, unused, until the
     * bus is cleared: simpler than compacting, and rare. */
    b->fields[i].value = b->text.len;
    int r = bus_text_append(&b->text, value, len);
    if (r < 0) return r;
    b->text.len++; /* keep the NUL that ends the value */
    return 0;
}

/* ---- batches of events ------------------------------------------------- */

int bus_batch_init(bus_batch *b, size_t cap) {
    memset(b, 0, sizeof *b);
    b->ev = malloc(cap * sizeof *b->ev);
    if (b->ev == NULL) return -ENOMEM;
    b->cap = cap;
    return 0;
}

void bus_batch_fini(bus_batch *b) {
    free(b->ev);
    bus_text_fini(&b->text);
    memset(b, 0, sizeof *b);
}

void bus_batch_clear(bus_batch *b) {
    b->n = 0;
    b->text.len = 0;
}

int bus_batch_add(bus_batch *b, enum bus_event_kind kind, const char *s, size_t len) {
    bus_event *last = b->n > 0 ? &b->ev[b->n - 1] : NULL;
    if (kind == BUS_EV_TEXT && last != NULL && last->kind == BUS_EV_TEXT) {
        /* The last text is the end of the buffer: grow it in place. */
        last->len += len;
        return bus_text_append(&b->text, s, len);
    }
    if (b->n == b->cap) return -ENOBUFS; /* the caller's mistake: send first */
    bus_event *ev = &b->ev[b->n];
    ev->kind = kind;
    ev->off = b->text.len;
    ev->len = len;
    /* A name keeps its NUL (strcmp reads it); text is measured by len. */
    int r = bus_text_append(&b->text, s, kind == BUS_EV_TEXT ? len : len + 1);
    if (r < 0) return r;
    b->n++;
    return 0;
}

/* ---- one run ------------------------------------------------------------- */

void bus_error(const bus_run *run, const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", run->prog, what, strerror(err < 0 ? -err : err));
}

void bus_stop(bus_run *run, int err) {
    if (run->err == 0) run->err = err;
    XML_StopParser(run->parser, XML_FALSE);
}

/* Why the parse failed: a handler's error, or expat's own. */
static void report_parse_error(bus_run *run) {
    if (run->err < 0) {
        if (!run->reported) bus_error(run, run->path, run->err);
        return;
    }
    enum XML_Error code = XML_GetErrorCode(run->parser);
    fprintf(stderr, "%s: %s: XML error at line %lu, column %lu: %s\n", run->prog, run->path,
            (unsigned long)XML_GetCurrentLineNumber(run->parser),
            (unsigned long)XML_GetCurrentColumnNumber(run->parser) + 1, XML_ErrorString(code));
}

int bus_parse_file(bus_run *run) {
    int fd = open(run->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bus_error(run, run->path, -errno);
        return -1;
    }
    char *block = malloc(BUS_BLOCK_SIZE);
    if (block == NULL) {
        bus_error(run, "allocating the read buffer", -ENOMEM);
        close(fd);
        return -1;
    }
    int status = 0;
    for (;;) {
        ssize_t n = read(fd, block, BUS_BLOCK_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            bus_error(run, run->path, -errno);
            status = -1;
            break;
        }
        /* A short read is not the end (a pipe, a FIFO): only 0 is.  The
         * empty final call is what lets expat report a truncated file. */
        if (XML_Parse(run->parser, block, (int)n, n == 0) != XML_STATUS_OK) {
            report_parse_error(run);
            status = -1;
            break;
        }
        if (n == 0) break;
    }
    free(block);
    close(fd);
    return status;
}

int bus_print(bus_run *run, const bus *b) {
    static const char *const keys[] = {"route", "id", "direction", "latitude", "longitude"};
    const char *v[5];
    for (size_t i = 0; i < 5; i++) {
        v[i] = bus_get(b, keys[i]);
        if (v[i] == NULL) {
            const char *id = bus_get(b, "id");
            fprintf(stderr, "%s: %s: bus #%zu (id %s) has no <%s>\n", run->prog, run->path,
                    b->number, id != NULL ? id : "missing", keys[i]);
            run->reported = true;
            return -EBADMSG;
        }
    }
    errno = 0;
    if (fprintf(run->out, "%s,%s,\"%s\",%s,%s\n", v[0], v[1], v[2], v[3], v[4]) < 0)
        return errno != 0 ? -errno : -EIO;
    return 0;
}

/* ---- coroutine helpers --------------------------------------------------- */

int bus_start(corio_coro **co, corio_coro_fn fn, void *arg, const char *name) {
    corio_coro_opts o = {0};
    o.name = name;
    return corio_coro_create(co, fn, arg, &o);
}

/* The error a finished stage returned (0 for NULL). */
static int finished_with(const corio_coro *co) {
    void *v = NULL;
    int r = corio_coro_result(co, &v);
    return r < 0 ? r : (int)(intptr_t)v;
}

int bus_send(corio_coro *co, void *value) {
    int r = corio_coro_send(co, value, NULL);
    if (r != CORIO_FINISHED) return r; /* CORIO_YIELDED is 0 */
    /* It returned instead of waiting for the next value: it failed. */
    r = finished_with(co);
    return r < 0 ? r : -EPIPE;
}

int bus_close(corio_coro *co) {
    int r = corio_coro_close(co);
    return r < 0 ? r : finished_with(co);
}

/* The next value sent to the running stage, in *v: 0, -ECANCELED when it is
 * being closed, or an error thrown in. */
static int receive(void **v) { return corio_coro_yield(NULL, v); }

/* What a stage returns when its yield gave `r` (< 0): closed is a normal
 * end, after closing its target; anything else is passed on as a failure. */
static void *stage_end(int r, corio_coro *target) {
    if (r != -ECANCELED) return BUS_ERR(r);
    int c = target != NULL ? bus_close(target) : 0;
    return c < 0 ? BUS_ERR(c) : NULL;
}

/* ---- the stages ---------------------------------------------------------- */

void bus_dicts_init(bus_dicts *d, corio_coro *target) {
    memset(d, 0, sizeof *d);
    d->target = target;
    bus_init(&d->bus);
}

void bus_dicts_fini(bus_dicts *d) {
    bus_fini(&d->bus);
    bus_text_fini(&d->fragments);
}

/* The next event for buses_to_dicts, from the batch it holds or, once that
 * is used up, from the next batch sent to it: 0, or the error of its yield
 * (-ECANCELED when it is closed). */
static int next_event(bus_dicts *d, const bus_event **ev) {
    while (d->batch == NULL || d->next == d->batch->n) {
        void *v;
        int r = receive(&v); /* event, value = (yield) */
        if (r < 0) return r;
        d->batch = v;
        d->next = 0;
    }
    *ev = &d->batch->ev[d->next++];
    return 0;
}

void *bus_dicts_body(void *arg) {
    bus_dicts *d = arg;
    const bus_event *ev;
    size_t number = 0;
    int r;
    /* The two states, A and B, are the two loops: where the coroutine is
     * suspended says which state it is in, so no state variable is kept. */
    for (;;) {
        /* State A: looking for a bus. */
        if ((r = next_event(d, &ev)) < 0) return stage_end(r, d->target);
        if (ev->kind != BUS_EV_START || strcmp(bus_batch_str(d->batch, ev), "bus") != 0)
            continue;
        bus_clear(&d->bus);
        d->bus.number = ++number;
        d->fragments.len = 0;
        /* State B: collecting the bus's fields until ('end', 'bus'). */
        for (;;) {
            if ((r = next_event(d, &ev)) < 0) return stage_end(r, d->target);
            const char *s = bus_batch_str(d->batch, ev);
            if (ev->kind == BUS_EV_START) {
                d->fragments.len = 0;
            } else if (ev->kind == BUS_EV_TEXT) {
                r = bus_text_append(&d->fragments, s, ev->len);
                if (r < 0) return BUS_ERR(r);
            } else if (strcmp(s, "bus") != 0) {
                /* busdict[value] = "".join(fragments) */
                r = bus_set(&d->bus, s, d->fragments.len > 0 ? d->fragments.p : "",
                            d->fragments.len);
                if (r < 0) return BUS_ERR(r);
            } else {
                r = bus_send(d->target, &d->bus); /* target.send(busdict) */
                if (r < 0) return BUS_ERR(r);
                break;
            }
        }
    }
}

void *bus_filter_body(void *arg) {
    const bus_filter *f = arg;
    void *v;
    int r;
    while ((r = receive(&v)) == 0) {
        const char *got = bus_get(v, f->field); /* d.get(fieldname) */
        if (got == NULL || strcmp(got, f->value) != 0) continue;
        r = bus_send(f->target, v);
        if (r < 0) return BUS_ERR(r);
    }
    return stage_end(r, f->target);
}

void *bus_locations_body(void *arg) {
    bus_run *run = arg;
    void *v;
    int r;
    while ((r = receive(&v)) == 0) {
        r = bus_print(run, v);
        if (r < 0) return BUS_ERR(r);
    }
    if (r != -ECANCELED) return BUS_ERR(r);
    errno = 0;
    if (fflush(run->out) == EOF) return BUS_ERR(errno != 0 ? -errno : -EIO);
    return NULL;
}

/* ---- the end of the pipeline --------------------------------------------- */

int bus_chain_start(bus_chain *c, bus_run *run) {
    memset(c, 0, sizeof *c);
    c->direction = (bus_filter){.field = "direction", .value = BUS_DIRECTION};
    c->route = (bus_filter){.field = "route", .value = BUS_ROUTE};
    int r = bus_start(&c->locations, bus_locations_body, run, "bus_locations");
    if (r == 0) {
        c->direction.target = c->locations;
        r = bus_start(&c->by_direction, bus_filter_body, &c->direction,
                      "filter_on_field(direction)");
    }
    if (r == 0) {
        c->route.target = c->by_direction;
        r = bus_start(&c->by_route, bus_filter_body, &c->route, "filter_on_field(route)");
    }
    if (r < 0) bus_chain_destroy(c);
    return r;
}

void bus_chain_destroy(bus_chain *c) {
    /* From the front: a stage still suspended is closed by its destroy and
     * closes its target, which must still exist. */
    corio_coro_destroy(c->by_route);
    corio_coro_destroy(c->by_direction);
    corio_coro_destroy(c->locations);
    c->by_route = c->by_direction = c->locations = NULL;
}

/* ---- the front of the pipeline: expat into buses_to_dicts ---------------- */

/* The expat handlers (expat_parse).  Each adds its event to the batch and
 * sends the batch to buses_to_dicts when it is full; a stage that fails
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

int bus_parse_into(bus_run *run, size_t batch, corio_coro *target) {
    corio_coro *dicts = NULL;
    bus_dicts d;
    bus_dicts_init(&d, target);
    coro_source s = {run, NULL, {0}};
    int r = bus_start(&dicts, bus_dicts_body, &d, "buses_to_dicts");
    if (r == 0) r = bus_batch_init(&s.batch, batch);
    int status = 0;
    if (r < 0) {
        bus_error(run, "creating the pipeline", r);
        status = -1;
    } else {
        s.target = dicts;
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
    /* After a failure buses_to_dicts may still be suspended: destroy closes
     * it, and it closes its target (harmless when that has finished). */
    corio_coro_destroy(dicts);
    bus_batch_fini(&s.batch);
    bus_dicts_fini(&d);
    return status;
}

/* ---- buses as bytes ------------------------------------------------------ */

static void put_le(char *p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (char)(unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return v;
}

/* Append a length-prefixed, NUL-ended string; the room is reserved. */
static char *put_str(char *p, const char *s, size_t n) {
    put_le(p, n, 4);
    memcpy(p + 4, s, n + 1);
    return p + 4 + n + 1;
}

int bus_pack(bus_text *t, const bus *b) {
    /* One pass to size it, so that the pack grows at most once a bus. */
    size_t need = 12;
    for (size_t i = 0; i < b->nfields; i++)
        need += 10 + strlen(b->text.p + b->fields[i].name) + strlen(b->text.p + b->fields[i].value);
    if (b->nfields > UINT32_MAX || need > UINT32_MAX) return -ENOMEM; /* no 4-byte length for it */
    int r = bus_text_reserve(t, need);
    if (r < 0) return r;
    char *p = t->p + t->len;
    put_le(p, b->number, 8);
    put_le(p + 8, b->nfields, 4);
    p += 12;
    for (size_t i = 0; i < b->nfields; i++) {
        const char *name = b->text.p + b->fields[i].name, *value = b->text.p + b->fields[i].value;
        p = put_str(p, name, strlen(name));
        p = put_str(p, value, strlen(value));
    }
    t->len += need;
    t->p[t->len] = '\0';
    return 0;
}

/* Read the integer of n bytes, or the string, at *off of p[0, len) and
 * move past it; false when it does not fit or the string is not what
 * bus_pack writes (NUL-ended, no NUL inside). */
static bool get_int(const char *p, size_t len, size_t *off, size_t n, uint64_t *v) {
    if (len - *off < n) return false;
    *v = get_le(p + *off, n);
    *off += n;
    return true;
}

static bool get_str(const char *p, size_t len, size_t *off, const char **s, size_t *n) {
    uint64_t l;
    if (!get_int(p, len, off, 4, &l) || len - *off <= l) return false;
    *s = p + *off;
    *n = (size_t)l;
    if ((*s)[l] != '\0' || memchr(*s, '\0', l) != NULL) return false;
    *off += l + 1;
    return true;
}

int bus_unpack_send(bus_run *run, const char *p, size_t len, bus *scratch, corio_coro *target) {
    size_t off = 0;
    while (off < len) {
        size_t start = off;
        uint64_t number = 0, nfields = 0;
        bool ok = get_int(p, len, &off, 8, &number) && get_int(p, len, &off, 4, &nfields);
        bus_clear(scratch);
        scratch->number = (size_t)number;
        for (uint64_t i = 0; ok && i < nfields; i++) {
            const char *name, *value;
            size_t nlen, vlen;
            ok = get_str(p, len, &off, &name, &nlen) && nlen > 0 &&
                 get_str(p, len, &off, &value, &vlen);
            if (ok) {
                int r = bus_set(scratch, name, value, vlen);
                if (r < 0) return r;
            }
        }
        if (!ok) {
            fprintf(stderr, "%s: %s: malformed bus message: the bus at byte %zu of %zu is cut "
                            "short or damaged\n",
                    run->prog, run->path, start, len);
            run->reported = true;
            return -EBADMSG;
        }
        int r = bus_send(target, scratch);
        if (r < 0) return r;
    }
    return 0;
}

void *bus_packer_body(void *arg) {
    bus_packer *p = arg;
    void *v;
    int r;
    while ((r = receive(&v)) == 0) {
        r = bus_pack(&p->pack, v);
        if (r == 0 && p->pack.len >= p->limit) r = p->flush(p);
        if (r < 0) return BUS_ERR(r);
    }
    if (r != -ECANCELED) return BUS_ERR(r);
    /* Closed: what is left, then the other side's close. */
    if (p->pack.len > 0 && (r = p->flush(p)) < 0) return BUS_ERR(r);
    r = p->end(p);
    return r < 0 ? BUS_ERR(r) : NULL;
}
