/*
 * references.c: the machine's own limits, measured in the same run as the
 * mechanisms, before, between and after them (the host may move the two
 * virtual CPUs at any time).
 *
 *   cacheline  one cache line bounced between two pinned processes: the
 *              floor for any round trip, and what tells where the host has
 *              placed the two CPUs ("near" or "far").
 *   spin-ring  the throughput limit of a cross-process stream: a minimal
 *              ring in shared memory, both sides spinning, never sleeping,
 *              each message copied in and copied out (which reads every
 *              byte). Every way of storing this machine offers is tried at
 *              each size and the fastest is kept, so that the reference is
 *              the fastest known way, not the atomic ring's own.
 *   memcpy     single-thread memcpy of 64 KiB and 64 MiB.
 *   generator, checker
 *              the pattern's fill and verify in one process: they must be
 *              far faster than any mechanism, or they would cap it.
 */
#include "ipc-bench.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h> /* streaming stores (SSE2, in every x86-64) */
#endif

const char *const store_names[N_STORES] = { "stores", "memcpy", "streaming" };

enum {
	LINE_SAMPLES = 2000,          /* round trips of a quick placement check */
	SPIN_RING_BYTES = 512 << 10,  /* the spin ring's slots: well inside a shared L3 */
	SPIN_MIN_SLOTS = 8,
	STOP = 1,                     /* sequence flags of the spin ring's last message */
	QUIT = 2,
};

/* Shared memory no file system holds: nothing to reserve or remove.
 * fd -1 is what MAP_ANONYMOUS asks for; cppcheck does not know that flag. */
static void *shared_anonymous(size_t bytes, const char *what)
{
	const int flags = MAP_SHARED | MAP_ANONYMOUS;
	// cppcheck-suppress invalidFunctionArg
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		die("mmap", what, strerror(errno), NULL);
	return p;
}

static void unmap(void *p, size_t bytes, const char *what)
{
	if (munmap(p, bytes) == -1)
		die("munmap", what, strerror(errno), NULL);
}

