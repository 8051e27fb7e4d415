/*
 * harness.c: how one mechanism is measured. A drives; B obeys commands
 * sent over a control pipe, so that nothing about the control flow touches
 * the transport under test. A phase is a 64-byte ping-pong (every round
 * trip timed) or a one-way stream from A to B of one message size; each
 * starts with a warm-up that also sizes the repetitions, and every message
 * is filled and verified word by word (common.c).
 */
#include "ipc-bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

void no_release(struct chan *c)
{
	(void)c;
}

enum { PHASE_PINGPONG, PHASE_STREAM, PHASE_QUIT };
struct command {
	int phase;
	uint32_t bytes;
	uint64_t count;
};
struct usage {
	long voluntary, involuntary, syscalls;
};
struct outcome {
	uint64_t ns;
	struct usage a, b;
};

static int control_to_b[2], control_to_a[2];

/* write() may take only part of the buffer (pipes, sockets, signals):
 * loop until all of it is written. Returns 0, or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len)
{
	const char *next = buf;
	while (len > 0) {
		ssize_t n = write(fd, next, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		next += n;
		len -= (size_t)n;
	}
	return 0;
}

static void write_exact(int fd, const void *buf, size_t len)
{
	if (write_all(fd, buf, len) == -1)
		die("write", "control pipe", strerror(errno), NULL);
}

static int read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "control pipe", strerror(errno), NULL);
		if (n == 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void usage_start(struct chan *c, struct rusage *before)
{
	getrusage(RUSAGE_SELF, before);
	c->syscalls = 0;
}

static struct usage usage_since(struct chan *c, const struct rusage *before)
{
	struct rusage after;
	getrusage(RUSAGE_SELF, &after);
	return (struct usage){ after.ru_nvcsw - before->ru_nvcsw,
			       after.ru_nivcsw - before->ru_nivcsw, c->syscalls };
}

static void send_message(struct chan *c, size_t bytes, uint64_t seq)
{
	fill(c->mech->send_buf(c, bytes), bytes, seq);
	c->mech->send(c, bytes);
}

static void receive_message(struct chan *c, size_t bytes, uint64_t seq)
{
	verify(c->mech->recv(c, bytes), bytes, seq);
	c->mech->release(c);
}

/* A side is done with the transport for this phase: what it sent must
 * reach a receiver even if it sleeps (the atomic ring wakes a sleeping
 * consumer in batches). */
static void done_sending(struct chan *c)
{
	if (c->mech->flush)
		c->mech->flush(c);
}

/* B: echo each ping; count a stream, then acknowledge it. */
static void serve(struct chan *c)
{
	struct command cmd;
	while (read_exact(control_to_b[0], &cmd, sizeof cmd) == 0 && cmd.phase != PHASE_QUIT) {
		c->pingpong = cmd.phase == PHASE_PINGPONG;
		if (c->mech->begin)
			c->mech->begin(c, cmd.bytes);
		struct rusage before;
		struct usage used;
		if (cmd.phase == PHASE_PINGPONG) {
			usage_start(c, &before);
			for (uint64_t seq = 1; seq <= cmd.count; seq++) {
				receive_message(c, cmd.bytes, seq);
				send_message(c, cmd.bytes, seq);
			}
			done_sending(c);
			used = usage_since(c, &before);
		} else {
			/* The handshake (see run_phase): counting starts once A
			 * is known to be running. */
			receive_message(c, PING_BYTES, 0);
			send_message(c, PING_BYTES, 0);
			receive_message(c, PING_BYTES, 0);
			usage_start(c, &before);
			for (uint64_t seq = 1; seq <= cmd.count; seq++)
				receive_message(c, cmd.bytes, seq);
			send_message(c, PING_BYTES, cmd.count + 1);
			done_sending(c);
			used = usage_since(c, &before);
		}
		write_exact(control_to_a[1], &used, sizeof used);
	}
}

