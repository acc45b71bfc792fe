// tests/consumer/consumer_cxx.cc - the installed header from C++: a
// generator counts down from 3 (no runtime needed).
#include <corio.h>

#include <cstdint>

extern "C" int consumer_cxx_check(void);

namespace {
void *countdown(void *arg) {
  for (intptr_t n = reinterpret_cast<intptr_t>(arg); n > 0; n--)
    corio_coro_yield(reinterpret_cast<void *>(n), nullptr);
  return nullptr;
}
}  // namespace

extern "C" int consumer_cxx_check(void) {
  corio_coro *g = nullptr;
  if (corio_gen_create(&g, countdown, reinterpret_cast<void *>(intptr_t{3}), nullptr) != 0)
    return 1;
  intptr_t sum = 0;
  void *item = nullptr;
  while (corio_gen_next(g, &item) == 1) sum += reinterpret_cast<intptr_t>(item);
  if (corio_coro_destroy(g) != 0) return 1;
  return sum == 6 ? 0 : 1;
}
