// tests/support/deque_helpers.h - what the run-queue suites (test_deque.cc,
// test_deque_stress.cc) share: items as 1-based indices disguised as
// pointers (item(), index_of()), the Q wrapper that owns a corio__deque,
// and drain().
//
// Header-only: every test file is its own executable and includes this
// once; everything is in an anonymous namespace and the functions are
// inline, so a file that uses only some of them builds warning-free.
#ifndef CORIO_TESTS_SUPPORT_DEQUE_HELPERS_H
#define CORIO_TESTS_SUPPORT_DEQUE_HELPERS_H

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/deque.h"

namespace {

// Items are 1-based indices disguised as pointers (items are non-NULL).
inline void *item(uint64_t i) { return reinterpret_cast<void *>(static_cast<uintptr_t>(i + 1)); }
inline uint64_t index_of(void *p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)) - 1; }

struct Q {
    corio__deque q;
    explicit Q(size_t cap) { EXPECT_EQ(0, corio__deque_init(&q, cap)); }
    ~Q() { corio__deque_fini(&q); }
    operator corio__deque *() { return &q; }
    Q(const Q &) = delete;
    Q &operator=(const Q &) = delete;
};

// Pops everything the owner can pop, newest first.
inline std::vector<void *> drain(corio__deque *q) {
    std::vector<void *> out;
    while (void *p = corio__deque_pop(q)) out.push_back(p);
    return out;
}

} // namespace

#endif // CORIO_TESTS_SUPPORT_DEQUE_HELPERS_H
