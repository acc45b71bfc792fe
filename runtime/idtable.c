/* runtime/idtable.c - generation-tagged task ids over type-stable memory.
 *
 * A task id is (generation << 26) | (slot + 1), never 0 (task.h); the first
 * use of a slot in a process has generation 0, so a program's first tasks
 * have small ids.  Task structs live
 * in chunks that are never freed while any runtime exists, so a stale id
 * can always be resolved to a struct safely: under the struct's lock, a
 * generation mismatch (the slot was recycled) or a free slot answers
 * -ESRCH (tasks refer to each other by id only, so an id that
 * outlives its task is harmless).
 *
 * The table is process-wide, so kill/join/unpark work from any thread with
 * the id alone.  It is made with the first runtime and kept for the life
 * of the process (its chunks stay reachable, so leak checkers are quiet):
 * a plain thread may hold an id and call kill or unpark while the last
 * runtime shuts down, and a lookup already past its chunk load must find
 * the memory still there.  It costs what the most tasks ever alive at once
 * took (a struct each, stack excluded), kept for reuse by later runtimes.
 *
 * Free structs go on one list under a mutex; workers keep a small cache of
 * their own in front of it (task.c), so the spawn fast path takes no
 * lock here.
 *
 * An id never comes back, so a stale id can never name a later task:
 *   - Within a table, a slot's generation goes up by one per task.  The
 *     worker caches reuse one warm slot over and over (LIFO), so one slot
 *     can see ten million tasks a second; 38 bits of generation last 7.6
 *     hours at that rate, and then the slot is retired for good (its
 *     struct is never handed out again: a few hundred bytes lost per 2^38
 *     tasks).  32 bits, as before, wrapped in minutes.
 *   - Across runtimes the table is the same one, so a new runtime's tasks
 *     take later generations of the same slots: the ids of an old runtime
 *     never alias those of a new one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/panic.h"
#include "runtime/task.h"

#define CHUNK_BITS 10
#define CHUNK (1u << CHUNK_BITS)
/* Slots are numbered 0 .. 2^26 - 2 (the id holds slot + 1 in 26 bits). */
#define MAX_CHUNKS ((((uint32_t)1 << CORIO__ID_SLOT_BITS) - 1) / CHUNK)

/* Published with release after the chunk is initialised; lookups load with
 * acquire, so they see initialised locks and generations. */
static _Atomic(corio__task *) chunks[MAX_CHUNKS];
static unsigned nchunks;              /* under lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static corio__task *free_list;        /* under lock */
static int grow_locked(void) {
    if (nchunks == MAX_CHUNKS) return -ENOMEM;
    corio__task *c = calloc(CHUNK, sizeof *c);
    if (c == NULL) return -ENOMEM;
    /* Pushed from the top down, so slots are handed out in index order and
     * the first tasks of a program get ids 1, 2, 3, ... */
    for (unsigned i = CHUNK; i-- > 0;) {
        corio__task *t = &c[i];
        corio__spin_init(&t->lock);
        t->index = nchunks * CHUNK + i;
        t->gen = 0;
        t->next = free_list;
        free_list = t;
    }
    /* release: pairs with the acquire load in corio__task_lookup_lock. */
    atomic_store_explicit(&chunks[nchunks], c, memory_order_release);
    nchunks++;
    return 0;
}

corio__task *corio__task_alloc(void) {
    pthread_mutex_lock(&lock);
    if (free_list == NULL && grow_locked() < 0) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    corio__task *t = free_list;
    free_list = t->next;
    pthread_mutex_unlock(&lock);
    t->next = NULL;
    return t;
}

size_t corio__task_alloc_many(corio__task **list, size_t n) {
    size_t got = 0;
    corio__task *head = NULL, **tail = &head;
    pthread_mutex_lock(&lock);
    while (got < n) {
        if (free_list == NULL && grow_locked() < 0) break;
        corio__task *t = free_list;
        free_list = t->next;
        *tail = t; /* keep the table's order */
        tail = &t->next;
        got++;
    }
    pthread_mutex_unlock(&lock);
    *tail = *list;
    *list = head;
    return got;
}

void corio__task_release_many(corio__task *first, size_t n) {
    if (first == NULL) return;
    corio__task *last = first;
    for (size_t i = 1; i < n && last->next != NULL; i++) last = last->next;
    pthread_mutex_lock(&lock);
    last->next = free_list;
    free_list = first;
    pthread_mutex_unlock(&lock);
}

bool corio__task_recycle_locked(corio__task *t) {
    t->live = false;
    /* At the limit the generation stays where it is and the slot is never
     * live again, so no id of it can ever resolve to a new task. */
    bool reusable = t->gen + 1 < CORIO__ID_GEN_LIMIT;
    if (reusable) t->gen++;
    corio__spin_unlock(&t->lock);
    return reusable;
}

void corio__idtable_test_set_gen(uint64_t tid, uint64_t gen) {
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) return;
    t->gen = gen;
    corio__spin_unlock(&t->lock);
}

void corio__task_release(corio__task *t) {
    pthread_mutex_lock(&lock);
    t->next = free_list;
    free_list = t;
    pthread_mutex_unlock(&lock);
}

corio__task *corio__task_lookup_lock(corio_tid tid) {
    uint32_t slot = (uint32_t)(tid & (((uint64_t)1 << CORIO__ID_SLOT_BITS) - 1));
    uint64_t gen = tid >> CORIO__ID_SLOT_BITS;
    if (slot == 0) return NULL;
    slot -= 1;
    if ((slot >> CHUNK_BITS) >= MAX_CHUNKS) return NULL;
    corio__task *c = atomic_load_explicit(&chunks[slot >> CHUNK_BITS], memory_order_acquire);
    if (c == NULL) return NULL;
    corio__task *t = &c[slot & (CHUNK - 1)];
    corio__spin_lock(&t->lock);
    if (!t->live || t->gen != gen) {
        corio__spin_unlock(&t->lock);
        return NULL;
    }
    return t;
}

void corio__idtable_each(void (*fn)(corio__task *t, void *arg), void *arg) {
    pthread_mutex_lock(&lock);
    unsigned n = nchunks;
    pthread_mutex_unlock(&lock);
    for (unsigned i = 0; i < n; i++) {
        corio__task *c = atomic_load_explicit(&chunks[i], memory_order_acquire);
        if (c == NULL) continue;
        for (unsigned j = 0; j < CHUNK; j++) fn(&c[j], arg);
    }
}
