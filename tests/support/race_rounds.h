// tests/support/race_rounds.h - what the tight-round race suites share:
// the round count (scaled under the sanitizers and by CORIO_RACE_ROUNDS),
// the seed of a round's random choices (printed, repeatable with
// CORIO_RACE_SEED), the round watchdog's limit, and a spin that the
// compiler keeps (a jitter that moves one side of a race a little).
//
// Header-only; everything is in an anonymous namespace and inline.
#ifndef CORIO_TESTS_SUPPORT_RACE_ROUNDS_H
#define CORIO_TESTS_SUPPORT_RACE_ROUNDS_H

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "task_helpers.h"

namespace {

const std::chrono::seconds kRoundLimit{kSanitized ? 60 : 15};

// The round count: `full` (or `sanitized`), times CORIO_RACE_ROUNDS/100
// when that is set (a percentage, for long hunts and quick runs).
inline long rounds_of(long full, long sanitized) {
  long n = scaled(full, sanitized);
  if (const char *e = getenv("CORIO_RACE_ROUNDS")) n = n * strtol(e, nullptr, 10) / 100;
  return n < 1 ? 1 : n;
}

// A seed printed with the test, so that a failing run's choices can be
// repeated (CORIO_RACE_SEED).
inline unsigned race_seed() {
  unsigned s = static_cast<unsigned>(std::random_device{}());
  if (const char *e = getenv("CORIO_RACE_SEED")) s = static_cast<unsigned>(strtoul(e, nullptr, 10));
  printf("race seed %u (CORIO_RACE_SEED=%u repeats it)\n", s, s);
  return s;
}

inline void spin(long n) {
  for (long i = 0; i < n; i++) std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace

#endif  // CORIO_TESTS_SUPPORT_RACE_ROUNDS_H
