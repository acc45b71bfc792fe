/* bench/switch.c - the cost of one coroutine round trip (resume + suspend).
 *
 * Case "round-trip", three impls:
 *   raw       two bare fcontext contexts playing ping-pong: jump_fcontext
 *             there, jump_fcontext back, both straight from a loop.  The
 *             floor: two stack switches, nothing else.
 *   raw-call  the same, but each side jumps from inside one non-inlined
 *             function, the shape any send()/yield() API has.  A jump leaves
 *             the CPU's return-address predictor holding the other stack's
 *             return addresses, so the return out of that function
 *             mispredicts on every switch; this row shows what that alone
 *             costs, with no bookkeeping at all.
 *   corio     corio_coro_send() to a coroutine looping on corio_coro_yield():
 *             one send is one round trip, with everything the API does
 *             around the two switches (state CAS, caller chain, value
 *             transfer).
 * Reported: ns per round trip, the median of --runs runs; the corio row
 * carries "ratio" = corio / raw and "ratio_call" = corio / raw-call. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "corio/coro.h"

/* Boost.Context's fcontext entry points (libboost_context.a, the same
 * assembly the runtime switches with).  Declared here rather than taken
 * from runtime/ so the benchmark needs nothing but public headers. */
typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

#define RAW_STACK (64u * 1024u)

/* The raw partner: bounce every jump straight back with the same value. */
static void raw_partner(transfer_t t) {
    for (;;) t = jump_fcontext(t.fctx, t.data);
}

static double run_raw(long iters) {
    void *stack = aligned_alloc(4096, RAW_STACK);
    if (stack == NULL) bench_fail("out of memory for the raw stack");
    fcontext_t c = make_fcontext((char *)stack + RAW_STACK, RAW_STACK, raw_partner);
    transfer_t t = jump_fcontext(c, NULL); /* enter; it jumps straight back */
    void *v = &iters;
    uint64_t t0 = bench_cpu_ns();
    for (long i = 0; i < iters; i++) {
        t = jump_fcontext(t.fctx, v);
        v = t.data;
    }
    uint64_t t1 = bench_cpu_ns();
    if (v != &iters) bench_fail("raw: the value did not come back");
    /* The partner is left suspended forever; its stack holds nothing else. */
    free(stack);
    return (double)(t1 - t0) / (double)iters;
}

/* raw-call: every jump is made from inside sw(), on both sides. */
static fcontext_t call_other;

__attribute__((noinline)) static void *call_sw(void *v) {
    transfer_t t = jump_fcontext(call_other, v);
    call_other = t.fctx;
    return t.data;
}

static void call_partner(transfer_t t) {
    call_other = t.fctx;
    void *v = t.data;
    for (;;) v = call_sw(v);
}

static double run_raw_call(long iters) {
    void *stack = aligned_alloc(4096, RAW_STACK);
    if (stack == NULL) bench_fail("out of memory for the raw stack");
    call_other = make_fcontext((char *)stack + RAW_STACK, RAW_STACK, call_partner);
    void *v = call_sw(&iters); /* enter; it jumps straight back */
    uint64_t t0 = bench_cpu_ns();
    for (long i = 0; i < iters; i++) v = call_sw(v);
    uint64_t t1 = bench_cpu_ns();
    if (v != &iters) bench_fail("raw-call: the value did not come back");
    free(stack);
    return (double)(t1 - t0) / (double)iters;
}

/* The corio partner: yield back whatever was sent, until closed. */
static void *echo_body(void *arg) {
    void *v = arg;
    while (corio_coro_yield(v, &v) == 0) {
    }
    return NULL;
}

static double run_corio(long iters) {
    corio_coro *co;
    if (corio_coro_create(&co, echo_body, NULL, NULL) != 0) bench_fail("corio_coro_create");
    void *v = &iters;
    int bad = 0;
    uint64_t t0 = bench_cpu_ns();
    for (long i = 0; i < iters; i++) bad |= corio_coro_send(co, v, &v);
    uint64_t t1 = bench_cpu_ns();
    if (bad != 0 || v != &iters) bench_fail("corio: send failed or the value did not come back");
    if (corio_coro_destroy(co) != 0) bench_fail("corio_coro_destroy");
    return (double)(t1 - t0) / (double)iters;
}

int main(int argc, char **argv) {
    bench_opts o = bench_parse(argc, argv, "switch", 7, 5000000);
    double raw = bench_measure(run_raw, &o);
    double raw_call = bench_measure(run_raw_call, &o);
    double corio = bench_measure(run_corio, &o);
    double ratio = corio / raw;

    bench_row rows[3] = {
        {.case_name = "round-trip", .impl = "raw", .value = raw, .unit = "ns", .better = "lower"},
        {.case_name = "round-trip", .impl = "raw-call", .value = raw_call, .unit = "ns",
         .better = "lower"},
        {.case_name = "round-trip", .impl = "corio", .value = corio, .unit = "ns",
         .better = "lower"},
    };
    bench_row_extra(&rows[2], "ratio", ratio);
    bench_row_extra(&rows[2], "ratio_call", corio / raw_call);
    if (o.json) {
        bench_json("switch", rows, 3);
        return 0;
    }
    bench_header("switch", "ns per round trip (resume + suspend)", &o);
    printf("%-12s %-9s %10s %10s %12s\n", "case", "impl", "ns", "vs raw", "vs raw-call");
    printf("%-12s %-9s %10.2f %9.2fx %11.2fx\n", "round-trip", "raw", raw, 1.0, raw / raw_call);
    printf("%-12s %-9s %10.2f %9.2fx %11.2fx\n", "round-trip", "raw-call", raw_call,
           raw_call / raw, 1.0);
    printf("%-12s %-9s %10.2f %9.2fx %11.2fx\n", "round-trip", "corio", corio, ratio,
           corio / raw_call);
    printf("\ntarget: corio at most 2x raw (%s)\n", ratio <= 2.0 ? "met" : "NOT met");
    return 0;
}
