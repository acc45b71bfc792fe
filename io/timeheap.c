/* io/timeheap.c - the deadline heap (timeheap.h). */
#include "io/timeheap.h"

#include <errno.h>
#include <stdlib.h>

static void put(corio__theap *h, size_t i, corio__theap_node *n) {
    h->a[i] = n;
    n->idx = i;
}

static void sift_up(corio__theap *h, size_t i) {
    corio__theap_node *n = h->a[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->a[parent]->deadline <= n->deadline) break;
        put(h, i, h->a[parent]);
        i = parent;
    }
    put(h, i, n);
}

static void sift_down(corio__theap *h, size_t i) {
    corio__theap_node *n = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && h->a[c + 1]->deadline < h->a[c]->deadline) c++;
        if (n->deadline <= h->a[c]->deadline) break;
        put(h, i, h->a[c]);
        i = c;
    }
    put(h, i, n);
}

int corio__theap_push(corio__theap *h, corio__theap_node *n) {
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        corio__theap_node **a = realloc(h->a, cap * sizeof *a);
        if (a == NULL) return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    put(h, h->len++, n);
    sift_up(h, n->idx);
    return 0;
}

void corio__theap_remove(corio__theap *h, corio__theap_node *n) {
    size_t i = n->idx;
    if (i == CORIO__HEAP_NONE) return;
    n->idx = CORIO__HEAP_NONE;
    corio__theap_node *last = h->a[--h->len];
    if (last == n) return;
    put(h, i, last);
    /* The moved node may belong above or below its new slot. */
    if (i > 0 && h->a[(i - 1) / 2]->deadline > last->deadline) sift_up(h, i);
    else sift_down(h, i);
}

void corio__theap_free(corio__theap *h) {
    free(h->a);
    h->a = NULL;
    h->len = h->cap = 0;
}
