/*
 * iceoryx-peer: the peer of ipc-bench's rings, Eclipse iceoryx (zero-copy
 * shared-memory middleware), measured the way ipc-bench measures: two
 * pinned processes, a 64-byte round trip, then a one-way stream of each
 * size, every word of every message checked on arrival. It prints CSV
 * rows in ipc-bench's columns (mechanism "iceoryx"); bench/peers/run.sh
 * starts RouDi, runs it and ipc-bench, and prints the two side by side.
 *
 *   iceoryx-peer [--quick] [--sizes LIST] [--placement same|cross|both]
 *
 * The zero-copy way: the publisher loans a chunk from RouDi's memory
 * pools, writes the message into it and publishes it; the subscriber
 * takes the chunk, reads it where it is and releases it. Both sides poll
 * (iox_sub_take_chunk in a loop), the fastest way iceoryx offers; its
 * wait sets would sleep instead. Linux only; needs the C binding
 * (Debian: libiceoryx-binding-c-dev) and a running iox-roudi.
 */
#define _GNU_SOURCE /* sched_setaffinity and the CPU_SET macros */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"

#define PROGRAM "iceoryx-peer"
#define GOLDEN 0x9E3779B97F4A7C15u

enum { PING = 1, DATA, LAST, ACK, QUIT, MAX_SIZES = 16, SAMPLES = 1 << 20 };

/* Before each message: what it is, and B's figures in an ACK. */
struct header {
	uint64_t kind, seq, bytes, vcsw, ivcsw;
};

static struct {
	int quick, n_sizes, same, cross;
	uint64_t rep_ns;
	size_t sizes[MAX_SIZES];
} opt;
static uint32_t rtt[SAMPLES];

static _Noreturn void die(const char *call, const char *reason)
{
	fprintf(stderr, "%s: %s: %s\n", PROGRAM, call, reason);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) == -1)
		die("sched_setaffinity", strerror(errno));
}

/* The pattern of ipc-bench: word i of message seq is seq * GOLDEN + i. */
static void fill(uint64_t *word, size_t bytes, uint64_t seq)
{
	for (size_t i = 0; i < bytes / 8; i++)
		word[i] = seq * GOLDEN + i;
}

static void verify(const uint64_t *word, size_t bytes, uint64_t seq)
{
	uint64_t diff = 0;
	for (size_t i = 0; i < bytes / 8; i++)
		diff |= word[i] ^ (seq * GOLDEN + i);
	if (diff != 0)
		die("verify", "wrong content on arrival");
}

/* The queue must hold fewer chunks than RouDi's default pool of that
 * chunk size has (4 MiB chunks: 10 of them). */
static uint64_t queue_for(size_t bytes)
{
	return bytes <= 16000 ? 256 : bytes <= 500000 ? 16 : 4;
}

struct side {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_pub_t pub;
	iox_sub_t sub;
};

/* Publish one message: loan, header, pattern, publish. */
static void send(struct side *s, uint64_t kind, uint64_t seq, size_t bytes, const struct rusage *ru)
{
	void *chunk = NULL;
	while (iox_pub_loan_chunk(s->pub, &chunk, (uint32_t)(sizeof(struct header) + bytes)) !=
	       AllocationResult_SUCCESS)
		sched_yield(); /* the pool is empty until the subscriber releases */
	struct header *h = chunk;
	*h = (struct header){ kind, seq, bytes, 0, 0 };
	if (ru)
		h->vcsw = (uint64_t)ru->ru_nvcsw, h->ivcsw = (uint64_t)ru->ru_nivcsw;
	fill((uint64_t *)(void *)(h + 1), bytes, seq);
	iox_pub_publish_chunk(s->pub, chunk);
}

/* Take the next message, polling; it stays ours until released. */
static const struct header *take(struct side *s)
{
	const void *chunk = NULL;
	enum iox_ChunkReceiveResult r;
	for (unsigned polls = 0;
	     (r = iox_sub_take_chunk(s->sub, &chunk)) == ChunkReceiveResult_NO_CHUNK_AVAILABLE; polls++)
		if (polls > 1000)
			sched_yield(); /* sharing one CPU, the other side must run */
	if (r != ChunkReceiveResult_SUCCESS)
		die("iox_sub_take_chunk", "no chunk");
	const struct header *h = chunk;
	verify((const uint64_t *)(const void *)(h + 1), h->bytes, h->seq);
	return h;
}

