/*
 * ipc-bench: every IPC mechanism of the examples, side by side, measured
 * against the limits of the machine it runs on, in the same run.
 *
 *   make bench                                # build bench/ipc-bench, run it (1-2 min)
 *   bench/ipc-bench --quick                   # about 10 s
 *   bench/ipc-bench --csv > bench/results.csv # for tools; `make plot` draws it
 *
 * Two processes, A (the parent, which times) and B (its child), exchange
 * messages through each mechanism: a ping-pong for the round-trip latency
 * (64 bytes; 4 KiB too for the rings), then one-way streams (A to B) of
 * each message size for the throughput. The references (references.c): a
 * cache line bounced between the two processes (the floor for any round
 * trip), a spinning ring that streams as fast as the machine can (the
 * limit for any cross-process stream), memcpy, and the rates of the
 * message pattern's own generator and checker, measured before, between
 * and after the mechanisms. Every blocking mechanism is measured with both
 * processes pinned to one CPU and to two. Watch for: what waking a process
 * on the other CPU costs, and how far from the limit each ring stays.
 *
 * What is verified: every byte of every message. Word i of message number
 * seq holds seq * GOLDEN + i, and the receiver compares every word, so a
 * lost, repeated, reordered, torn or stale message is detected and the run
 * stops with an error.
 *
 * Linux only (sched_setaffinity, futex, eventfd); tested with glibc and
 * with musl. ipc-bench.h lists the files.
 */
#include "ipc-bench.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SIZES "64,1024,4096,16384,65536,262144,1048576"
#define QUICK_SIZES "64,4096,65536"

extern const struct mechanism mech_pipe, mech_fifo, mech_sysv_mq, mech_posix_mq,
	mech_unix_stream, mech_unix_dgram, mech_unix_seqpacket, mech_tcp, mech_sem_ring,
	mech_spsc_ring, mech_sysv_ring, mech_eventfd_ring;

/* Measured in this order: the kernel's transports, then the rings. */
const struct mechanism *const mechanisms[] = {
	&mech_pipe, &mech_fifo, &mech_sysv_mq, &mech_posix_mq, &mech_unix_stream,
	&mech_unix_dgram, &mech_unix_seqpacket, &mech_tcp,
	&mech_sem_ring, &mech_spsc_ring, &mech_sysv_ring, &mech_eventfd_ring,
};
const int n_mechanisms = sizeof mechanisms / sizeof mechanisms[0];
_Static_assert(sizeof mechanisms / sizeof mechanisms[0] <= N_MECHANISMS_MAX, "too many mechanisms");

struct options opt;

static void parse(int argc, char *argv[]);
static void find_cpus(void);
static void measure_ring(const struct mechanism *m, int placement, uint32_t *rtt);

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	parse(argc, argv);
	watch_partner();
	catch_stop_signals();
	find_cpus();
	machine_line(opt.csv ? stderr : stdout);

	int n_placements = opt.placements[SAME] + opt.placements[CROSS], has4k = 0, steps = 0;
	for (int i = 0; i < opt.n_sizes; i++)
		has4k |= opt.sizes[i] == 4096;
	for (int m = 0; m < n_mechanisms; m++)
		if (opt.run[m])
			steps += n_placements * (1 + opt.n_sizes + (mechanisms[m]->ring && has4k));
	int reference_steps = n_placements + (opt.placements[CROSS] ? opt.n_sizes : 0);
	if (!opt.no_references)
		steps += 3 * reference_steps + 2 * 2 + 2 * opt.n_sizes;
	steps_total = steps;

	uint32_t *rtt = malloc(MAX_SAMPLES * sizeof *rtt);
	if (rtt == NULL)
		die("malloc", "samples", strerror(errno), NULL);

	measure_references(0, rtt);
	for (int m = 0; m < n_mechanisms; m++)
		for (int p = 0; p < 2; p++)
			if (opt.run[m] && opt.placements[p] && !mechanisms[m]->ring)
				measure_pair(mechanisms[m], p, rtt);
	measure_references(1, rtt);
	for (int m = 0; m < n_mechanisms; m++)
		for (int p = 0; p < 2; p++)
			if (opt.run[m] && opt.placements[p] && mechanisms[m]->ring)
				measure_ring(mechanisms[m], p, rtt);
	measure_references(2, rtt);
	free(rtt);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");

	if (opt.csv) {
		print_csv();
	} else {
		print_table();
		print_targets();
	}
	/* printf only fills a buffer: the output is written (or fails, on a
	 * full disk or /dev/full) when it is flushed, or earlier, at a
	 * newline, and then only the stream's error flag remembers it (musl). */
	if (fflush(stdout) == EOF || ferror(stdout))
		die("fflush", "standard output", strerror(errno), NULL);
	return 0;
}

