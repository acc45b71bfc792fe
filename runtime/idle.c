/* runtime/idle.c - which workers look for work and which sleep (after
 * tokio's idle.rs and Go's wakep/spinning protocol).
 *
 *   searching: workers that have run dry and are looking at other queues.
 *              At most half of the workers (at least one) search at once:
 *              more would only burn CPUs that busy workers need.
 *   unparked:  workers not asleep.
 *   sleepers:  the list of sleeping workers, under `lock`.
 *
 * No lost wake-up, by two fences that pair with each other:
 *   publisher: push work; seq_cst fence; if nobody searches and someone
 *              sleeps, wake one sleeper (corio__idle_notify).
 *   sleeper:   leave "searching", join the sleepers; seq_cst fence; re-check
 *              every queue; if anything is there, do not sleep.
 * Either the publisher's check sees the sleeper gone from "searching" (and
 * wakes it or another sleeper), or the sleeper's re-check sees the work.
 * A worker that found work after searching, and was the last searcher,
 * wakes one more so that remaining work does not wait for it (tokio).
 *
 * Run-next slots (runq.c) are not stealable at once, so a task waiting in
 * one is not "work" for the re-check above.  Instead a worker that goes to
 * sleep while another worker's slot holds a task sleeps with a time limit
 * (SLOT_NAP_NS at first, doubling up to SLOT_NAP_MAX_NS while nothing is
 * taken, so an idle worker beside a busy one wakes a few hundred times a
 * second at most) and then searches again, where steal.c takes a slot
 * whose owner has stayed in one turn too long.  A worker that sleeps with
 * no limit counts itself in `deep` first and then looks at the slots; a
 * worker that fills an empty slot fills it and then reads `deep`, with the
 * asymmetric fence between (slot.h: the sleeper pays the heavy side):
 * either the sleeper sees the task and naps, or the filler sees the
 * sleeper and wakes one worker.  An idle runtime (no slot holds a
 * task) sleeps with no limit and burns no CPU.
 */
#include "runtime/sched.h"

#define SLOT_NAP_NS 100000           /* 100 us */
#define SLOT_NAP_MAX_NS 5000000      /* 5 ms */

void corio__idle_init(corio__idle *idle, unsigned nworkers) {
    atomic_init(&idle->searching, 0);
    atomic_init(&idle->unparked, nworkers);
    atomic_init(&idle->deep, 0);
    pthread_mutex_init(&idle->lock, NULL);
    idle->sleepers = NULL;
}

void corio__idle_fini(corio__idle *idle) { pthread_mutex_destroy(&idle->lock); }

void corio__idle_notify(corio_rt *rt) {
    corio__idle *idle = &rt->idle;
    /* Full fence: pairs with the fence in corio__idle_sleep ("publish, full
     * fence, check searchers"). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&idle->searching, memory_order_relaxed) != 0) return;
    if (atomic_load_explicit(&idle->unparked, memory_order_relaxed) >= rt->nworkers) return;
    pthread_mutex_lock(&idle->lock);
    corio__worker *w = idle->sleepers;
    if (atomic_load_explicit(&idle->searching, memory_order_relaxed) != 0 || w == NULL) {
        pthread_mutex_unlock(&idle->lock);
        return;
    }
    idle->sleepers = w->next_sleeper;
    w->sleeping = false;
    w->searching = true; /* it wakes up as a searcher; read by w after the lock */
    atomic_fetch_add_explicit(&idle->unparked, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&idle->searching, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&idle->lock);
    rt->parker_ops->unpark(w->parker);
}

bool corio__idle_begin_search(corio_rt *rt, corio__worker *w) {
    if (w->searching) return true;
    unsigned s = atomic_load_explicit(&rt->idle.searching, memory_order_seq_cst);
    if (2 * s >= rt->nworkers && s > 0) return false;
    atomic_fetch_add_explicit(&rt->idle.searching, 1, memory_order_seq_cst);
    w->searching = true;
    return true;
}

void corio__idle_end_search(corio_rt *rt, corio__worker *w) {
    if (!w->searching) return;
    w->searching = false;
    /* seq_cst: the decrement is ordered before our later queue reads and
     * against the publishers' fences. */
    if (atomic_fetch_sub_explicit(&rt->idle.searching, 1, memory_order_seq_cst) == 1)
        corio__idle_notify(rt); /* we were the last searcher: hand over */
}

static void remove_sleeper(corio__idle *idle, corio__worker *w) {
    for (corio__worker **p = &idle->sleepers; *p != NULL; p = &(*p)->next_sleeper) {
        if (*p == w) {
            *p = w->next_sleeper;
            return;
        }
    }
}

