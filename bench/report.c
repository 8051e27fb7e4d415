/*
 * report.c: the run's figures, as a table with the targets below it, or
 * as CSV for tools (`make plot`). Every ratio is taken within this run,
 * against a reference measured in the same placement of the two CPUs.
 */
#include "ipc-bench.h"

#include <stdlib.h>
#include <string.h>

static int is(const struct result *r, const char *mechanism)
{
	return strcmp(r->mechanism, mechanism) == 0;
}

static int is_reference(const struct result *r)
{
	return is(r, "cacheline") || is(r, "memcpy") || is(r, "spin-ring") ||
	       is(r, "generator") || is(r, "checker");
}

/* The latest row of a mechanism at a placement and size, or NULL. */
const struct result *find(const char *mechanism, int placement, size_t bytes)
{
	const struct result *found = NULL;
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		if (is(r, mechanism) && r->placement == placement && r->bytes == bytes)
			found = r;
	}
	return found;
}

/* The cache-line round trip a row's median is compared with, itself a
 * median: of the trips measured next to it if there are some (the rings
 * across CPUs), else the run's best cacheline row in the row's placement.
 * (line_ns, the 10th percentile of the trips beside a ring, only tells
 * where the host placed the CPUs.) */
static double line_for(const struct result *r)
{
	if (r->line_median > 0)
		return r->line_median;
	double best = -1;
	for (int i = 0; i < n_results; i++)
		if (is(&results[i], "cacheline") && results[i].placement == r->placement &&
		    (best < 0 || results[i].rtt_median < best))
			best = results[i].rtt_median;
	return best;
}

/* The spin ring a row is compared with: of those at its size, one measured
 * in the same placement (near or far) if the row knows its own, and of
 * those the one measured closest to it in time. */
static const struct result *spin_for(const struct result *r)
{
	const struct result *best = NULL;
	long distance = 0;
	for (int i = 0; i < n_results; i++) {
		const struct result *s = &results[i];
		if (!is(s, "spin-ring") || s->bytes != r->bytes || s->mb_per_s <= 0)
			continue;
		if (r->line_ns > 0 && s->line_ns > 0 &&
		    near_placement(r->line_ns) != near_placement(s->line_ns))
			continue;
		long d = labs((long)(s - r));
		if (best == NULL || d < distance)
			best = s, distance = d;
	}
	return best;
}

static double spin_fraction(const struct result *r)
{
	const struct result *s = spin_for(r);
	if (s == NULL || r->mb_per_s < 0 || is_reference(r) || r->placement != CROSS)
		return -1;
	return r->mb_per_s / s->mb_per_s;
}

/* One CSV field: empty where a figure does not apply. */
static void csv_number(double value, int decimals, int last)
{
	if (value >= 0)
		printf("%.*f", decimals, value);
	putchar(last ? '\n' : ',');
}

void print_csv(void)
{
	printf("mechanism,placement,message_bytes,rtt_median_ns,rtt_p99_ns,msgs_per_s,mb_per_s,"
	       "ctx_switches_per_msg,syscalls_per_msg,spin_ring_fraction,cacheline_rtt_ns\n");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		printf("%s,%s,%zu,", r->mechanism, placement_name(r->placement), r->bytes);
		csv_number(r->rtt_median, 0, 0);
		csv_number(r->rtt_p99, 0, 0);
		csv_number(r->msgs_per_s, 0, 0);
		csv_number(r->mb_per_s, 1, 0);
		csv_number(r->vcsw < 0 ? -1 : r->vcsw + r->ivcsw, 4, 0);
		csv_number(r->syscalls, 3, 0);
		csv_number(spin_fraction(r), 3, 0);
		csv_number(r->line_ns, 0, 1);
	}
}

/* One right-aligned column of the table; "-" where a figure does not apply. */
static void cell(double value, int width, int decimals)
{
	if (value >= 0)
		printf(" %*.*f", width, decimals, value);
	else
		printf(" %*s", width, "-");
}

static const char *when[] = { " (before)", " (between)", " (after)" };

