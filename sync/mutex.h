/* sync/mutex.h - the mutex object, shared with cond.c (which must take
 * the mutex back without being killable). */
#ifndef CORIO_SYNC_MUTEX_H
#define CORIO_SYNC_MUTEX_H

#include <stdbool.h>
#include <stdint.h>

#include "corio/sync.h"
#include "sync/lockq.h"

struct corio_mutex {
    corio__lockq q;
    bool locked; /* under q.lock */
};

/* Lock with an absolute deadline (-1: none); killable as wait.h's. */
int corio__mutex_lock(corio_mutex *m, int64_t deadline, bool killable);

#endif
