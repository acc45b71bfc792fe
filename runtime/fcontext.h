/* runtime/fcontext.h - the three C entry points of Boost.Context's fcontext
 * assembly (libboost_context.a, x86-64 SysV ELF).  Included by
 * runtime/context.c only: every stack switch in corio goes through there.
 *
 * fcontext_t is the saved stack pointer of a suspended context.
 * make_fcontext takes the *top* of a stack; a context function that returns
 * makes the trampoline call _exit(0), so ours never return. */
#ifndef CORIO_RUNTIME_FCONTEXT_H
#define CORIO_RUNTIME_FCONTEXT_H

#include <stddef.h>

typedef void *fcontext_t;

typedef struct {
    fcontext_t fctx; /* the context that jumped to us, now suspended */
    void *data;      /* the pointer it passed */
} transfer_t;

transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));
transfer_t ontop_fcontext(fcontext_t const to, void *vp, transfer_t (*fn)(transfer_t));

#endif
