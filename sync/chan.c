/* sync/chan.c - channels: bounded, rendezvous and unbounded, of fixed-size
 * items, for tasks and plain threads (corio/sync.h, chan.h).
 *
 * The shape of Go's runtime/chan.go: one lock per channel, a ring buffer,
 * and queues of waiting senders and receivers whose items are copied
 * directly by the party that completes them (a send to a waiting receiver
 * writes into the receiver's own buffer, never through the ring).  The
 * waiters are runtime/wait.h's, so a task parks and a thread blocks, and
 * a kill or a timeout can end a wait only if no peer claimed it first:
 * then nothing was copied (no item lost, none given to a waiter that is
 * gone). */
#include "sync/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The wait inline (the hot path of every channel round trip); chan_send
 * and chan_recv are CORIO__SWITCHES for it (runtime/wait_block.h). */
#include "runtime/wait_block.h"
#include "runtime/task.h"

#define ITEM_MAX 65536u

int corio_chan_create(corio_chan **out, size_t item_size, size_t capacity) {
    if (out == NULL || item_size == 0 || item_size > ITEM_MAX) return -EINVAL;
    corio_chan *ch = calloc(1, sizeof *ch);
    if (ch == NULL) return -ENOMEM;
    corio__spin_init(&ch->lock);
    ch->isz = item_size;
    ch->cap = capacity;
    *out = ch;
    return 0;
}

int corio_chan_destroy(corio_chan *ch) {
    if (ch == NULL) return 0;
    corio__spin_lock(&ch->lock);
    bool busy = !corio__waitq_empty(&ch->sendq) || !corio__waitq_empty(&ch->recvq);
    corio__spin_unlock(&ch->lock);
    if (busy) return -EBUSY;
    free(ch->buf);
    free(ch);
    return 0;
}

static unsigned char *slot(corio_chan *ch, size_t i) {
    return ch->buf + ((ch->head + i) % ch->slots) * ch->isz;
}

/* One item.  A pointer- or integer-sized item (the common case) is one
 * move, not a call of memcpy with a run-time size. */
static inline void copy_item(const corio_chan *ch, void *dst, const void *src) {
    if (ch->isz == sizeof(uint64_t)) memcpy(dst, src, sizeof(uint64_t));
    else memcpy(dst, src, ch->isz);
}

/* Room for one more item in the ring (bounded channels grow up to cap). */
static int make_room(corio_chan *ch) {
    if (ch->len < ch->slots) return 0;
    size_t n = ch->slots ? ch->slots * 2 : 16;
    if (ch->cap != CORIO_CHAN_UNBOUNDED && n > ch->cap) n = ch->cap;
    if (n <= ch->slots || n > SIZE_MAX / ch->isz) return -ENOMEM;
    unsigned char *nb = malloc(n * ch->isz);
    if (nb == NULL) return -ENOMEM;
    for (size_t i = 0; i < ch->len; i++) memcpy(nb + i * ch->isz, slot(ch, i), ch->isz);
    free(ch->buf);
    ch->buf = nb;
    ch->slots = n;
    ch->head = 0;
    return 0;
}

static bool full(const corio_chan *ch) {
    return ch->cap != CORIO_CHAN_UNBOUNDED && ch->len >= ch->cap;
}

/* The locked halves, inline in this file's send and receive (a call less
 * on every operation); select.c calls the exported wrappers below. */
__attribute__((always_inline)) static inline int send_locked(corio_chan *ch, const void *item,
                                                            corio__wait **wake) {
    *wake = NULL;
    if (ch->closed) return -EPIPE;
    corio__wnode *n = corio__waitq_claim(&ch->recvq);
    if (n != NULL) {
        /* A receiver waits, so the buffer is empty: hand it over. */
        if (n->data != NULL) copy_item(ch, n->data, item);
        *wake = n->wait;
        return 0;
    }
    if (full(ch)) return -EAGAIN;
    int r = make_room(ch);
    if (r < 0) return r;
    copy_item(ch, slot(ch, ch->len), item);
    ch->len++;
    return 0;
}

__attribute__((always_inline)) static inline int recv_locked(corio_chan *ch, void *item,
                                                            corio__wait **wake) {
    *wake = NULL;
    if (ch->len > 0) {
        if (item != NULL) copy_item(ch, item, slot(ch, 0));
        ch->head = (ch->head + 1) % ch->slots;
        ch->len--;
        /* A slot came free: the first waiting sender's item takes it. */
        corio__wnode *n = corio__waitq_claim(&ch->sendq);
        if (n != NULL) {
            copy_item(ch, slot(ch, ch->len), n->data);
            ch->len++;
            *wake = n->wait;
        }
        return 0;
    }
    corio__wnode *n = corio__waitq_claim(&ch->sendq);
    if (n != NULL) {
        /* Rendezvous: straight from the sender's buffer. */
        if (item != NULL) copy_item(ch, item, n->data);
        *wake = n->wait;
        return 0;
    }
    return ch->closed ? CORIO_CHAN_CLOSED : -EAGAIN;
}

