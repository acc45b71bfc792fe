/* runtime/note.c - the notes of what a task waits on (note.h). */
#include "runtime/note.h"

#include "runtime/sched.h"
#include "runtime/task.h"

static corio__note *mine(void) {
    corio__worker *w = corio__thread_here()->worker;
    return w != NULL && w->current != NULL ? &w->current->note : NULL;
}

void corio__note_wait(unsigned why, unsigned sub, int64_t arg) {
    corio__note_set(mine(), why, sub, arg);
}

void corio__note_done(void) {
    corio__note_clear(mine());
}
