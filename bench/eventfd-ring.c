/*
 * eventfd-ring.c: a ring in shared memory whose waiting side sleeps in
 * read() on an eventfd, the doorbell, instead of on a futex.
 *
 * Each direction has its ring (the region of sem-ring.c), published
 * indices (head by the producer, tail by the consumer, each on its own
 * cache line) and two eventfds: one rings for its consumer, one for its
 * producer. A side that finds the ring empty (or full) spins for up to
 * --spin-us on two CPUs, then sets its sleeping flag, looks at the index
 * again, and only if nothing has changed reads its eventfd. A publisher
 * stores its index, then looks at the other side's flag; both are seq_cst,
 * so either the sleeper sees the new index or the publisher sees the flag,
 * clears it and writes the eventfd. A write that comes before the read
 * leaves the count above zero, so the read returns at once: no wake-up is
 * lost, and a spare one only makes the sleeper look again.
 */
#include "ipc-bench.h"

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void eventfd_ring_create(struct chan *c)
{
	shm_ring_create(c);
	for (int d = 0; d < 2; d++)
		for (int who = 0; who < 2; who++) {
			c->bell[d][who] = eventfd(0, 0);
			if (c->bell[d][who] == -1)
				die("eventfd", c->mech->name, strerror(errno), NULL);
		}
}

static void ring_bell(struct chan *c, atomic_uint *sleeping, int fd)
{
	if (!atomic_load_explicit(sleeping, memory_order_seq_cst) ||
	    !atomic_exchange_explicit(sleeping, 0, memory_order_seq_cst))
		return;
	uint64_t one = 1;
	ssize_t n;
	do {
		c->syscalls++;
		n = write(fd, &one, sizeof one);
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof one)
		die("write", "eventfd", n == -1 ? strerror(errno) : "short write", NULL);
}

/* Wait until *index differs from seen; its new value. */
static uint32_t wait_for(struct chan *c, atomic_uint *index, uint32_t seen,
			 atomic_uint *sleeping, int fd)
{
	uint32_t now;
	if (c->placement == CROSS) {
		uint64_t start = now_ns();
		for (unsigned spins = 1; spins % 64 != 0 || now_ns() - start <= c->spin_ns; spins++) {
			now = atomic_load_explicit(index, memory_order_acquire);
			if (now != seen)
				return now;
			cpu_relax();
		}
	}
	for (;;) {
		atomic_store_explicit(sleeping, 1, memory_order_seq_cst);
		now = atomic_load_explicit(index, memory_order_seq_cst);
		if (now != seen) {
			atomic_store_explicit(sleeping, 0, memory_order_relaxed);
			return now;
		}
		uint64_t count;
		c->syscalls++;
		ssize_t n = read(fd, &count, sizeof count);
		if (n == -1 && errno != EINTR)
			die("read", "eventfd", strerror(errno), NULL);
	}
}

static void *eventfd_ring_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	while (c->head - c->tail_seen > c->mask) {
		c->tail_seen = atomic_load_explicit(&c->tx->tail, memory_order_acquire);
		if (c->head - c->tail_seen > c->mask)
			c->tail_seen = wait_for(c, &c->tx->tail, c->tail_seen,
						&c->tx->producer_sleeping, c->bell[c->side][1]);
		if (c->head - c->tail_seen > c->mask + 1)
			die("send", c->mech->name, "tail index out of range", NULL);
	}
	return ring_message(c);
}

static void eventfd_ring_send(struct chan *c, size_t bytes)
{
	ring_store(c, bytes);
	slot(c, c->tx, c->head)->length = (uint32_t)bytes;
	atomic_store_explicit(&c->tx->head, ++c->head, memory_order_seq_cst);
	ring_bell(c, &c->tx->consumer_sleeping, c->bell[c->side][0]);
}

static const void *eventfd_ring_recv(struct chan *c, size_t bytes)
{
	int d = 1 - c->side;
	while (c->tail == c->head_shown) {
		c->head_shown = atomic_load_explicit(&c->rx->head, memory_order_acquire);
		if (c->tail == c->head_shown)
			c->head_shown = wait_for(c, &c->rx->head, c->head_shown,
						 &c->rx->consumer_sleeping, c->bell[d][0]);
		if (c->head_shown - c->tail > c->mask + 1)
			die("recv", c->mech->name, "head index out of range", NULL);
	}
	return checked_message(c, bytes);
}

static void eventfd_ring_release(struct chan *c)
{
	atomic_store_explicit(&c->rx->tail, ++c->tail, memory_order_seq_cst);
	ring_bell(c, &c->rx->producer_sleeping, c->bell[1 - c->side][1]);
}

static void eventfd_ring_destroy(struct chan *c)
{
	for (int d = 0; d < 2; d++)
		for (int who = 0; who < 2; who++)
			close_checked(c->bell[d][who], "eventfd");
	shm_ring_destroy(c);
}

const struct mechanism mech_eventfd_ring = {
	.name = "eventfd-ring",
	.counts_syscalls = 1,
	.ring = 1,
	.create = eventfd_ring_create,
	.begin = ring_reset,
	.send_buf = eventfd_ring_send_buf,
	.send = eventfd_ring_send,
	.recv = eventfd_ring_recv,
	.release = eventfd_ring_release,
	.destroy = eventfd_ring_destroy,
};
