/*
 * spsc-ring.c: the single-producer, single-consumer ring on C11 atomics.
 *
 * Data is ordered by release (publishing) and acquire
 * (reading what the other side published). A consumer watches the
 * sequence word of the slot it expects, which arrives on the same cache
 * line as the message; the producer's head index line stays in the
 * producer's cache and is read only by a consumer about to sleep.
 *
 * To wait, a side spins for a bounded time, then sleeps on the futex of
 * its flag. Sleeping safely takes one more rule: the sleeper writes the
 * index value it waits for and sets its flag, then rereads the index; the
 * publisher stores the index, then reads the flag. Both pairs are seq_cst,
 * so at least one side sees the other: either the sleeper sees the new
 * index, or the publisher sees the flag and wakes it once the index has
 * reached the value asked for. When nobody sleeps, publishing makes no
 * system call; the publisher clears the flag as it wakes, so a sleeper
 * still on its way back to the CPU costs one FUTEX_WAKE, not one a message.
 *
 * Each side asks to be woken for half a ring: a producer for half the
 * ring free, a consumer for half the ring filled. Woken for a single slot
 * or message, it would handle it and sleep again: when the other side is
 * slower by more than the spin (a preempted process, a vCPU the host
 * slows down), that is a sleep and a wake-up per message, the ping-pong
 * the spin is there to avoid. Woken for half a ring, the side has work
 * while the other still has half a ring to go, so both are running again
 * before either can run dry, and a side that stays slower costs one sleep
 * per half ring, not one per message.
 *
 * A consumer that has caught up with a stream of small messages, and has
 * sent nothing since its last one (it is not waiting for a reply), waits
 * for the head the producer shows every few KiB before it looks at the
 * slot: looking at the slot the producer is filling takes its line away
 * from the producer mid-fill. A side waiting for a reply watches the slot.
 *
 * A consumer left asleep with less than half a ring to read must still
 * get it once the producer stops sending: before a side waits, and when
 * it leaves the ring (the harness calls flush), it flushes. A flush
 * records the head in `flushed` and wakes a sleeping consumer; a consumer
 * about to sleep returns at once if the head has moved and equals
 * `flushed`. The same store-then-load pairs make that race-free.
 *
 * A large message is stored the way this run's spin-ring reference found
 * fastest at that size on this machine (see references.c): built in the
 * slot with ordinary stores, or built aside in a private buffer and copied
 * in with memcpy or with streaming stores. Which one wins depends on how
 * far apart the host placed the two CPUs, so it is measured, not assumed.
 */
#include "ipc-bench.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The futex operations, from the kernel's <linux/futex.h> (their values
 * are part of the system call ABI). Defined here because some C libraries'
 * compilers, musl-gcc among them, do not see the kernel's headers. */
enum { FUTEX_WAIT_OP = 0, FUTEX_WAKE_OP = 1 };

static long futex(atomic_uint *word, int op, unsigned value)
{
	return syscall(SYS_futex, (void *)word, op, value, NULL, NULL, 0);
}

/* Spin until *word holds want (or, want_change: no longer holds it);
 * 0 when the spin's time (--spin-us, less what `spent` of it is gone)
 * ran out first. */
static int spin_until(struct chan *c, atomic_uint *word, uint32_t want, int want_change,
		      uint64_t spent)
{
	uint64_t start = now_ns() - spent;
	for (unsigned spins = 1;; spins++) {
		uint32_t seen = atomic_load_explicit(word, memory_order_acquire);
		if ((seen == want) != want_change)
			return 1;
		cpu_relax();
		if (spins % 64 == 0 && now_ns() - start > c->spin_ns)
			return 0;
	}
}

/* Sleep until *index has reached want (indices wrap: compare the
 * distance), or, with flushed, until it has passed stale and the
 * publisher has flushed up to it; return what it holds. A head that is
 * shown lazily may even be behind the consumer's own index. */
