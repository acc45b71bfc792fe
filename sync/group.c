/* sync/group.c - task groups (corio/sync.h): Trio's nursery in C.
 *
 * A group keeps its children in spawn order, each with its task id.  The
 * first child that returns a negative value records that error and kills
 * every other child; corio_group_cancel does the same with -ECANCELED.
 * The join walks the list from its head and joins each child in turn.
 *
 * Who touches the list: spawners append (after their spawn returned a
 * tid, so every listed child has one), the killers read it under the
 * lock, and only the joiner removes, at the head, after it has joined
 * that child: so a listed child is always killable, and a child being
 * joined is still listed.  Spawns that overlap the join are counted
 * (`spawning`) and the join does not end before they have listed their
 * child.
 *
 * Only one join runs: a second call, during the first or after it, gets
 * -EINVAL without touching the list.
 *
 * A task killed while it joins still waits for its children (a group's
 * children never outlive its join: that is the point of structured
 * concurrency).  It cancels the group, then joins the rest with
 * corio__task_join_unkillable. */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "runtime/block.h"
#include "runtime/spin.h"
#include "runtime/task.h"

typedef struct child {
    struct child *next;
    corio_group *g;
    corio_group_fn fn;
    void *arg;
    corio_tid tid;
} child;

struct corio_group {
    corio__spin lock;
    corio_rt *rt;
    child *head, *tail;   /* under lock */
    unsigned spawning;    /* spawns in progress (under lock) */
    int first_error;      /* 0, or the first failure (under lock) */
    bool cancelled;       /* the children have been killed (under lock) */
    bool joining;         /* a join has begun: the only one (under lock) */
    bool joined;          /* join has returned (under lock) */
};

int corio_group_create(corio_group **out, corio_rt *rt) {
    if (out == NULL) return -EINVAL;
    if (rt == NULL) rt = corio_task_runtime();
    if (rt == NULL) return -EINVAL;
    corio_group *g = calloc(1, sizeof *g);
    if (g == NULL) return -ENOMEM;
    corio__spin_init(&g->lock);
    g->rt = rt;
    *out = g;
    return 0;
}

/* Kill every listed child.  Called with the lock held; releases it.  The
 * ids are copied out first: a kill must not run under the spinlock. */
static void kill_all_locked(corio_group *g) {
    size_t n = 0;
    for (child *c = g->head; c != NULL; c = c->next) n++;
    corio_tid small[32];
    corio_tid *ids = n <= 32 ? small : malloc(n * sizeof *ids);
    size_t k = 0;
    if (ids != NULL)
        for (child *c = g->head; c != NULL; c = c->next) ids[k++] = c->tid;
    if (ids == NULL) {
        /* No memory for the copy: kill under the lock after all (a kill
         * takes only the task's own lock, never a group's). */
        for (child *c = g->head; c != NULL; c = c->next) corio_task_kill(c->tid);
        corio__spin_unlock(&g->lock);
        return;
    }
    corio__spin_unlock(&g->lock);
    for (size_t i = 0; i < k; i++) corio_task_kill(ids[i]); /* ended ones: 0 or -ESRCH */
    if (ids != small) free(ids);
}

/* Record `err` (if it is the first) and kill the children (once). */
static void fail(corio_group *g, int err) {
    corio__spin_lock(&g->lock);
    if (g->first_error == 0) g->first_error = err;
    if (g->cancelled) {
        corio__spin_unlock(&g->lock);
        return;
    }
    g->cancelled = true;
    kill_all_locked(g);
}

static void *child_main(void *arg) {
    child *c = arg;
    int r = c->fn(c->arg);
    /* A child killed by the group's cancel usually returns -ECANCELED;
     * only the first error counts, so that one is not mistaken for it. */
    if (r < 0) fail(c->g, r);
    return (void *)(intptr_t)r;
}

int corio_group_spawn(corio_group *g, corio_group_fn fn, void *arg) {
    if (g == NULL || fn == NULL) return -EINVAL;
    child *c = malloc(sizeof *c);
    if (c == NULL) return -ENOMEM;
    *c = (child){.g = g, .fn = fn, .arg = arg};
    corio__spin_lock(&g->lock);
    int refuse = g->joined ? -EINVAL : g->cancelled ? -ECANCELED : 0;
    if (refuse == 0) g->spawning++;
    corio__spin_unlock(&g->lock);
    if (refuse != 0) {
        free(c);
        return refuse;
    }
    int r = corio_rt_spawn(g->rt, &c->tid, child_main, c);
    corio__spin_lock(&g->lock);
    g->spawning--;
    if (r < 0) {
        corio__spin_unlock(&g->lock);
        free(c);
        return r;
    }
    if (g->tail != NULL) g->tail->next = c;
    else g->head = c;
    g->tail = c;
    if (g->cancelled) {
        /* Cancelled while we spawned: this child was not listed then. */
        corio__spin_unlock(&g->lock);
        corio_task_kill(c->tid);
        return 0;
    }
    corio__spin_unlock(&g->lock);
    return 0;
}

int corio_group_cancel(corio_group *g) {
    if (g == NULL) return -EINVAL;
    fail(g, -ECANCELED);
    return 0;
}

/* Join one child.  *killed becomes true when the joining task is killed
 * (then the group is cancelled and the joins go on, unkillably). */
static int join_child(corio_group *g, corio_tid tid, bool *killed) {
    corio__task *self = corio__block_self();
    if (self == NULL) return corio_rt_join(g->rt, tid, NULL);
    if (!*killed) {
        int r = corio_task_join(tid, NULL);
        if (r != -ECANCELED || !corio__block_killed(self)) return r;
        *killed = true;
        corio_group_cancel(g);
    }
    return corio__task_join_unkillable(tid, NULL);
}

int corio_group_join(corio_group *g) {
    if (g == NULL) return -EINVAL;
    bool killed = false;
    corio__spin_lock(&g->lock);
    /* One join per group: a second one, even while the first still runs,
     * would join and free the same children again. */
    if (g->joined || g->joining) {
        corio__spin_unlock(&g->lock);
        return -EINVAL;
    }
    g->joining = true;
    for (;;) {
        child *c = g->head;
        if (c == NULL) {
            if (g->spawning == 0) break;
            /* A spawn from outside the group is listing its child. */
            corio__spin_unlock(&g->lock);
            if (corio__block_self() != NULL) corio_task_yield();
            else sched_yield();
            corio__spin_lock(&g->lock);
            continue;
        }
        corio__spin_unlock(&g->lock);
        int r = join_child(g, c->tid, &killed);
        /* -ECANCELED: killed before it ran (the group was cancelled, so
         * first_error is set).  -ENOMEM: it never got a stack: a failure
         * of its own. */
        if (r == -ENOMEM) fail(g, r);
        corio__spin_lock(&g->lock);
        g->head = c->next;
        if (g->head == NULL) g->tail = NULL;
        free(c);
    }
    g->joined = true;
    int err = g->first_error;
    corio__spin_unlock(&g->lock);
    return killed ? -ECANCELED : err;
}

int corio_group_destroy(corio_group *g) {
    if (g == NULL) return 0;
    corio__spin_lock(&g->lock);
    bool busy = g->head != NULL || g->spawning != 0;
    corio__spin_unlock(&g->lock);
    if (busy) return -EBUSY;
    free(g);
    return 0;
}