void corio__idle_sleep(corio_rt *rt, corio__worker *w) {
    corio__idle *idle = &rt->idle;
    pthread_mutex_lock(&idle->lock);
    if (w->searching) {
        w->searching = false;
        atomic_fetch_sub_explicit(&idle->searching, 1, memory_order_seq_cst);
    }
    atomic_fetch_sub_explicit(&idle->unparked, 1, memory_order_seq_cst);
    w->sleeping = true;
    w->next_sleeper = idle->sleepers;
    idle->sleepers = w;
    pthread_mutex_unlock(&idle->lock);

    /* Full fence: pairs with the one in corio__idle_notify ("unmark, full
     * fence, recheck"). */
    atomic_thread_fence(memory_order_seq_cst);
    bool work = corio__rt_has_work(rt) || atomic_load_explicit(&rt->stopping, memory_order_acquire);
    if (work) {
        pthread_mutex_lock(&idle->lock);
        if (w->sleeping) { /* nobody woke us yet: take ourselves back */
            remove_sleeper(idle, w);
            w->sleeping = false;
            atomic_fetch_add_explicit(&idle->unparked, 1, memory_order_seq_cst);
            pthread_mutex_unlock(&idle->lock);
            return;
        }
        pthread_mutex_unlock(&idle->lock);
        return; /* already woken: a stale unpark permit will be absorbed later */
    }

    CORIO__STAT_ADD(w, parks, 1);
    corio__rt_worker_idle(rt);
    for (;;) {
        /* Deep (no limit) unless another worker's slot holds a task; the
         * Dekker pattern with a filler is in the file comment. */
        /* A held slot seen at once: nap, without joining `deep` (a nap
         * looks again anyway, and a worker counted in `deep` is woken by
         * every fill of an empty slot: a busy filler would wake it, and
         * pay a futex call, over and over). */
        bool nap = corio__rt_any_lifo(rt, w);
        if (!nap) {
            atomic_fetch_add_explicit(&idle->deep, 1, memory_order_seq_cst);
            corio__asym_heavy();
            nap = corio__rt_any_lifo(rt, w);
            if (nap) atomic_fetch_sub_explicit(&idle->deep, 1, memory_order_seq_cst);
        }
        if (w->nap_ns == 0) w->nap_ns = SLOT_NAP_NS;
        w->in_park = true;
        rt->parker_ops->park(w->parker, nap ? (int64_t)w->nap_ns : -1);
        w->in_park = false;
        if (!nap) atomic_fetch_sub_explicit(&idle->deep, 1, memory_order_seq_cst);
        else w->nap_ns = w->nap_ns * 2 < SLOT_NAP_MAX_NS ? w->nap_ns * 2 : SLOT_NAP_MAX_NS;
        pthread_mutex_lock(&idle->lock);
        bool still = w->sleeping;
        bool leave = atomic_load_explicit(&rt->stopping, memory_order_acquire) || nap ||
                     !corio__deque_is_empty(&w->q) ||
                     corio__slot_peek(&w->lifo) != NULL;
        /* A stale permit, an I/O event (the worker's own queue may have work
         * now), a nap's end (search the slots again): leave the sleepers. */
        if (still && leave) {
            remove_sleeper(idle, w);
            w->sleeping = false;
            atomic_fetch_add_explicit(&idle->unparked, 1, memory_order_seq_cst);
            still = false;
        }
        pthread_mutex_unlock(&idle->lock);
        if (!still) break;
    }
    CORIO__STAT_ADD(w, wakeups, 1);
    /* Events in park may have made several tasks runnable here; the ring's
     * are stealable, so let a sleeper help (we are off the list now). */
    if (!corio__deque_is_empty(&w->q)) corio__idle_notify(rt);
}

/* Called after `stopping` is set.  Only the workers taken off the sleepers
 * list here are unparked: they are blocked in park, so their parkers are
 * alive.  Any other worker is awake and sees `stopping` itself: one that
 * joins the list after this scan re-checks `stopping` before parking. */
void corio__idle_wake_all(corio_rt *rt) {
    corio__idle *idle = &rt->idle;
    corio__worker *list = NULL;
    pthread_mutex_lock(&idle->lock);
    while (idle->sleepers != NULL) {
        corio__worker *w = idle->sleepers;
        idle->sleepers = w->next_sleeper;
        w->sleeping = false;
        w->next_sleeper = list;
        list = w;
        atomic_fetch_add_explicit(&idle->unparked, 1, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&idle->lock);
    while (list != NULL) {
        corio__worker *w = list;
        list = w->next_sleeper; /* read before the unpark lets w go */
        rt->parker_ops->unpark(w->parker);
    }
}
