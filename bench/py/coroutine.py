"""bench/py/coroutine.py - the course's @coroutine decorator, shared
by the scripts of this directory: create the generator and prime it, so
that it waits at its first (yield) for send()."""


def coroutine(func):
    def start(*args, **kwargs):
        cr = func(*args, **kwargs)
        next(cr)
        return cr
    return start