static void open_side(struct side *s, const char *instance, const char *out, const char *in,
		      size_t biggest)
{
	iox_pub_options_t po;
	iox_pub_options_init(&po);
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	s->pub = iox_pub_init(&s->pub_storage, "ipc-bench", instance, out, &po);
	iox_sub_options_t so;
	iox_sub_options_init(&so);
	so.queueCapacity = queue_for(biggest);
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	s->sub = iox_sub_init(&s->sub_storage, "ipc-bench", instance, in, &so);
	uint64_t start = now_ns();
	while (!iox_pub_has_subscribers(s->pub) ||
	       iox_sub_get_subscription_state(s->sub) != SubscribeState_SUBSCRIBED) {
		if (now_ns() - start > 10ull * 1000 * 1000 * 1000)
			die("iox_sub_init", "the other side did not subscribe within 10 s");
		usleep(1000);
	}
}

/* B: echo pings, swallow data, acknowledge the last of a stream. */
static _Noreturn void serve(const char *instance, size_t biggest)
{
	struct side s;
	open_side(&s, instance, "ba", "ab", biggest);
	struct rusage ru;
	for (;;) {
		const struct header *h = take(&s);
		uint64_t kind = h->kind, seq = h->seq, bytes = h->bytes;
		iox_sub_release_chunk(s.sub, h);
		if (kind == QUIT)
			break;
		if (kind == PING)
			send(&s, PING, seq, bytes, NULL);
		if (kind == LAST) {
			(void)getrusage(RUSAGE_SELF, &ru);
			send(&s, ACK, seq, 0, &ru);
		}
	}
	iox_sub_deinit(s.sub);
	iox_pub_deinit(s.pub);
	exit(0); /* not _exit: the runtime leaves RouDi in its destructor */
}

static int by_value(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return (a > b) - (a < b);
}

/* A: one placement, its CSV rows. A process may start iceoryx's runtime
 * only once: main runs each placement in a process of its own. */