static uint32_t sleep_until(struct chan *c, atomic_uint *index, atomic_uint *sleeping,
			    atomic_uint *wake_at, atomic_uint *flushed, uint32_t stale,
			    uint32_t want)
{
	uint32_t seen;
	atomic_store_explicit(wake_at, want, memory_order_relaxed);
	for (;;) {
		/* seq_cst also orders wake_at before the flag, for the publisher. */
		atomic_store_explicit(sleeping, 1, memory_order_seq_cst);
		seen = atomic_load_explicit(index, memory_order_seq_cst);
		if ((int32_t)(seen - want) >= 0)
			break;
		if (flushed && (int32_t)(seen - stale) > 0 &&
		    atomic_load_explicit(flushed, memory_order_seq_cst) == seen)
			break;
		c->syscalls++;
		/* The futex is the flag, not the index: every wake-up clears
		 * it first, so one that comes before the kernel looks (EAGAIN)
		 * is never lost, whichever word (index, flushed) it answers.
		 * Not FUTEX_PRIVATE: the word is shared between processes. */
		if (futex(sleeping, FUTEX_WAIT_OP, 1) == -1 && errno != EAGAIN && errno != EINTR)
			die("futex", "FUTEX_WAIT", strerror(errno), NULL);
	}
	atomic_store_explicit(sleeping, 0, memory_order_relaxed);
	return seen;
}

static void wake(struct chan *c, atomic_uint *sleeping)
{
	if (atomic_exchange_explicit(sleeping, 0, memory_order_relaxed)) {
		c->syscalls++;
		if (futex(sleeping, FUTEX_WAKE_OP, 1) == -1)
			die("futex", "FUTEX_WAKE", strerror(errno), NULL);
	}
}

static void publish(struct chan *c, atomic_uint *index, atomic_uint *sleeping,
		    atomic_uint *wake_at, uint32_t value)
{
	atomic_store_explicit(index, value, memory_order_seq_cst);
	if (atomic_load_explicit(sleeping, memory_order_seq_cst) &&
	    (int32_t)(value - atomic_load_explicit(wake_at, memory_order_relaxed)) >= 0)
		wake(c, sleeping);
}

static void spsc_flush(struct chan *c);

static void *spsc_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	/* Full as far as we last saw: look again, and wait if it still is. */
	uint32_t full = c->head - c->mask - 1;
	if (c->tail_seen == full) {
		atomic_uint *tail = &c->tx->tail;
		if (spin_until(c, tail, full, 1, 0))
			c->tail_seen = atomic_load_explicit(tail, memory_order_acquire);
		else {
			spsc_flush(c);
			c->tail_seen = sleep_until(c, tail, &c->tx->producer_sleeping,
						   &c->tx->producer_wake_at, NULL, full,
						   full + (c->mask + 1) / 2);
		}
		if (c->head - c->tail_seen > c->mask)
			die("send", c->mech->name, "tail index out of range", NULL);
	}
	return ring_message(c);
}

/* Each side shows its index only every few KiB (at most a quarter ring),
 * and before it waits: the other side reads it only to sleep or when the
 * ring looks full, and publishing costs a seq_cst store, a full barrier
 * that would wait for every store of the message to leave this CPU. */
static int time_to_show(struct chan *c, uint32_t unshown)
{
	return unshown > c->mask / 4 || unshown * c->stride >= SHOW_BYTES;
}

static void show_head(struct chan *c)
{
	c->head_shown = c->head;
	publish(c, &c->tx->head, &c->tx->consumer_sleeping, &c->tx->consumer_wake_at, c->head);
}

/* The consumer watches the slot's sequence word, which carries each
 * message; the head only tells a consumer about to sleep how far it is. */
static void spsc_send(struct chan *c, size_t bytes)
{
	ring_store(c, bytes);
	struct slot *s = slot(c, c->tx, c->head);
	s->length = (uint32_t)bytes;
	atomic_store_explicit(&s->sequence, c->head + 1, memory_order_release);
	c->replying = 1;
	if (time_to_show(c, ++c->head - c->head_shown))
		show_head(c);
}

