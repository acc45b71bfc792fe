/* io/timeheap.h - a binary min-heap of deadlines: the epoll backend's
 * timers (sleeps and timeouts), one heap per worker, used by its owner
 * thread only.  A node lives inside the waiter that owns it (on a task's
 * stack) and knows its place, so a wait that ends early leaves the heap in
 * O(log n).  The array grows on demand; a push can fail (-ENOMEM). */
#ifndef CORIO_IO_TIMEHEAP_H
#define CORIO_IO_TIMEHEAP_H

#include <stddef.h>
#include <stdint.h>

#define CORIO__HEAP_NONE ((size_t)-1)

typedef struct corio__theap_node {
    int64_t deadline; /* CLOCK_MONOTONIC ns */
    size_t idx;       /* its slot, CORIO__HEAP_NONE when not in a heap */
} corio__theap_node;

typedef struct corio__theap {
    corio__theap_node **a;
    size_t len, cap;
} corio__theap;

int corio__theap_push(corio__theap *h, corio__theap_node *n);
void corio__theap_remove(corio__theap *h, corio__theap_node *n);
static inline corio__theap_node *corio__theap_top(const corio__theap *h) {
    return h->len != 0 ? h->a[0] : NULL;
}
void corio__theap_free(corio__theap *h);

#endif