static void measure(int cross, int cpu_a, int cpu_b)
{
	char instance[32];
	(void)snprintf(instance, sizeof instance, "%ld", (long)getpid());
	size_t biggest = 64;
	for (int i = 0; i < opt.n_sizes; i++)
		if (opt.sizes[i] > biggest)
			biggest = opt.sizes[i];
	if (fflush(stdout) == EOF)
		die("fflush", strerror(errno));
	pid_t pid = fork();
	if (pid == -1)
		die("fork", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			die("prctl", strerror(errno));
		pin(cross ? cpu_b : cpu_a);
		char name[64];
		(void)snprintf(name, sizeof name, "ipc-bench-peer-b-%ld", (long)getpid());
		iox_runtime_init(name);
		serve(instance, biggest);
	}
	pin(cpu_a);
	char name[64];
	(void)snprintf(name, sizeof name, "ipc-bench-peer-a-%ld", (long)getpid());
	iox_runtime_init(name);
	struct side s;
	open_side(&s, instance, "ab", "ba", biggest);
	const char *placement = cross ? "cross-cpu" : "same-cpu";

	/* The round trip: a warm-up of a tenth, then rep_ns of timed trips. */
	uint64_t kept = 0, seq = 0, t0 = now_ns(), start = t0;
	while (kept < SAMPLES && t0 - start < opt.rep_ns * 11 / 10) {
		send(&s, PING, ++seq, 64, NULL);
		iox_sub_release_chunk(s.sub, take(&s));
		uint64_t t1 = now_ns();
		if (t1 - start > opt.rep_ns / 10)
			rtt[kept++] = (uint32_t)(t1 - t0 < UINT32_MAX ? t1 - t0 : UINT32_MAX);
		t0 = t1;
	}
	qsort(rtt, kept, sizeof rtt[0], by_value);

	for (int i = 0; i < opt.n_sizes; i++) {
		size_t bytes = opt.sizes[i];
		double best = -1, csw = 0;
		uint64_t b_before = 0;
		for (int rep = -1; rep < (opt.quick ? 3 : 5); rep++) { /* -1 warms up */
			struct rusage ru0, ru1;
			(void)getrusage(RUSAGE_SELF, &ru0);
			uint64_t n = 0, begin = now_ns();
			do {
				send(&s, DATA, ++seq, bytes, NULL);
				n++;
			} while (n % 16 != 0 || now_ns() - begin < opt.rep_ns);
			send(&s, LAST, ++seq, 64, NULL);
			const struct header *ack = take(&s);
			uint64_t ns = now_ns() - begin;
			uint64_t b_after = ack->vcsw + ack->ivcsw; /* B's, since it started */
			iox_sub_release_chunk(s.sub, ack);
			(void)getrusage(RUSAGE_SELF, &ru1);
			double rate = (double)n * 1e9 / (double)ns;
			if (rep >= 0 && rate > best) /* the best of the repetitions */
				best = rate;
			if (rep >= 0)
				csw = (double)(ru1.ru_nvcsw - ru0.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nivcsw +
					       (long)(b_after - b_before)) / (double)n;
			b_before = b_after;
		}
		printf("iceoryx,%s,%zu,", placement, bytes);
		if (bytes == 64 && kept > 0)
			printf("%u,%u,", rtt[kept / 2], rtt[(kept * 99 + 99) / 100 - 1]);
		else
			printf(",,");
		printf("%.0f,%.1f,%.4f,,,\n", best, best * (double)bytes / 1e6, csw);
	}
	send(&s, QUIT, ++seq, 0, NULL);
	int status;
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("waitpid", "the partner process failed");
	iox_sub_deinit(s.sub);
	iox_pub_deinit(s.pub);
}

int main(int argc, char *argv[])
{
	const char *sizes = NULL, *placement = "both";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			opt.quick = 1;
		else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
			sizes = argv[++i];
		else if (strcmp(argv[i], "--placement") == 0 && i + 1 < argc)
			placement = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--sizes LIST] [--placement same|cross|both]\n", PROGRAM);
			return 2;
		}
	}
	if (sizes == NULL)
		sizes = opt.quick ? "64,4096,65536" : "64,1024,4096,16384,65536,262144,1048576";
	char copy[256];
	(void)snprintf(copy, sizeof copy, "%s", sizes);
	for (char *save, *t = strtok_r(copy, ",", &save); t && opt.n_sizes < MAX_SIZES;
	     t = strtok_r(NULL, ",", &save)) {
		long bytes = strtol(t, NULL, 10);
		if (bytes < 8 || bytes > (1 << 20) || bytes % 8 != 0)
			die("--sizes", "multiples of 8 from 8 to 1048576");
		opt.sizes[opt.n_sizes++] = (size_t)bytes;
	}
	opt.rep_ns = (uint64_t)(opt.quick ? 6 : 40) * 1000 * 1000;
	opt.same = strcmp(placement, "cross") != 0;
	opt.cross = strcmp(placement, "same") != 0;

	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) == -1)
		die("sched_getaffinity", strerror(errno));
	int cpu_a = -1, cpu_b = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && cpu_b < 0; cpu++)
		if (CPU_ISSET(cpu, &allowed)) {
			if (cpu_a < 0)
				cpu_a = cpu;
			else
				cpu_b = cpu;
		}
	for (int cross = 0; cross < 2; cross++) {
		if (!(cross ? opt.cross && cpu_b >= 0 : opt.same))
			continue;
		if (fflush(stdout) == EOF)
			die("fflush", strerror(errno));
		pid_t pid = fork();
		if (pid == -1)
			die("fork", strerror(errno));
		if (pid == 0) {
			measure(cross, cpu_a, cpu_b);
			if (fflush(stdout) == EOF)
				die("fflush", strerror(errno));
			exit(0);
		}
		int status;
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 1; /* it said why */
	}
	return 0;
}