/* A: one phase, B doing its half. Round-trip times go to rtt[]. */
static struct outcome run_phase(struct chan *c, int phase, size_t bytes, uint64_t count,
				uint32_t *rtt)
{
	struct outcome out;
	struct rusage before;
	c->pingpong = phase == PHASE_PINGPONG;
	if (c->mech->begin)
		c->mech->begin(c, bytes);
	struct command cmd = { phase, (uint32_t)bytes, count };
	write_exact(control_to_b[1], &cmd, sizeof cmd);
	if (phase == PHASE_PINGPONG) {
		usage_start(c, &before);
		uint64_t start = now_ns(), t0 = start;
		for (uint64_t seq = 1; seq <= count; seq++) {
			send_message(c, bytes, seq);
			receive_message(c, bytes, seq);
			uint64_t t1 = now_ns();
			if (rtt)
				rtt[seq - 1] = (uint32_t)(t1 - t0 < UINT32_MAX ? t1 - t0 : UINT32_MAX);
			t0 = t1;
		}
		out.ns = t0 - start;
	} else {
		/* The handshake, three messages: B comes back from its command
		 * pipe for the first, and A may have slept waiting for the reply.
		 * The third reaches B from an A that is running and about to
		 * stream, so the timed phase measures both sides running, not
		 * their waking up. */
		send_message(c, PING_BYTES, 0);
		receive_message(c, PING_BYTES, 0);
		send_message(c, PING_BYTES, 0);
		usage_start(c, &before);
		uint64_t start = now_ns();
		for (uint64_t seq = 1; seq <= count; seq++) {
			unsigned char *message = c->mech->send_buf(c, bytes);
			fill(message, bytes, seq);
			if (seq == opt.corrupt)
				message[bytes - 1] ^= 1; /* proves the check reaches the last byte */
			c->mech->send(c, bytes);
		}
		receive_message(c, PING_BYTES, count + 1);
		out.ns = now_ns() - start;
	}
	done_sending(c);
	out.a = usage_since(c, &before);
	if (read_exact(control_to_a[0], &out.b, sizeof out.b) == -1)
		die("read", "control pipe", "the partner process ended", NULL);
	return out;
}


/* --- results, progress ------------------------------------------------ */
struct result results[MAX_RESULTS];
int n_results;
int cpu_a, cpu_b, n_cpus;
int steps_done, steps_total;

struct result *new_result(const char *mechanism, int placement, size_t bytes)
{
	if (n_results == MAX_RESULTS)
		die("record", "result", "too many results", "ask for fewer sizes");
	struct result *r = &results[n_results++];
	*r = (struct result){ .mechanism = mechanism, .placement = placement, .bytes = bytes,
			      .rtt_median = -1, .rtt_p99 = -1, .msgs_per_s = -1, .mb_per_s = -1,
			      .vcsw = -1, .ivcsw = -1, .syscalls = -1, .line_ns = -1,
			      .line_median = -1, .store = -1 };
	return r;
}

const char *placement_name(int placement)
{
	return placement == CROSS ? "cross-cpu" : "same-cpu";
}

void progress(const char *what, const char *placement, size_t bytes)
{
	steps_done++;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K%s: [%d/%d] %s %s %zu B", PROGRAM, steps_done, steps_total,
			what, placement, bytes);
	else
		fprintf(stderr, "%s: [%d/%d] %s %s %zu B\n", PROGRAM, steps_done, steps_total,
			what, placement, bytes);
}

static int by_value(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return (a > b) - (a < b);
}

static int by_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