void print_table(void)
{
	printf("%-20s %-9s %8s %8s %8s %6s %11s %8s %6s %9s %8s %9s %7s\n", "mechanism",
	       "placement", "bytes", "rtt_med", "rtt_p99", "x_line", "msgs/s", "MB/s", "x_spin",
	       "line_ns", "vcsw/msg", "ivcsw/msg", "sys/msg");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		char name[40], line[16] = "-";
		(void)snprintf(name, sizeof name, "%s%s", r->mechanism, /* 40 > longest + " (between)" */
			       is_reference(r) ? when[r->after] : "");
		if (r->line_ns > 0)
			(void)snprintf(line, sizeof line, "%.0f %s", r->line_ns,
				       near_placement(r->line_ns) ? "near" : "far");
		printf("%-20s %-9s %8zu", name, placement_name(r->placement), r->bytes);
		cell(r->rtt_median, 8, 0);
		cell(r->rtt_p99, 8, 0);
		double floor = line_for(r);
		cell(r->rtt_median >= 0 && floor > 0 ? r->rtt_median / floor : -1, 6, 1);
		cell(r->msgs_per_s, 11, 0);
		cell(r->mb_per_s, 8, 0);
		cell(spin_fraction(r), 6, 2);
		printf(" %9s", line);
		cell(r->vcsw, 8, 4);
		cell(r->ivcsw, 9, 4);
		cell(r->syscalls, 7, 2);
		if (is(r, "spin-ring") && r->store >= 0)
			printf(" %s", store_names[r->store]);
		printf("%s\n", r->fragmented ? " *" : "");
	}
	printf("\nbefore/between/after: the references, measured before the mechanisms, between the\n"
	       "kernel transports and the rings, and after them all.\n"
	       "rtt: round trip (64 B, and 4 KiB for the rings), median and 99th percentile, in ns;\n"
	       "     x_line: median / the median cache-line round trip measured next to it (else the\n"
	       "     run's best).\n"
	       "msgs/s, MB/s: one-way stream, median of the repetitions; x_spin: MB/s / the spin ring's\n"
	       "     at that size, in the same placement (near or far); line_ns: the cache-line round\n"
	       "     trip across the CPUs measured just before (near < 250 ns, far above).\n"
	       "spin-ring: the fastest of its ways of storing, named at the end of its row.\n"
	       "vcsw, ivcsw: voluntary and involuntary context switches of both processes.\n");
	if (opt.store >= 0)
		printf("--store %s: every ring stored its messages over 64 B with %s, in both\n"
		       "     placements, not the way the spin ring found fastest.\n",
		       store_names[opt.store], store_names[opt.store]);
	for (int i = 0; i < n_mechanisms; i++)
		if (opt.run[i] && mechanisms[i]->note)
			printf("%s: %s.\n", mechanisms[i]->name, mechanisms[i]->note);
}

/* target NAME VALUE: one line "name: value (target)", and whether met. */
static void target(const char *what, double value, const char *goal, int met)
{
	if (value < 0)
		return;
	printf("  %-62s %8.3f  %-8s %s\n", what, value, goal, met ? "met" : "missed");
}

static double ratio(const struct result *a, double b)
{
	return a && a->rtt_median > 0 && b > 0 ? a->rtt_median / b : -1;
}

void print_targets(void)
{
	if (!opt.placements[CROSS] || opt.no_references)
		return;
	const struct result *spsc64 = find("shm-spsc-ring", CROSS, PING_BYTES);
	const struct result *spsc4k = find("shm-spsc-ring", CROSS, 4096);
	const struct result *sem64 = find("shm-sem-ring", CROSS, PING_BYTES);
	const struct result *spsc64k = find("shm-spsc-ring", CROSS, 65536);
	const struct result *sem64k = find("shm-sem-ring", CROSS, 65536);
	printf("\ntargets (cross-cpu, ratios within this run):\n");
	double v;
	v = spsc64 ? ratio(spsc64, line_for(spsc64)) : -1;
	target("atomic ring 64 B round trip / cache-line round trip", v, "<= 1.5", v <= 1.5);
	v = spsc4k ? ratio(spsc4k, line_for(spsc4k)) : -1;
	target("atomic ring 4 KiB round trip / cache-line round trip", v, "<= 2.5", v <= 2.5);
	v = sem64 ? ratio(sem64, line_for(sem64)) : -1;
	target("semaphore ring 64 B round trip / cache-line round trip", v, "<= 3", v <= 3);
	double worst = -1;
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		if (!is(r, "shm-spsc-ring") || r->placement != CROSS)
			continue;
		if (r->bytes != 64 && r->bytes != 4096 && r->bytes != 65536)
			continue;
		char what[80];
		(void)snprintf(what, sizeof what, "atomic ring %zu B stream / spin ring", r->bytes);
		v = spin_fraction(r);
		if (v < 0) /* the host moved the CPUs: no spin ring in this placement */
			printf("  %-62s %8s  %-8s %s\n", what, "-", ">= 0.8", "no reference in its placement");
		target(what, v, ">= 0.8", v >= 0.8);
		if (r->vcsw >= 0 && r->vcsw + r->ivcsw > worst)
			worst = r->vcsw + r->ivcsw;
	}
	target("atomic ring context switches per message, worst of those sizes", worst, "< 0.01",
	       worst < 0.01);
	if (sem64k && spsc64k && spsc64k->mb_per_s > 0) {
		v = sem64k->mb_per_s / spsc64k->mb_per_s;
		target("semaphore ring 64 KiB stream / atomic ring", v, ">= 0.5", v >= 0.5);
		target("semaphore ring voluntary context switches per 64 KiB message", sem64k->vcsw,
		       "< 0.05", sem64k->vcsw < 0.05);
	}
}

void machine_line(FILE *out)
{
	char model[128] = "unknown CPU", line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f != NULL) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "model name", 10) == 0) {
				char *colon = strchr(line, ':');
				if (colon) {
					/* a long model name may be cut: it is only shown */
					(void)snprintf(model, sizeof model, "%s", colon + 2);
					model[strcspn(model, "\n")] = '\0';
				}
				break;
			}
		(void)fclose(f); /* read only: nothing to lose */
	}
	fprintf(out, "%s: %d CPUs usable (%s); ", PROGRAM, n_cpus, model);
	if (opt.placements[CROSS])
		fprintf(out, "same-cpu: both processes on CPU %d, cross-cpu: CPU %d and CPU %d\n",
			cpu_a, cpu_a, cpu_b);
	else if (n_cpus < 2)
		fprintf(out, "a single CPU: only same-cpu placements (both on CPU %d)\n", cpu_a);
	else
		fprintf(out, "same-cpu only, as asked (both on CPU %d)\n", cpu_a);
}

