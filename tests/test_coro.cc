#include <gtest/gtest.h>
#include "corio.h"
#include <cerrno>
#include <cstdint>

static void *countdown(void *arg) {
  intptr_t n = (intptr_t)arg;
  while (n > 0) { corio_coro_yield((void *)n, nullptr); n--; }
  return (void *)(intptr_t)-1;
}

TEST(Coro, GeneratorCountdown) {
  corio_coro *g;
  ASSERT_EQ(0, corio_gen_create(&g, countdown, (void *)5, nullptr));
  EXPECT_EQ(CORIO_CORO_CREATED, corio_coro_state(g));
  void *v; intptr_t expect = 5; int r;
  while ((r = corio_gen_next(g, &v)) == 1) { EXPECT_EQ(expect, (intptr_t)v); expect--; }
  EXPECT_EQ(0, r);
  EXPECT_EQ(0, expect);
  EXPECT_EQ(0, corio_coro_result(g, &v));
  EXPECT_EQ(-1, (intptr_t)v);
  EXPECT_EQ(-EPIPE, corio_gen_next(g, &v));
  EXPECT_EQ(0, corio_coro_destroy(g));
}
