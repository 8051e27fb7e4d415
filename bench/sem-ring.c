/*
 * sem-ring.c: the rings' shared region, how every ring stores a message,
 * and the semaphore ring.
 *
 * The region: one ring per direction in one shm_open region, 4 MiB of
 * slots each (at least 16 slots of the largest message). A slot starts
 * with a header that holds the message's length, which the consumer
 * checks before it uses the message: the other process wrote it.
 *
 * Storing: all four rings build a message where ring_message says (its
 * slot, or a private buffer) and call ring_store before they publish it,
 * so that the way of storing chosen for a phase (see ring_reset) is the
 * same in every ring, and a ring differs from another only in how it
 * counts and waits.
 *
 * The semaphore ring is 07's design: sem_wait(free_slots), fill the slot,
 * sem_post(used_slots); the consumer mirrors that. Each side's index is
 * its own, a local variable. glibc's sem_wait never spins: a side that
 * finds the ring empty (or full) sleeps at once, and then every sem_post of
 * the other side pays for a wake-up. So on two CPUs a side first tries
 * sem_trywait for up to --spin-us (the other side is running and about to
 * post); on one CPU it does not, since the other side cannot run while
 * this one spins. "Fill the slot" is done the way every ring stores a
 * message (above): in place, or built aside and copied in.
 */
#include "ipc-bench.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

size_t round_line(size_t bytes)
{
	return (bytes + LINE - 1) / LINE * LINE;
}

/* A ring is sized in bytes, not in messages: when a side has to sleep,
 * the ring must hold enough to keep the other side busy while it wakes up
 * (tens of microseconds on a VM, more on a loaded host). 4 MiB is about
 * 300 us of streaming at 12 GB/s and still fits in the L3 cache; 16 slots
 * of 64 KiB (1 MiB) were drained before a woken producer got going. */
void ring_layout(struct chan *c)
{
	size_t largest = round_line(sizeof(struct slot) + c->max_bytes);
	c->ring_bytes = sizeof(struct ring) + ((size_t)BIG_SLOTS * largest > RING_BYTES ?
					       (size_t)BIG_SLOTS * largest : RING_BYTES);
}

/* The region, and the buffer a sender builds a message aside in (A makes
 * both before the fork; B's copy of the buffer is its own). */
void ring_map(struct chan *c, void *region)
{
	c->sbuf = alloc_buffer(c->max_bytes);
	c->region = region;
	for (int i = 0; i < 2; i++)
		c->ring[i] = (struct ring *)(void *)((char *)region + (size_t)i * c->ring_bytes);
}

/* The region, made, reserved, mapped and its name removed: from here on
 * only the mapping holds it, and the fork shares it. */
void shm_ring_create(struct chan *c)
{
	ring_layout(c);
	size_t bytes = 2 * c->ring_bytes;
	const char *name = name_for(0, NAME_SHM, "ring");
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		die("shm_open", name, strerror(errno), NULL);
	name_pending(0, NAME_SHM);
	if (ftruncate(fd, (off_t)bytes) == -1)
		die("ftruncate", name, strerror(errno), NULL);
	reserve(fd, name, bytes);
	void *region = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);
	name_pending(0, NAME_NONE);
	if (shm_unlink(name) == -1)
		die("shm_unlink", name, strerror(errno), NULL);
	ring_map(c, region);
}

/* How every ring stores the messages of a phase: built in the slot with
 * ordinary stores, or built aside in the private buffer and copied in with
 * memcpy or streaming stores (store_message, references.c). A message of
 * 64 bytes, one cache line, is always built in place; a larger one is
 * stored the way store_for says: --store's, else across CPUs the way this
 * run's spin ring found fastest at that size, but for a round trip never
 * with streaming stores (memcpy instead): its reader reads the message at
 * once, and streaming stores send it to memory first (bench/README, "What
 * limits each ring"). */
static void choose_store(struct chan *c, size_t bytes)
{
	c->store = bytes > PING_BYTES ? store_for(bytes, c->placement) : STORE_IN_PLACE;
	if (c->pingpong && c->store == STORE_STREAM && opt.store < 0)
		c->store = STORE_MEMCPY;
}

/* Where the sender builds its next message: the slot, or the buffer. */
void *ring_message(struct chan *c)
{
	return c->store == STORE_IN_PLACE ? slot(c, c->tx, c->head)->message : (void *)c->sbuf;
}

/* A message built aside goes into its slot; the ring publishes it after. */
void ring_store(struct chan *c, size_t bytes)
{
	if (c->store != STORE_IN_PLACE)
		store_message(c->store, slot(c, c->tx, c->head)->message, c->sbuf, bytes);
}

/* Both rings are empty between phases, so A may reshape them for the next
 * message size while B waits for its command: capacity is a power of two
 * (slots of the 64-byte messages stay in a few pages, 64 KiB ones in 16).
 * Each side also chooses how it will store this phase's messages. */
