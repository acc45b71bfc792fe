/* tests/header/header_c11.c - "corio.h" compiles as strict C11
 * (-std=c11 -pedantic-errors) and links: a generator counts down from 3. */
#include "corio.h"

#include <stdint.h>

static void *countdown(void *arg) {
    for (intptr_t n = (intptr_t)arg; n > 0; n--) corio_coro_yield((void *)n, NULL);
    return NULL;
}

int main(void) {
    corio_coro *g = NULL;
    if (corio_gen_create(&g, countdown, (void *)(intptr_t)3, NULL) != 0) return 1;
    intptr_t sum = 0;
    void *item;
    while (corio_gen_next(g, &item) == 1) sum += (intptr_t)item;
    if (corio_coro_destroy(g) != 0) return 1;
    return sum == 3 + 2 + 1 ? 0 : 1;
}