double median(double *v, int n)
{
	if (n < 1)
		return -1; /* not measured */
	qsort(v, (size_t)n, sizeof *v, by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Percentiles of all kept round trips, over all repetitions. */
void rtt_figures(uint32_t *rtt, uint64_t n, struct result *r)
{
	if (n == 0)
		return; /* left as not measured */
	qsort(rtt, n, sizeof *rtt, by_value);
	uint64_t middle = n / 2, p99 = (n * 99 + 99) / 100 - 1;
	r->rtt_median = rtt[middle];
	r->rtt_p99 = rtt[p99];
}

/* Double the count until a phase lasts a quarter of a repetition: that is
 * the warm-up (caches, page faults, scheduler, CPU clocks) and it tells
 * how many messages fill one repetition. */
static uint64_t calibrate(struct chan *c, int phase, size_t bytes)
{
	uint64_t count = 16, ns;
	for (;;) {
		ns = run_phase(c, phase, bytes, count, NULL).ns;
		if (ns >= opt.rep_ns / 4 || count >= ((uint64_t)1 << 40))
			break;
		count *= ns < opt.rep_ns / 64 ? 8 : 2;
	}
	if (opt.count)
		return opt.count;
	uint64_t fit = (uint64_t)((double)count * (double)opt.rep_ns / (double)(ns ? ns : 1));
	return fit > 0 ? fit : 1;
}

/* Close the descriptors of one side (none for queues and rings). */
static void close_end(struct chan *c, int side)
{
	if (c->end[side].in != -1)
		close_checked(c->end[side].in, c->mech->name);
	if (c->end[side].out != -1 && c->end[side].out != c->end[side].in)
		close_checked(c->end[side].out, c->mech->name);
}

/* A round trip of this size, into its row. */
static void round_trip(struct chan *c, size_t bytes, uint32_t *rtt, struct result *r)
{
	progress(c->mech->name, placement_name(c->placement), bytes);
	uint64_t count = calibrate(c, PHASE_PINGPONG, bytes);
	if (count * (uint64_t)opt.reps > MAX_SAMPLES)
		count = MAX_SAMPLES / (uint64_t)opt.reps;
	for (int rep = 0; rep < opt.reps; rep++)
		run_phase(c, PHASE_PINGPONG, bytes, count, rtt + (uint64_t)rep * count);
	rtt_figures(rtt, count * (uint64_t)opt.reps, r);
}

void measure_pair(const struct mechanism *m, int placement, uint32_t *rtt)
{
	struct chan c = { .mech = m, .placement = placement, .spin_ns = opt.spin_ns,
			  .in = -1, .out = -1, .semid = -1 };
	for (int side = 0; side < 2; side++)
		c.end[side].in = c.end[side].out = -1;
	c.max_bytes = PING_BYTES;
	for (int i = 0; i < opt.n_sizes; i++)
		if (opt.sizes[i] > c.max_bytes)
			c.max_bytes = opt.sizes[i];
	c.fragment = c.max_bytes;
	pin(cpu_a); /* before the shared memory is first touched */
	m->create(&c);
	if (pipe(control_to_b) == -1 || pipe(control_to_a) == -1)
		die("pipe", "control pipe", strerror(errno), NULL);
	pid_t pid = fork_partner(placement == CROSS ? cpu_b : cpu_a);
	if (pid == 0) {
		c.side = 1;
		close_end(&c, 0);
		c.in = c.end[1].in, c.out = c.end[1].out;
		close_checked(control_to_b[1], "control pipe");
		close_checked(control_to_a[0], "control pipe");
		serve(&c);
		_exit(0);
	}
	close_end(&c, 1);
	c.in = c.end[0].in, c.out = c.end[0].out;
	close_checked(control_to_b[0], "control pipe");
	close_checked(control_to_a[1], "control pipe");

	/* The rows, in the order of the sizes (a round trip of 64 bytes has
	 * one even if no stream does); then the round trip, at 64 bytes, and
	 * for the rings at 4 KiB too, into the rows of those sizes. */
	struct result *row[MAX_SIZES] = { NULL }, *ping = NULL, *ping4k = NULL;
	int has_ping_size = 0;
	for (int i = 0; i < opt.n_sizes; i++)
		has_ping_size |= opt.sizes[i] == PING_BYTES;
	if (!has_ping_size)
		ping = new_result(m->name, placement, PING_BYTES);
	for (int i = 0; i < opt.n_sizes; i++) {
		row[i] = new_result(m->name, placement, opt.sizes[i]);
		if (opt.sizes[i] == PING_BYTES)
			ping = row[i];
		if (opt.sizes[i] == 4096 && m->ring)
			ping4k = row[i];
	}
	round_trip(&c, PING_BYTES, rtt, ping);
	if (ping4k)
		round_trip(&c, 4096, rtt, ping4k);

	/* The streams. */
	for (int i = 0; i < opt.n_sizes; i++) {
		size_t bytes = opt.sizes[i];
		progress(m->name, placement_name(placement), bytes);
		struct result *r = row[i] ? row[i] : new_result(m->name, placement, bytes); /* made above */
		uint64_t count = calibrate(&c, PHASE_STREAM, bytes);
		double rate[64] = { 0 }; /* opt.reps <= 63 are filled */
		struct usage sum = { 0, 0, 0 };
		for (int rep = 0; rep < opt.reps; rep++) {
			struct outcome o = run_phase(&c, PHASE_STREAM, bytes, count, NULL);
			rate[rep] = (double)count * 1e9 / (double)o.ns;
			sum.voluntary += o.a.voluntary + o.b.voluntary;
			sum.involuntary += o.a.involuntary + o.b.involuntary;
			sum.syscalls += o.a.syscalls + o.b.syscalls;
		}
		double messages = (double)count * opt.reps;
		r->msgs_per_s = median(rate, opt.reps);
		r->mb_per_s = r->msgs_per_s * (double)bytes / 1e6;
		r->vcsw = (double)sum.voluntary / messages;
		r->ivcsw = (double)sum.involuntary / messages;
		r->syscalls = m->counts_syscalls ? (double)sum.syscalls / messages : -1;
		r->fragmented = bytes > c.fragment;
	}

	struct command quit = { PHASE_QUIT, 0, 0 };
	partner_may_end();
	write_exact(control_to_b[1], &quit, sizeof quit);
	int status = reap(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("measure", m->name, "the partner process failed", NULL);
	close_checked(control_to_b[1], "control pipe");
	close_checked(control_to_a[0], "control pipe");
	close_end(&c, 0);
	m->destroy(&c);
}
