/* C11 atomics for lumina._core.ringbuffer (Cython cannot spell _Atomic).
 *
 * The three counters are monotonic 64-bit sample counters: at 16 kHz they
 * wrap after 36 million years, so no ABA and no modular comparisons.
 *   head    - samples ever accepted (the sample clock); stored by the producer only.
 *   tail    - samples consumed or dropped; advanced by the consumer, and by the
 *             producer in overwrite mode, always with a compare-and-swap.
 *   dropped - samples the reader lost; added to by the producer only.
 * Each counter sits on its own 64-byte stretch so the producer's stores to
 * head do not bounce the cache line the consumer's tail lives on.  Padding,
 * not _Alignas: the struct is embedded in a Python object, whose allocator
 * only promises 16-byte alignment.
 */
#ifndef LUMINA_RINGBUFFER_H
#define LUMINA_RINGBUFFER_H

#include <stdatomic.h>
#include <stdint.h>

#define LM_PAD (64 - sizeof(_Atomic uint64_t))

typedef struct lm_ring_counters {
    _Atomic uint64_t head;
    char pad_head[LM_PAD];
    _Atomic uint64_t tail;
    char pad_tail[LM_PAD];
    _Atomic uint64_t dropped;
} lm_ring_counters;

static inline void lm_counters_init(lm_ring_counters *c)
{
    atomic_init(&c->head, 0);
    atomic_init(&c->tail, 0);
    atomic_init(&c->dropped, 0);
}

/* head: release on store pairs with acquire on load, so the samples the
 * producer copied before publishing are visible to whoever sees the new head. */
static inline uint64_t lm_head_acquire(lm_ring_counters *c)
{
    return atomic_load_explicit(&c->head, memory_order_acquire);
}

static inline uint64_t lm_head_relaxed(lm_ring_counters *c)
{
    /* Only for the producer reading its own counter. */
    return atomic_load_explicit(&c->head, memory_order_relaxed);
}

static inline void lm_head_publish(lm_ring_counters *c, uint64_t value)
{
    atomic_store_explicit(&c->head, value, memory_order_release);
}

static inline uint64_t lm_tail_acquire(lm_ring_counters *c)
{
    return atomic_load_explicit(&c->tail, memory_order_acquire);
}

/* acq_rel on success: release orders the consumer's copy-out before the
 * tail move; acquire orders the producer's slot writes after it.  Strong
 * CAS, because a spurious failure would make the consumer redo its copy. */
static inline int lm_tail_cas(lm_ring_counters *c, uint64_t expected, uint64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        &c->tail, &expected, desired, memory_order_acq_rel, memory_order_acquire);
}

static inline void lm_dropped_add(lm_ring_counters *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->dropped, n, memory_order_relaxed);
}

static inline uint64_t lm_dropped_load(lm_ring_counters *c)
{
    return atomic_load_explicit(&c->dropped, memory_order_relaxed);
}

#endif /* LUMINA_RINGBUFFER_H */
