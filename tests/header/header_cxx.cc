// tests/header/header_cxx.cc - "corio.h" compiles as strict C++ (built twice,
// as C++17 and as C++20 with -pedantic-errors) and links: a coroutine echoes
// back twice what it is sent, then is closed.
#include "corio.h"

#include <cstdint>

static_assert(CORIO_VERSION_MAJOR >= 0, "version macros are usable from C++");

extern "C" {
static void *doubler(void *) {
  void *in = nullptr;
  void *out = nullptr;
  for (;;) {
    if (corio_coro_yield(out, &in) != 0) return nullptr;  // closed
    out = reinterpret_cast<void *>(2 * reinterpret_cast<std::intptr_t>(in));
  }
}
}

int main() {
  corio_coro *co = nullptr;
  corio_coro_opts opts{};
  opts.name = "doubler";
  if (corio_coro_create(&co, doubler, nullptr, &opts) != 0) return 1;
  void *out = nullptr;
  if (corio_coro_send(co, reinterpret_cast<void *>(std::intptr_t{21}), &out) != CORIO_YIELDED)
    return 1;
  if (reinterpret_cast<std::intptr_t>(out) != 42) return 1;
  if (corio_coro_close(co) != 0) return 1;
  if (corio_coro_state(co) != CORIO_CORO_FINISHED) return 1;
  return corio_coro_destroy(co) == 0 ? 0 : 1;
}
