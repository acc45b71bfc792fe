/* sync/taskset.c - task sets (corio/sync.h): the children of a server's
 * long-running loops (an acceptor's connections), which are remembered
 * only while they live, can be cancelled together, and joined together
 * with a deadline.
 *
 * Unlike a group (group.c), which keeps every child until its join and
 * reports the first failure, a set forgets a child the moment it ends:
 * the child's wrapper unlinks its own record and frees it, so a set that
 * runs for days holds only what is alive.  Results are not kept (the
 * children are detached).
 *
 * The record of a child is shared by two parties until both are done
 * with it: the spawner, which writes the child's id into it after
 * corio_rt_spawn returns, and the child, which may end before that.
 * Under the set's lock, whichever comes second frees it (`spawned`,
 * `ended`).  A cancel kills the ids it finds; a child whose id is not yet
 * written is killed by its spawner, which sees that a cancel came since it
 * linked the record (`cancels`).
 *
 * Joiners wait in a lock queue (lockq.h) for the count of live children to
 * reach 0.  The child that brings it to 0 claims every joiner under the
 * lock and wakes them after it, touching the set no more: a woken joiner
 * may destroy the set at once (wait.h, corio__wbatch). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "runtime/block.h"
#include "runtime/task.h"
#include "sync/lockq.h"

typedef struct member {
    struct member *prev, *next;
    corio_taskset *set;
    corio_task_fn fn;
    void *arg;
    corio_tid tid;      /* 0 until the spawner writes it */
    unsigned cancels;   /* the set's cancel count when linked */
    bool spawned;       /* the spawner is done with the record */
    bool ended;         /* the child is done with it */
} member;

struct corio_taskset {
    corio__lockq q;     /* its lock guards everything below */
    corio_rt *rt;
    member *head;       /* the live children */
    size_t live;
    unsigned cancels;   /* corio_taskset_cancel calls so far */
    size_t spawned;     /* children ever spawned (a statistic) */
};

int corio_taskset_create(corio_taskset **out, corio_rt *rt) {
    if (out == NULL) return -EINVAL;
    if (rt == NULL) rt = corio_task_runtime();
    if (rt == NULL) return -EINVAL;
    corio_taskset *s = calloc(1, sizeof *s);
    if (s == NULL) return -ENOMEM;
    corio__spin_init(&s->q.lock);
    s->rt = rt;
    *out = s;
    return 0;
}

static void unlink_locked(corio_taskset *s, member *m) {
    if (m->prev != NULL) m->prev->next = m->next;
    else s->head = m->next;
    if (m->next != NULL) m->next->prev = m->prev;
    s->live--;
}

/* The lock is held; releases it.  When the last child is gone, every
 * joiner is claimed here and woken after the unlock. */
static void unlock_and_wake_joiners(corio_taskset *s) {
    corio__wbatch b;
    corio__wbatch_init(&b);
    if (s->live == 0) {
        corio__wait *w;
        while ((w = corio__lockq_claim(&s->q)) != NULL) corio__wbatch_add(&b, w);
    }
    corio__spin_unlock(&s->q.lock);
    (void)corio__wait_done_batch(&b); /* s is not touched from here on */
}

/* The child is over (its body returned, or it never ran). */
static void member_end(member *m) {
    corio_taskset *s = m->set;
    corio__spin_lock(&s->q.lock);
    unlink_locked(s, m);
    m->ended = true;
    if (m->spawned) free(m);
    unlock_and_wake_joiners(s);
}

static void *member_main(void *arg) {
    member *m = arg;
    void *r = m->fn(m->arg);
    member_end(m);
    return r;
}

/* Killed before its first turn, or no stack for it: the body never runs
 * (runtime/task.h, unrun), and the set learns of the end here, on the
 * worker's stack. */
static void member_unrun(void *arg) { member_end(arg); }

int corio_taskset_spawn(corio_taskset *s, corio_tid *tid, corio_task_fn fn, void *arg) {
    if (s == NULL || fn == NULL) return -EINVAL;
    member *m = calloc(1, sizeof *m);
    if (m == NULL) return -ENOMEM;
    m->set = s;
    m->fn = fn;
    m->arg = arg;
    corio__spin_lock(&s->q.lock);
    m->next = s->head;
    if (s->head != NULL) s->head->prev = m;
    s->head = m;
    s->live++;
    m->cancels = s->cancels;
    corio__spin_unlock(&s->q.lock);

    corio_tid t = 0;
    int r = corio__rt_spawn_hooked(s->rt, &t, member_main, m, member_unrun);
    if (r == 0) (void)corio_task_detach(t); /* results are not kept */
    corio__spin_lock(&s->q.lock);
    if (r < 0) {
        unlink_locked(s, m);
        free(m);
        unlock_and_wake_joiners(s);
        return r;
    }
    s->spawned++;
    bool kill = false;
    if (m->ended) {
        free(m); /* it ended before we came back */
    } else {
        m->tid = t;
        m->spawned = true;
        kill = m->cancels != s->cancels; /* a cancel missed it: no id then */
    }
    corio__spin_unlock(&s->q.lock);
    if (kill) (void)corio_task_kill(t);
    if (tid != NULL) *tid = t;
    return 0;
}

int corio_taskset_cancel(corio_taskset *s) {
    if (s == NULL) return -EINVAL;
    corio__spin_lock(&s->q.lock);
    s->cancels++;
    size_t n = 0;
    for (member *m = s->head; m != NULL; m = m->next)
        if (m->tid != 0) n++;
    corio_tid small[64];
    corio_tid *ids = n <= 64 ? small : malloc(n * sizeof *ids);
    size_t k = 0;
    if (ids == NULL) {
        /* No memory for the copy: kill under the lock (a kill takes only
         * the task's own lock, never a set's). */
        for (member *m = s->head; m != NULL; m = m->next)
            if (m->tid != 0) (void)corio_task_kill(m->tid);
        corio__spin_unlock(&s->q.lock);
        return 0;
    }
    for (member *m = s->head; m != NULL; m = m->next)
        if (m->tid != 0) ids[k++] = m->tid;
    corio__spin_unlock(&s->q.lock);
    /* An id whose task ended meanwhile: -ESRCH or 0, harmless (ids carry
     * a generation: a kill never reaches a later task). */
    for (size_t i = 0; i < k; i++) (void)corio_task_kill(ids[i]);
    if (ids != small) free(ids);
    return 0;
}

int corio_taskset_join(corio_taskset *s, int64_t timeout_ns) {
    if (s == NULL) return -EINVAL;
    int64_t deadline = corio__deadline(timeout_ns);
    corio__spin_lock(&s->q.lock);
    if (s->live == 0) {
        corio__spin_unlock(&s->q.lock);
        return 0;
    }
    if (timeout_ns == 0) {
        corio__spin_unlock(&s->q.lock);
        return -ETIMEDOUT;
    }
    int r = corio__lockq_wait(&s->q, deadline, true, CORIO__WHY_TASKSET, s);
    return r > 0 ? 0 : r;
}

size_t corio_taskset_len(corio_taskset *s) {
    if (s == NULL) return 0;
    corio__spin_lock(&s->q.lock);
    size_t n = s->live;
    corio__spin_unlock(&s->q.lock);
    return n;
}

int corio_taskset_destroy(corio_taskset *s) {
    if (s == NULL) return 0;
    corio__spin_lock(&s->q.lock);
    bool busy = s->live != 0 || !corio__waitq_empty(&s->q.q);
    corio__spin_unlock(&s->q.lock);
    if (busy) return -EBUSY;
    free(s);
    return 0;
}