int corio__chan_send_locked(corio_chan *ch, const void *item, corio__wait **wake) {
    return send_locked(ch, item, wake);
}

int corio__chan_recv_locked(corio_chan *ch, void *item, corio__wait **wake) {
    return recv_locked(ch, item, wake);
}

/* Wait in `q` with `data` as the item; the outcome for a plain operation.
 * Called with the lock held; returns with it released.  Inlined into the
 * send and the receive, with the wait itself (corio__wait_block_here): a
 * resumed waiter returns straight to the caller of corio_chan_send or
 * corio_chan_recv, through no function level of the runtime's, each a
 * mispredicted return after a switch (docs/bench.md). */
__attribute__((always_inline)) static inline int wait_in(corio_chan *ch, corio__waitq *q,
                                                        void *data, int64_t timeout_ns,
                                                        bool is_send) {
    int64_t deadline = corio__deadline(timeout_ns);
    corio__wait w;
    corio__wait_init(&w);
    corio__wnode n = {.wait = &w, .data = data, .value = 1};
    corio__waitq_push(q, &n);
    corio__spin_unlock(&ch->lock);
    corio__note_set(corio__task_note(w.task), CORIO__WHY_CHAN, !is_send, (intptr_t)ch);
    int r = corio__wait_block_here(&w, deadline, true);
    corio__note_clear(corio__task_note(w.task));
    if (r > 0) {
        /* The claimer unlinked us. */
        if (r & CHAN_CLOSED_BIT) return is_send ? -EPIPE : CORIO_CHAN_CLOSED;
        return 0;
    }
    corio__spin_lock(&ch->lock);
    corio__waitq_remove(q, &n);
    corio__spin_unlock(&ch->lock);
    return r;
}

CORIO__SWITCHES static int chan_send(corio_chan *ch, const void *item, int64_t timeout_ns,
                                     bool is_try) {
    if (ch == NULL || item == NULL) return -EINVAL;
    corio__wait *wake;
    corio__spin_lock(&ch->lock);
    int r = send_locked(ch, item, &wake);
    if (r != -EAGAIN || timeout_ns == 0) {
        corio__spin_unlock(&ch->lock);
        if (wake != NULL) corio__wait_done(wake);
        return r == -EAGAIN && !is_try ? -ETIMEDOUT : r;
    }
    return wait_in(ch, &ch->sendq, (void *)item, timeout_ns, true);
}

CORIO__SWITCHES static int chan_recv(corio_chan *ch, void *item, int64_t timeout_ns,
                                     bool is_try) {
    if (ch == NULL) return -EINVAL;
    corio__wait *wake;
    corio__spin_lock(&ch->lock);
    int r = recv_locked(ch, item, &wake);
    if (r != -EAGAIN || timeout_ns == 0) {
        corio__spin_unlock(&ch->lock);
        if (wake != NULL) corio__wait_done(wake);
        return r == -EAGAIN && !is_try ? -ETIMEDOUT : r;
    }
    return wait_in(ch, &ch->recvq, item, timeout_ns, false);
}

int corio_chan_send(corio_chan *ch, const void *item, int64_t timeout_ns) {
    return chan_send(ch, item, timeout_ns, false);
}

int corio_chan_recv(corio_chan *ch, void *item, int64_t timeout_ns) {
    return chan_recv(ch, item, timeout_ns, false);
}

int corio_chan_try_send(corio_chan *ch, const void *item) { return chan_send(ch, item, 0, true); }

int corio_chan_try_recv(corio_chan *ch, void *item) { return chan_recv(ch, item, 0, true); }

int corio_chan_close(corio_chan *ch) {
    if (ch == NULL) return -EINVAL;
    corio__spin_lock(&ch->lock);
    if (ch->closed) {
        corio__spin_unlock(&ch->lock);
        return -EPIPE;
    }
    ch->closed = true;
    /* Every waiter is decided under the lock and woken after it (a waker
     * must not hold the lock while it wakes: it may enter the kernel);
     * after the first wake the channel is not touched again, since a woken
     * waiter may destroy it at once (wait.h, corio__wbatch). */
    corio__wbatch b;
    corio__wbatch_init(&b);
    corio__waitq *qs[2] = {&ch->recvq, &ch->sendq}; /* receivers first, as ever */
    for (int i = 0; i < 2; i++) {
        corio__wnode *w;
        while ((w = corio__waitq_peek(qs[i])) != NULL) {
            /* Decided meanwhile (a timeout): peek skips it next time, and
             * its waiter unlinks it (wait.h). */
            if (!corio__wait_decide(w->wait, w->value | CHAN_CLOSED_BIT)) continue;
            corio__waitq_remove(qs[i], w);
            corio__wbatch_add(&b, w->wait);
        }
    }
    corio__spin_unlock(&ch->lock);
    (void)corio__wait_done_batch(&b);
    return 0;
}

size_t corio_chan_len(corio_chan *ch) {
    if (ch == NULL) return 0;
    corio__spin_lock(&ch->lock);
    size_t n = ch->len;
    corio__spin_unlock(&ch->lock);
    return n;
}