/* A ring across CPUs is measured between two quick cache-line round trips.
 * If the host moved the CPUs in between (one is more than twice the
 * other), the figures mix two machines: say so, and measure again, up to
 * twice. Each row keeps the round trip measured just before it. */
static void measure_ring(const struct mechanism *m, int placement, uint32_t *rtt)
{
	for (int attempt = 1;; attempt++) {
		int first = n_results;
		double before_median = -1;
		double before = placement == CROSS ? line_now(&before_median) : -1;
		measure_pair(m, placement, rtt);
		if (placement != CROSS)
			return;
		double after = line_now(NULL);
		for (int i = first; i < n_results; i++) {
			results[i].line_ns = before;
			results[i].line_median = before_median;
		}
		if (before < 0 || after < 0 || (after < 2 * before && before < 2 * after))
			return; /* not measured (--no-references), or the CPUs stayed */
		fprintf(stderr, "%s: the CPUs moved during %s (cache line %.0f ns before, %.0f ns after)%s\n",
			PROGRAM, m->name, before, after, attempt < 3 ? ": measuring it again" : "");
		if (attempt == 3)
			return;
		n_results = first;
		steps_total += (int)(1 + opt.n_sizes) + (m->ring ? 1 : 0);
	}
}

/* The CPUs we may use: the first two of them host the pairs. */
static void find_cpus(void)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) == -1)
		die("sched_getaffinity", "CPU", strerror(errno), NULL);
	n_cpus = CPU_COUNT(&allowed);
	cpu_a = cpu_b = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && cpu_b < 0; cpu++)
		if (CPU_ISSET(cpu, &allowed)) {
			if (cpu_a < 0)
				cpu_a = cpu;
			else
				cpu_b = cpu;
		}
	if (cpu_b < 0)
		opt.placements[CROSS] = 0;
	if (!opt.placements[SAME] && !opt.placements[CROSS])
		die("sched_getaffinity", "CPU", "a single CPU: no cross-cpu placement possible",
		    "use --placement same or both");
}

/* --- options ---------------------------------------------------------- */
static _Noreturn void usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;
	fprintf(out, "usage: %s [--csv] [--quick] [--mechanisms LIST] [--sizes LIST] [--reps N]\n"
		     "       [--count N] [--rep-ms MS] [--spin-us US] [--placement same|cross|both]\n"
		     "       [--store WAY] [--corrupt SEQ] [--no-references] [--help]\n",
		PROGRAM);
	if (status != 0)
		exit(status);
	fprintf(out, "\n"
		"Measures, between two processes, the 64-byte round trip and the one-way\n"
		"streaming throughput of each IPC mechanism, against a cache line bounced\n"
		"between two processes, a spinning ring that streams as fast as this machine\n"
		"can, and single-thread memcpy.\n\n"
		"  --csv              one CSV row per mechanism, placement and size on stdout\n"
		"  --quick            fewer sizes, fewer and shorter repetitions: about 10 s\n"
		"  --mechanisms LIST  comma-separated, from: pipe fifo sysv-mq posix-mq unix-stream\n"
		"                     unix-dgram unix-seqpacket tcp shm-sem-ring shm-spsc-ring\n"
		"                     sysv-sem-ring eventfd-ring (default: all)\n"
		"  --sizes LIST       streamed message sizes in bytes, multiples of 8 up to %d\n"
		"                     (default: %s;\n"
		"                     quick: %s)\n"
		"  --reps N           repetitions per figure, median reported (default 5, quick 3)\n"
		"  --count N          messages per repetition (default: what fills --rep-ms)\n"
		"  --rep-ms MS        length of one repetition (default 40, quick 6)\n"
		"  --spin-us US       how long a ring spins before sleeping (default 20)\n"
		"  --placement P      same, cross or both (default both)\n"
		"  --store WAY        how the rings store a message over 64 B: stores (built in\n"
		"                     the slot), memcpy or streaming (built aside, then copied),\n"
		"                     or auto: across CPUs the spin ring's fastest at that size,\n"
		"                     else stores (default auto)\n"
		"  --corrupt SEQ      flip a bit in the last byte of streamed message SEQ:\n"
		"                     the run must stop with an error (a test of the checks)\n"
		"  --no-references    measure the mechanisms only (for tests: no ratios, no targets)\n",
		MAX_BYTES, DEFAULT_SIZES, QUICK_SIZES);
	exit(0);
}