/* Everything sent so far can be read now: see `flushed` above. Repeating
 * a flush with no message sent since changes nothing, so it is skipped. */
static void spsc_flush(struct chan *c)
{
	if (c->flushed == c->head)
		return;
	if (c->head_shown != c->head)
		show_head(c);
	c->flushed = c->head;
	atomic_store_explicit(&c->tx->flushed, c->head, memory_order_seq_cst);
	if (atomic_load_explicit(&c->tx->consumer_sleeping, memory_order_seq_cst))
		wake(c, &c->tx->consumer_sleeping);
}

static void show_tail(struct chan *c)
{
	c->tail_shown = c->tail;
	publish(c, &c->rx->tail, &c->rx->producer_sleeping, &c->rx->producer_wake_at, c->tail);
}

/* A consumer that has caught up with a stream waits for the head the
 * producer shows every few KiB, not for the slot the producer is writing:
 * each look at that slot takes its line back from the producer while it
 * fills it (at 64 B, about a third of the stream). Bounded by the spin:
 * a producer that stops without flushing is then watched slot by slot
 * for what is left of it. Returns the time spent. */
static uint64_t wait_for_batch(struct chan *c)
{
	uint64_t start = now_ns(), spent;
	for (unsigned spins = 1;; spins++) {
		uint32_t head = atomic_load_explicit(&c->rx->head, memory_order_acquire);
		if ((int32_t)(head - c->tail) > 0)
			return spins < 64 ? 0 : now_ns() - start;
		cpu_relax();
		if (spins % 64 == 0 && (spent = now_ns() - start) > c->spin_ns)
			return spent;
	}
}

static const void *spsc_recv(struct chan *c, size_t bytes)
{
	atomic_uint *sequence = &slot(c, c->rx, c->tail)->sequence;
	int replying = c->replying;
	c->replying = 0;
	if (atomic_load_explicit(sequence, memory_order_acquire) != c->tail + 1) {
		/* About to wait: first let the other side see all we have
		 * done, both as a consumer and as a producer (a reply waiting
		 * for a batch would wait for our whole spin). */
		if (c->tail_shown != c->tail)
			show_tail(c);
		spsc_flush(c);
		/* A side that has sent since its last message waits for a
		 * reply: it watches the slot, the shortest round trip. And
		 * where the head is shown after every message (from 4 KiB),
		 * waiting for it only adds the crossing of its line. */
		uint64_t spent = 0;
		if (!replying && 2 * c->stride <= SHOW_BYTES)
			spent = wait_for_batch(c);
		if (!spin_until(c, sequence, c->tail + 1, 0, spent)) {
			/* The head moves after the slot is filled: once it has
			 * passed our index, the sequence must be there. */
			sleep_until(c, &c->rx->head, &c->rx->consumer_sleeping,
				    &c->rx->consumer_wake_at, &c->rx->flushed, c->tail,
				    c->tail + (c->mask + 1) / 2);
			if (atomic_load_explicit(sequence, memory_order_acquire) != c->tail + 1)
				die("recv", c->mech->name, "slot not filled behind the head index", NULL);
		}
	}
	return checked_message(c, bytes);
}

static void spsc_release(struct chan *c)
{
	if (time_to_show(c, ++c->tail - c->tail_shown))
		show_tail(c);
}

const struct mechanism mech_spsc_ring = {
	.name = "shm-spsc-ring",
	.counts_syscalls = 1,
	.ring = 1,
	.create = shm_ring_create,
	.begin = ring_reset,
	.send_buf = spsc_send_buf,
	.send = spsc_send,
	.recv = spsc_recv,
	.release = spsc_release,
	.flush = spsc_flush,
	.destroy = shm_ring_destroy,
};
