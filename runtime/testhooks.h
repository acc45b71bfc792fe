/* runtime/testhooks.h - internal seams that tests use to reach states that
 * are hard to make happen from outside (a thread that cannot start, a slot
 * whose id generations are nearly used up).  C and C++: the tests include
 * it directly.  Nothing in a program uses these. */
#ifndef CORIO_RUNTIME_TESTHOOKS_H
#define CORIO_RUNTIME_TESTHOOKS_H

#include <pthread.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pthread_create for the worker threads (sched.c); tests make it fail. */
extern int (*corio__thread_create_hook)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                        void *);

/* Set the generation of the slot of task `tid` (a live task's id; the task
 * then has the id (gen << CORIO__TEST_ID_SLOT_BITS) | slot bits). */
void corio__idtable_test_set_gen(uint64_t tid, uint64_t gen);
#define CORIO__TEST_ID_SLOT_BITS 26
#define CORIO__TEST_ID_GEN_LIMIT ((uint64_t)1 << (64 - CORIO__TEST_ID_SLOT_BITS))

#ifdef __cplusplus
}
#endif

#endif