/* The partner is done: it must have ended well. */
static void end_partner(pid_t pid, const char *what)
{
	int status = reap(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("measure", what, "the partner process failed", NULL);
}

/* --- the cache line --------------------------------------------------- */

static int by_rtt(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return (a > b) - (a < b);
}

/* One cache line, one counter: A writes an odd value, B answers with the
 * next even one. Sharing one CPU, a waiter yields so the other can run.
 * Up to n round trips in each of reps repetitions (after one that warms
 * up), each lasting at most rep_ns, go to rtt; returns how many. */
static uint64_t bounce(int placement, int reps, uint64_t n, uint64_t rep_ns, uint32_t *rtt)
{
	pin(cpu_a);
	atomic_ullong *line = shared_anonymous(4096, "cache line");
	atomic_store(line, 0);
	pid_t pid = fork_partner(placement == CROSS ? cpu_b : cpu_a);
	if (pid == 0) {
		for (unsigned long long want = 1;; want += 2) {
			unsigned long long seen;
			for (unsigned spins = 0; (seen = atomic_load_explicit(line, memory_order_acquire)) < want; spins++) {
				cpu_relax();
				if (spins > YIELD_SPINS)
					sched_yield();
			}
			if (seen == ULLONG_MAX)
				_exit(0);
			atomic_store_explicit(line, want + 1, memory_order_release);
		}
	}
	unsigned long long value = 0;
	uint64_t kept = 0;
	for (int rep = 0; rep <= reps; rep++) { /* repetition 0 warms up */
		uint64_t t0 = now_ns(), end = t0 + rep_ns;
		for (uint64_t i = 0; i < n && t0 < end && kept < MAX_SAMPLES; i++) {
			atomic_store_explicit(line, ++value, memory_order_release);
			unsigned spins = 0;
			while (atomic_load_explicit(line, memory_order_acquire) != value + 1) {
				cpu_relax();
				if (++spins > YIELD_SPINS)
					sched_yield();
			}
			value++;
			uint64_t t1 = now_ns();
			if (rep > 0)
				rtt[kept++] = (uint32_t)(t1 - t0 < UINT32_MAX ? t1 - t0 : UINT32_MAX);
			t0 = t1;
		}
	}
	partner_may_end();
	atomic_store(line, ULLONG_MAX);
	end_partner(pid, "cacheline");
	unmap(line, 4096, "cache line");
	return kept;
}

static void measure_cacheline(int placement, int after, uint32_t *rtt)
{
	progress("cacheline", placement_name(placement), LINE);
	uint64_t kept = bounce(placement, opt.reps, opt.quick ? 20000 : 100000, opt.rep_ns, rtt);
	struct result *r = new_result("cacheline", placement, LINE);
	r->after = after;
	rtt_figures(rtt, kept, r);
}

/* The cache-line round trip across the two CPUs now, in a few hundred
 * microseconds: where the host has placed them at this moment. The 10th
 * percentile, not the median: on a loaded machine the partner is often
 * preempted, and that must not pass for CPUs far apart. The median of the
 * same trips goes to *median_ns (if not NULL): a ring's median round trip is
 * compared with it, median with median, as with the cacheline rows. */
double line_now(double *median_ns)
{
	static uint32_t rtt[LINE_SAMPLES];
	if (median_ns)
		*median_ns = -1;
	if (!opt.placements[CROSS] || opt.no_references)
		return -1;
	uint64_t n = bounce(CROSS, 1, LINE_SAMPLES, (uint64_t)50 * 1000 * 1000, rtt);
	if (n == 0)
		return -1;
	qsort(rtt, n, sizeof rtt[0], by_rtt);
	uint32_t median = rtt[n / 2], tenth = rtt[n / 10];
	if (median_ns)
		*median_ns = median;
	return tenth;
}

/* Hosts seen so far place two vCPUs either close (a cache line crosses in
 * 60-150 ns) or far apart (400-520 ns); 250 ns tells the two apart. */
int near_placement(double line_ns)
{
	return line_ns < 250;
}

/* --- storing a message ------------------------------------------------ */

/* Ordinary stores, 16 bytes at a time, as a program that builds its
 * message in place would make them. */
static void copy_with_stores(unsigned char *to, const unsigned char *from, size_t bytes)
{
	typedef uint64_t pair __attribute__((vector_size(16)));
	size_t i = 0;
	for (; i + 16 <= bytes; i += 16) {
		pair v;
		memcpy(&v, from + i, 16);
		memcpy(to + i, &v, 16);
	}
	memcpy(to + i, from + i, bytes - i);
}

/* Streaming (non-temporal) stores go to memory around the cache, without
 * first reading the line into it: what the other CPU read a lap earlier is
 * not fetched back. They need 16-byte alignment, and a store fence before
 * whatever publishes them (release ordering does not order them). */
static void copy_streaming(unsigned char *to, const unsigned char *from, size_t bytes)
{
#if defined(__x86_64__)
	size_t head = (16 - (uintptr_t)to % 16) % 16;
	if (head > bytes)
		head = bytes;
	memcpy(to, from, head);
	size_t i = head;
	for (; i + 16 <= bytes; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(from + i));
		_mm_stream_si128((__m128i *)(void *)(to + i), v);
	}
	memcpy(to + i, from + i, bytes - i);
	_mm_sfence();
#else
	memcpy(to, from, bytes);
#endif
}

void store_message(int store, void *to, const void *from, size_t bytes)
{
	if (store == STORE_STREAM)
		copy_streaming(to, from, bytes);
	else if (store == STORE_MEMCPY)
		memcpy(to, from, bytes);
	else
		copy_with_stores(to, from, bytes);
}

/* The store --store asks for; else the one the latest spin-ring
 * measurement found fastest at this size, for the atomic ring across CPUs;
 * on one CPU, and before any measurement, the message is built in place. */
int store_for(size_t bytes, int placement)
{
	if (opt.store >= 0)
		return opt.store;
	if (placement != CROSS)
		return STORE_IN_PLACE;
	const struct result *r = find("spin-ring", CROSS, bytes);
	return r && r->store >= 0 ? r->store : STORE_IN_PLACE;
}

/* --- the spin ring ---------------------------------------------------- */

/* The producer shows how far it has written every PUBLISH_BYTES (and at
 * the last message); the consumer reads only slots below that, so it never
 * waits on a line the producer is still writing (which, on CPUs far apart,
 * costs two crossings of that line per message). */