static long number(const char *text, long low, long high)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < low || value > high)
		usage(2);
	return value;
}

/* --store: a way of storing by its name, or -1 for auto. */
static int store_named(const char *name)
{
	if (strcmp(name, "auto") == 0)
		return -1;
	for (int s = 0; s < N_STORES; s++)
		if (strcmp(name, store_names[s]) == 0)
			return s;
	usage(2);
}

static void parse(int argc, char *argv[])
{
	opt.reps = -1;
	opt.store = -1;
	long rep_ms = -1, spin_us = 20;
	const char *mech_list = NULL, *size_list = NULL, *placement = "both";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(0);
		if (strcmp(a, "--csv") == 0) {
			opt.csv = 1;
			continue;
		}
		if (strcmp(a, "--quick") == 0) {
			opt.quick = 1;
			continue;
		}
		if (strcmp(a, "--no-references") == 0) {
			opt.no_references = 1;
			continue;
		}
		if (value == NULL)
			usage(2); /* every other option takes a value */
		i++;
		if (strcmp(a, "--mechanisms") == 0)
			mech_list = value;
		else if (strcmp(a, "--sizes") == 0)
			size_list = value;
		else if (strcmp(a, "--reps") == 0)
			opt.reps = (int)number(value, 1, 63);
		else if (strcmp(a, "--count") == 0)
			opt.count = (uint64_t)number(value, 1, 1L << 30);
		else if (strcmp(a, "--rep-ms") == 0)
			rep_ms = number(value, 1, 60000);
		else if (strcmp(a, "--spin-us") == 0)
			spin_us = number(value, 0, 1000000);
		else if (strcmp(a, "--placement") == 0)
			placement = value;
		else if (strcmp(a, "--store") == 0)
			opt.store = store_named(value);
		else if (strcmp(a, "--corrupt") == 0)
			opt.corrupt = (uint64_t)number(value, 1, 1L << 30);
		else
			usage(2);
	}
	if (opt.reps < 0)
		opt.reps = opt.quick ? 3 : 5;
	opt.rep_ns = (uint64_t)(rep_ms > 0 ? rep_ms : opt.quick ? 6 : 40) * 1000000;
	opt.spin_ns = (uint64_t)spin_us * 1000;
	if (strcmp(placement, "same") != 0 && strcmp(placement, "cross") != 0 &&
	    strcmp(placement, "both") != 0)
		usage(2);
	opt.placements[SAME] = strcmp(placement, "cross") != 0;
	opt.placements[CROSS] = strcmp(placement, "same") != 0;

	if (size_list == NULL)
		size_list = opt.quick ? QUICK_SIZES : DEFAULT_SIZES;
	char copy[256];
	if (snprintf(copy, sizeof copy, "%s", size_list) >= (int)sizeof copy)
		usage(2); /* a list cut short would be misread */
	for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (opt.n_sizes == MAX_SIZES)
			usage(2);
		long bytes = number(t, 8, MAX_BYTES);
		if (bytes % 8 != 0)
			usage(2);
		opt.sizes[opt.n_sizes++] = (size_t)bytes;
	}
	if (opt.n_sizes == 0)
		usage(2);
	for (int m = 0; m < n_mechanisms; m++)
		opt.run[m] = mech_list == NULL;
	if (mech_list) {
		if (snprintf(copy, sizeof copy, "%s", mech_list) >= (int)sizeof copy)
			usage(2);
		for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int m = 0;
			while (m < n_mechanisms && strcmp(mechanisms[m]->name, t) != 0)
				m++;
			if (m == n_mechanisms)
				usage(2);
			opt.run[m] = 1;
		}
	}
}