void ring_reset(struct chan *c, size_t bytes)
{
	size_t largest = bytes > PING_BYTES ? bytes : PING_BYTES;
	c->stride = round_line(sizeof(struct slot) + largest);
	size_t slots = (c->ring_bytes - sizeof(struct ring)) / c->stride;
	size_t capacity = 1;
	while (capacity * 2 <= slots && capacity * 2 <= MAX_SLOTS)
		capacity *= 2;
	c->mask = (uint32_t)capacity - 1;
	c->head = c->head_shown = c->tail_seen = c->tail = c->tail_shown = c->flushed = 0;
	c->replying = 0;
	c->tx = c->ring[c->side];
	c->rx = c->ring[1 - c->side];
	choose_store(c, bytes);
	if (c->side != 0)
		return;
	for (int i = 0; i < 2; i++) {
		struct ring *r = c->ring[i];
		/* Sequence words of the last phase must not pass for this one's. */
		memset(r->slots, 0, c->ring_bytes - sizeof(struct ring));
		atomic_store(&r->head, 0);
		atomic_store(&r->tail, 0);
		atomic_store(&r->consumer_sleeping, 0);
		atomic_store(&r->producer_sleeping, 0);
		atomic_store(&r->consumer_wake_at, 0);
		atomic_store(&r->producer_wake_at, 0);
		atomic_store(&r->flushed, 0);
	}
}

struct slot *slot(struct chan *c, struct ring *r, uint32_t index)
{
	return (struct slot *)(void *)(r->slots + (size_t)(index & c->mask) * c->stride);
}

/* The length comes from the other process: check it before use. */
const void *checked_message(struct chan *c, size_t bytes)
{
	struct slot *s = slot(c, c->rx, c->tail);
	if (s->length != bytes)
		die("recv", c->mech->name, "slot holds a message of the wrong length", NULL);
	return s->message;
}

void shm_ring_destroy(struct chan *c)
{
	free(c->sbuf);
	if (munmap(c->region, 2 * c->ring_bytes) == -1)
		die("munmap", c->mech->name, strerror(errno), NULL);
}

/* --- the semaphore ring ----------------------------------------------- */

static void sem_ring_create(struct chan *c)
{
	shm_ring_create(c);
	c->sem_spin = c->placement == CROSS && c->spin_ns > 0;
	for (int i = 0; i < 2; i++)
		if (sem_init(&c->ring[i]->free_slots, 1, 0) == -1 ||
		    sem_init(&c->ring[i]->used_slots, 1, 0) == -1)
			die("sem_init", "ring", strerror(errno), NULL);
}

static void sem_ring_begin(struct chan *c, size_t bytes)
{
	ring_reset(c, bytes);
	if (c->side != 0)
		return;
	for (int i = 0; i < 2; i++) {
		struct ring *r = c->ring[i];
		if (sem_destroy(&r->free_slots) == -1 || sem_destroy(&r->used_slots) == -1 ||
		    sem_init(&r->free_slots, 1, c->mask + 1) == -1 ||
		    sem_init(&r->used_slots, 1, 0) == -1)
			die("sem_init", "ring", strerror(errno), NULL);
	}
}

/* On two CPUs, try for a while before sleeping (see the top of the file). */
static void sem_wait_checked(struct chan *c, sem_t *sem)
{
	if (c->sem_spin) {
		uint64_t start = now_ns();
		for (unsigned spins = 1;; spins++) {
			if (sem_trywait(sem) == 0)
				return;
			if (errno != EAGAIN && errno != EINTR)
				die("sem_trywait", "ring", strerror(errno), NULL);
			cpu_relax();
			if (spins % 64 == 0 && now_ns() - start > c->spin_ns)
				break;
		}
	}
	while (sem_wait(sem) == -1)
		if (errno != EINTR)
			die("sem_wait", "ring", strerror(errno), NULL);
}

static void *sem_ring_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	sem_wait_checked(c, &c->tx->free_slots);
	return ring_message(c);
}

static void sem_ring_send(struct chan *c, size_t bytes)
{
	ring_store(c, bytes);
	slot(c, c->tx, c->head++)->length = (uint32_t)bytes;
	if (sem_post(&c->tx->used_slots) == -1)
		die("sem_post", "ring", strerror(errno), NULL);
}

static const void *sem_ring_recv(struct chan *c, size_t bytes)
{
	sem_wait_checked(c, &c->rx->used_slots);
	return checked_message(c, bytes);
}

static void sem_ring_release(struct chan *c)
{
	c->tail++;
	if (sem_post(&c->rx->free_slots) == -1)
		die("sem_post", "ring", strerror(errno), NULL);
}

static void sem_ring_destroy(struct chan *c)
{
	for (int i = 0; i < 2; i++)
		if (sem_destroy(&c->ring[i]->free_slots) == -1 ||
		    sem_destroy(&c->ring[i]->used_slots) == -1)
			die("sem_destroy", c->mech->name, strerror(errno), NULL);
	shm_ring_destroy(c);
}

const struct mechanism mech_sem_ring = {
	.name = "shm-sem-ring",
	.note = "system calls happen inside sem_wait/sem_post and are not counted; "
		"cross-cpu, a side tries sem_trywait for --spin-us before it sleeps",
	.counts_syscalls = 0,
	.ring = 1,
	.create = sem_ring_create,
	.begin = sem_ring_begin,
	.send_buf = sem_ring_send_buf,
	.send = sem_ring_send,
	.recv = sem_ring_recv,
	.release = sem_ring_release,
	.destroy = sem_ring_destroy,
};
