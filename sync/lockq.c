/* sync/lockq.c - waiting in a lock queue (lockq.h). */
#include "sync/lockq.h"

#include <stdint.h>

#include "runtime/task.h"

int corio__lockq_wait(corio__lockq *q, int64_t deadline, bool killable, unsigned why,
                      const void *obj) {
    corio__wait w;
    corio__wait_init(&w);
    corio__wnode n = {.wait = &w, .value = 1};
    corio__waitq_push(&q->q, &n);
    corio__spin_unlock(&q->lock);
    corio__note_set(corio__task_note(w.task), why, 0, (intptr_t)obj);
    int r = corio__wait_block(&w, deadline, killable);
    corio__note_clear(corio__task_note(w.task));
    if (r > 0) return r; /* the claimer unlinked the node */
    corio__spin_lock(&q->lock);
    corio__waitq_remove(&q->q, &n);
    corio__spin_unlock(&q->lock);
    return r;
}
