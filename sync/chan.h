/* sync/chan.h - the channel object, shared by chan.c (send, receive,
 * close) and select.c.
 *
 * Everything in a channel is guarded by its spinlock: the buffer, the
 * closed flag and the two queues of waiters (runtime/wait.h).  Invariants
 * while the lock is not held:
 *   - receivers wait only while the buffer is empty, senders only while it
 *     is full (a rendezvous channel's buffer is always both);
 *   - a closed channel has no waiting senders, and no waiting receivers.
 * A waiter's node carries its item: the sender's source, or the receiver's
 * destination; whoever claims the waiter copies the item while holding
 * the lock, and wakes it after unlocking.
 *
 * The wait value of a node is its case number + 1 (1 for a plain send or
 * receive); a close decides every waiter with that value | CHAN_CLOSED_BIT. */
#ifndef CORIO_SYNC_CHAN_H
#define CORIO_SYNC_CHAN_H

#include <stdbool.h>
#include <stddef.h>

#include "corio/sync.h"
#include "runtime/spin.h"
#include "runtime/wait.h"

#define CHAN_CLOSED_BIT (1 << 20)

struct corio_chan {
    corio__spin lock;
    size_t isz;              /* bytes per item */
    size_t cap;              /* 0 rendezvous, N, or CORIO_CHAN_UNBOUNDED */
    unsigned char *buf;      /* ring of `slots` items (grown on demand) */
    size_t slots, head, len;
    bool closed;
    corio__waitq sendq, recvq;
};

/* With the lock held: try to send / receive now.  0 done, -EPIPE (send:
 * closed), CORIO_CHAN_CLOSED (receive: closed and drained), -EAGAIN (would
 * wait), -ENOMEM (an unbounded buffer could not grow).  *wake is a waiter
 * that was claimed and must be passed to corio__wait_done after unlocking
 * (or NULL). */
int corio__chan_send_locked(corio_chan *ch, const void *item, corio__wait **wake);
int corio__chan_recv_locked(corio_chan *ch, void *item, corio__wait **wake);

#endif