enum { PUBLISH_BYTES = 4096 };
struct spin_ring {
	_Alignas(LINE) atomic_ullong head;  /* messages written, shown every PUBLISH_BYTES */
	_Alignas(LINE) atomic_ullong tail;  /* messages consumed, shown every quarter ring */
	_Alignas(LINE) unsigned char slots[];
};
/* Each slot: a sequence word (message number + 1, shifted, with flags),
 * then the message. */

static atomic_ullong *spin_sequence(struct spin_ring *ring, size_t stride, uint64_t n,
				    uint64_t mask)
{
	return (atomic_ullong *)(void *)(ring->slots + (n & mask) * stride);
}

/* B: take every message, copying it out, until told to quit. */
static _Noreturn void spin_consume(struct spin_ring *ring, size_t stride, uint64_t mask,
				   size_t bytes)
{
	unsigned char *out = alloc_buffer(bytes);
	uint64_t head = 0;
	for (uint64_t n = 0;; n++) {
		while (n == head) {
			head = atomic_load_explicit(&ring->head, memory_order_acquire);
			cpu_relax();
		}
		atomic_ullong *sequence = spin_sequence(ring, stride, n, mask);
		unsigned long long seen = atomic_load_explicit(sequence, memory_order_relaxed);
		if (seen >> 2 != n + 1)
			die("verify", "spin ring", "slot out of sequence", NULL);
		if (seen & QUIT)
			_exit(0);
		memcpy(out, (const unsigned char *)sequence + 8, bytes);
		if ((seen & STOP) || (n + 1) % ((mask + 1) / 4) == 0)
			atomic_store_explicit(&ring->tail, n + 1, memory_order_release);
	}
}

/* A: stream for rep_ns with one way of storing; MB/s. */
static double spin_produce(struct spin_ring *ring, size_t stride, uint64_t mask, size_t bytes,
			   int store, const unsigned char *message, uint64_t *next)
{
	uint64_t n = *next, first = n, tail = atomic_load(&ring->tail);
	uint64_t every = PUBLISH_BYTES / stride > 0 ? PUBLISH_BYTES / stride : 1;
	uint64_t t0 = now_ns(), t1;
	for (;; n++) {
		while (n - tail > mask)
			tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
		atomic_ullong *sequence = spin_sequence(ring, stride, n, mask);
		store_message(store, (unsigned char *)sequence + 8, message, bytes);
		int last = (n + 1) % every == 0 && now_ns() - t0 > opt.rep_ns;
		atomic_store_explicit(sequence, (unsigned long long)(n + 1) << 2 | (last ? STOP : 0),
				      memory_order_relaxed);
		if (last || (n + 1) % every == 0)
			atomic_store_explicit(&ring->head, n + 1, memory_order_release);
		if (last)
			break;
	}
	while (atomic_load_explicit(&ring->tail, memory_order_acquire) != n + 1)
		cpu_relax();
	t1 = now_ns();
	*next = n + 1;
	return (double)(n + 1 - first) * (double)bytes * 1e3 / (double)(t1 - t0);
}

static void measure_spin_ring(size_t bytes, int after, double line)
{
	progress("spin-ring", "cross-cpu", bytes);
	size_t stride = round_line(8 + bytes);
	uint64_t slots = SPIN_MIN_SLOTS;
	while (slots * 2 * stride <= SPIN_RING_BYTES && slots * 2 <= MAX_SLOTS)
		slots *= 2;
	size_t region = sizeof(struct spin_ring) + slots * stride;
	pin(cpu_a);
	struct spin_ring *ring = shared_anonymous(region, "spin ring");
	unsigned char *message = alloc_buffer(bytes);
	fill(message, bytes, 1);
	pid_t pid = fork_partner(cpu_b);
	if (pid == 0)
		spin_consume(ring, stride, slots - 1, bytes);
	int stores = 3;
#if !defined(__x86_64__)
	stores = 2; /* no streaming stores here */
#endif
	double rate[N_STORES][64] = { { 0 } };
	uint64_t next = 0;
	for (int rep = -1; rep < opt.reps; rep++) /* repetition -1 warms up */
		for (int s = 0; s < stores; s++) {
			double mb = spin_produce(ring, stride, slots - 1, bytes, s, message, &next);
			if (rep >= 0)
				rate[s][rep] = mb;
		}
	partner_may_end();
	atomic_store(spin_sequence(ring, stride, next, slots - 1), (unsigned long long)(next + 1) << 2 | QUIT);
	atomic_store(&ring->head, next + 1);
	end_partner(pid, "spin-ring");
	free(message);
	unmap(ring, region, "spin ring");
	struct result *r = new_result("spin-ring", CROSS, bytes);
	r->after = after;
	r->line_ns = line;
	/* The best repetition of each way, not the median: a limit is what
	 * the machine was seen to do, and a spinning pair is slowed down by
	 * every preemption of either side. */
	for (int s = 0; s < stores; s++) {
		double mb = 0;
		for (int rep = 0; rep < opt.reps; rep++)
			mb = rate[s][rep] > mb ? rate[s][rep] : mb;
		if (mb > r->mb_per_s) {
			r->mb_per_s = mb;
			r->store = s;
		}
	}
	r->msgs_per_s = r->mb_per_s * 1e6 / (double)bytes;
}

/* --- one process ------------------------------------------------------ */

static volatile unsigned char memcpy_sink;

static void measure_memcpy(size_t bytes, int after)
{
	progress("memcpy", "same-cpu", bytes);
	pin(cpu_a);
	unsigned char *src = alloc_buffer(bytes), *dst = alloc_buffer(bytes);
	memset(src, 1, bytes);
	double rate[64] = { 0 }; /* opt.reps <= 63 are filled */
	for (int rep = -1; rep < opt.reps; rep++) { /* repetition -1 warms up */
		uint64_t copies = 0, t0 = now_ns(), ns;
		do {
			memcpy(dst, src, bytes);
			memcpy_sink = dst[copies++ % bytes];
			ns = now_ns() - t0;
		} while (ns < opt.rep_ns / 2);
		if (rep >= 0)
			rate[rep] = (double)bytes * (double)copies * 1e3 / (double)ns;
	}
	free(src);
	free(dst);
	struct result *r = new_result("memcpy", SAME, bytes);
	r->after = after;
	r->mb_per_s = median(rate, opt.reps);
}

/* What fill and verify alone manage at this size, in one process. */
enum { PATTERN_BATCH = 64 };
static void measure_pattern(const char *which, size_t bytes, int after)
{
	progress(which, "same-cpu", bytes);
	pin(cpu_a);
	unsigned char *buf = alloc_buffer(bytes);
	int checking = strcmp(which, "checker") == 0;
	fill(buf, bytes, 7);
	double rate[64] = { 0 }; /* opt.reps <= 63 are filled */
	for (int rep = -1; rep < opt.reps; rep++) { /* repetition -1 warms up */
		/* The clock is read every PATTERN_BATCH messages: reading it
		 * costs more than filling or checking 64 bytes. */
		uint64_t n = 0, t0 = now_ns(), ns;
		do {
			for (int k = 0; k < PATTERN_BATCH; k++, n++)
				if (checking)
					verify(buf, bytes, 7);
				else
					fill(buf, bytes, n);
			ns = now_ns() - t0;
		} while (ns < opt.rep_ns / 4);
		if (rep >= 0)
			rate[rep] = (double)n * 1e9 / (double)ns;
	}
	free(buf);
	struct result *r = new_result(which, SAME, bytes);
	r->after = after;
	r->msgs_per_s = median(rate, opt.reps);
	r->mb_per_s = r->msgs_per_s * (double)bytes / 1e6;
}

/* after: 0 before the mechanisms, 1 between the kernel transports and the
 * rings (the cache line and the spin ring only), 2 after everything. */
void measure_references(int after, uint32_t *rtt)
{
	if (opt.no_references)
		return;
	for (int p = 0; p < 2; p++)
		if (opt.placements[p])
			measure_cacheline(p, after, rtt);
	if (opt.placements[CROSS]) {
		double line = line_now(NULL);
		for (int i = 0; i < opt.n_sizes; i++)
			measure_spin_ring(opt.sizes[i], after, line);
	}
	if (after == 1)
		return; /* between: only what the rings are compared with */
	measure_memcpy((size_t)64 * 1024, after);
	measure_memcpy((size_t)64 * 1024 * 1024, after);
	if (after == 0)
		for (int i = 0; i < opt.n_sizes; i++) {
			measure_pattern("generator", opt.sizes[i], after);
			measure_pattern("checker", opt.sizes[i], after);
		}
}
