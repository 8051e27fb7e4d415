/*
 * ipc-bench.h: what the files of the benchmark share. ipc-bench.c says
 * what it measures and lists the mechanisms; bench/README.md says how to
 * read the figures. Every file of the benchmark includes this one first.
 *
 *   ipc-bench.c     options, the table of mechanisms, main
 *   common.c        the error line, cleanup and signals, pinning, the pattern
 *   harness.c       the control protocol between the two processes, a measurement
 *   kernel.c        pipe, FIFO, Unix sockets, TCP
 *   queues.c        System V and POSIX message queues
 *   sem-ring.c      the rings' shared region and how they store a message,
 *                   and 07's semaphore ring
 *   spsc-ring.c     the ring on C11 atomics and a futex
 *   sysv-ring.c     07's design on a System V segment and semaphore set
 *   eventfd-ring.c  a ring whose waiter sleeps on an eventfd
 *   references.c    the machine's own limits: cache line, memcpy, spin ring;
 *                   the ways of storing a message (store_message), and which won
 *   report.c        the table, the CSV and the targets
 */
#ifndef IPC_BENCH_H
#define IPC_BENCH_H

/* _GNU_SOURCE: sched_setaffinity and the CPU_SET macros, syscall() (the
 * futex), eventfd and the MAP_ANONYMOUS flag are beyond POSIX. */
#define _GNU_SOURCE

#ifndef __linux__
#error "ipc-bench pins processes with sched_setaffinity and sleeps on a futex: Linux only"
#endif
/* The Makefile preprocesses this header alone first, so that a compiler
 * without C11 atomics stops the build with this one line. */
#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L || defined(__STDC_NO_ATOMICS__)
#error "ipc-bench needs a C11 compiler with <stdatomic.h> (C11 atomics)"
#else

#include <errno.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define PROGRAM "ipc-bench"
#define GOLDEN 0x9E3779B97F4A7C15u /* any odd constant spreads seq over all bits */

enum {
	LINE = 64,              /* cache line: the unit the rings align to */
	PING_BYTES = 64,        /* the round-trip message, and the stream's handshake */
	MAX_SIZES = 16,
	MAX_BYTES = 1 << 20,    /* largest message --sizes accepts */
	MAX_SLOTS = 1024,       /* ring capacity for the smallest messages */
	BIG_SLOTS = 16,         /* ring capacity for the largest message of the run, at least */
	RING_BYTES = 4 << 20,   /* slot bytes per ring: ~300 us of streaming, see ring_create */
	SHOW_BYTES = 4096,      /* each side of the atomic ring shows its index this often */
	YIELD_SPINS = 100,      /* cache line: a few microseconds, then let the other run */
	MAX_SAMPLES = 1 << 22,  /* round-trip times kept per measurement */
	SAME = 0, CROSS = 1,    /* placements */
	MAX_RESULTS = 2048,
};

/* --- the transports ---------------------------------------------------
 * One small interface, one set of functions per mechanism. A side writes
 * a message into send_buf's memory and passes it on with send; it reads
 * one with recv and hands the memory back with release. That lets the
 * shared-memory rings work in place, as they would in a real program,
 * while the others copy through the kernel. */
struct chan;
struct mechanism {
	const char *name;
	const char *note;                               /* under the table, or NULL */
	int counts_syscalls;                            /* 0: they happen inside libc */
	int ring;                                       /* a ring in shared memory: placement
							   checked, 4 KiB round trip too */
	void (*create)(struct chan *);                  /* A, before the fork */
	void (*begin)(struct chan *, size_t bytes);     /* NULL, or A then B before each phase */
	void *(*send_buf)(struct chan *, size_t bytes);
	void (*send)(struct chan *, size_t bytes);
	const void *(*recv)(struct chan *, size_t bytes);
	void (*release)(struct chan *);
	void (*flush)(struct chan *);                   /* NULL, or: wake a receiver that
							   send may have left asleep */
	void (*destroy)(struct chan *);                 /* A, after B has ended */
};

struct ring;
struct chan {
	const struct mechanism *mech;
	int side;                        /* 0: A, 1: B */
	int placement;                   /* SAME or CROSS */
	size_t max_bytes;
	struct { int in, out; } end[2];  /* descriptors of each side, -1 if none */
	int in, out;                     /* this side's */
	mqd_t mq[2];                     /* [0] carries A to B, [1] B to A */
	size_t fragment;                 /* message queues: largest message */
	char *sbuf, *rbuf;               /* for the transports that copy; the rings:
					    sbuf, a message built aside */
	void *region;                    /* the rings' shared memory */
	struct ring *ring[2];            /* [0] carries A to B, [1] B to A */
	size_t ring_bytes;
	struct ring *tx, *rx;
	int semid;                       /* System V ring: its semaphore set */
	int bell[2][2];                  /* eventfd ring: [direction][0 consumer, 1 producer] */
	uint32_t head, head_shown, tail_seen, tail, tail_shown, mask, flushed;
	int replying;                    /* atomic ring: sent since its last receive */
	size_t stride;
	uint64_t spin_ns;                /* atomic ring: how long to spin before sleeping */
	int sem_spin;                    /* semaphore rings: spin before sleeping */
	int store;                       /* rings: how a message is stored (STORE_*) */
	int pingpong;                    /* this phase is a round trip (set before begin) */
	long syscalls;
};

/* The shared region of the rings: one ring per direction. Slot k holds a
 * header and the message. Each side's index sits on its own cache line,
 * so that a write by one side does not evict what the other reads. */
struct ring {
	/* The atomic ring: the producer's line... */
	_Alignas(LINE) atomic_uint head;    /* messages published */
	atomic_uint consumer_sleeping;      /* set by a consumer about to sleep */
	atomic_uint consumer_wake_at;       /* the head it sleeps for */
	atomic_uint flushed;                /* the head at the producer's last flush */
	/* ...and the consumer's. */
	_Alignas(LINE) atomic_uint tail;    /* messages consumed */
	atomic_uint producer_sleeping;
	atomic_uint producer_wake_at;       /* the tail it sleeps for */
	/* The semaphore ring (07's design): counts of free and used slots. */
	_Alignas(LINE) sem_t free_slots;
	sem_t used_slots;
	_Alignas(LINE) unsigned char slots[];
};

/* Each slot starts with this header; the message follows it. */
struct slot {
	atomic_uint sequence; /* atomic ring: index + 1 of the message it holds */
	uint32_t length;
	unsigned char message[];
};

/* How a ring stores a message: in place, or built aside and
 * copied with memcpy or with streaming stores (see references.c). */
enum { STORE_IN_PLACE, STORE_MEMCPY, STORE_STREAM, N_STORES };
extern const char *const store_names[N_STORES];

/* --- options and results --------------------------------------------- */
enum { N_MECHANISMS_MAX = 16 };
struct options {
	int csv, quick, reps, no_references;
	int store;                       /* --store: STORE_*, or -1: the spin ring's choice */
	uint64_t count, rep_ns, spin_ns, corrupt;
	size_t sizes[MAX_SIZES];
	int n_sizes;
	int run[N_MECHANISMS_MAX];
	int placements[2];
};
extern struct options opt;
extern const struct mechanism *const mechanisms[];
extern const int n_mechanisms;

struct result {
	const char *mechanism;
	int placement;                   /* SAME, CROSS; memcpy and rates: SAME */
	size_t bytes;
	double rtt_median, rtt_p99;      /* ns; < 0: not measured */
	double msgs_per_s, mb_per_s;
	double vcsw, ivcsw, syscalls;    /* per message; syscalls < 0: not counted */
	double line_ns;                  /* cache-line round trip when measured (10th
					    percentile: the placement), or < 0 */
	double line_median;              /* the median of the same trips: x_line, targets */
	int after;                       /* a reference: 0 before, 1 between, 2 after */
	int fragmented;
	int store;                       /* spin ring, atomic ring: STORE_*, or -1 */
};
extern struct result results[MAX_RESULTS];
extern int n_results;
extern int cpu_a, cpu_b, n_cpus;
extern int steps_done, steps_total;

/* --- common.c --------------------------------------------------------- */
_Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
void hold_standard_descriptors(void);
void catch_stop_signals(void);
void watch_partner(void);
void partner_started(pid_t pid);
void partner_may_end(void);
void partner_reaped(void);
void close_checked(int fd, const char *what);
enum { NAME_NONE, NAME_PATH, NAME_SHM, NAME_MQ };
const char *name_for(int slot, int kind, const char *what);
void name_pending(int slot, int kind);
extern int sysv_queue[2];
extern int sysv_shm, sysv_sem;
uint64_t now_ns(void);
void pin(int cpu);
void cpu_relax(void);
void fill(void *msg, size_t bytes, uint64_t seq);
void verify(const void *msg, size_t bytes, uint64_t seq);
void *alloc_buffer(size_t bytes);
void reserve(int fd, const char *name, size_t bytes);
pid_t fork_partner(int cpu);
int reap(pid_t child);

/* --- harness.c -------------------------------------------------------- */
void measure_pair(const struct mechanism *m, int placement, uint32_t *rtt);
struct result *new_result(const char *mechanism, int placement, size_t bytes);
const char *placement_name(int placement);
void progress(const char *what, const char *placement, size_t bytes);
double median(double *v, int n);
void rtt_figures(uint32_t *rtt, uint64_t n, struct result *r);
void no_release(struct chan *c);

/* --- the rings (sem-ring.c, spsc-ring.c) ------------------------------- */
size_t round_line(size_t bytes);
void ring_layout(struct chan *c);
void ring_map(struct chan *c, void *region);
void ring_reset(struct chan *c, size_t bytes);
struct slot *slot(struct chan *c, struct ring *r, uint32_t index);
void *ring_message(struct chan *c);
void ring_store(struct chan *c, size_t bytes);
const void *checked_message(struct chan *c, size_t bytes);
void shm_ring_create(struct chan *c);
void shm_ring_destroy(struct chan *c);

/* --- kernel.c, used by queues.c too ------------------------------------ */
void fd_alloc(struct chan *c);
void fd_destroy(struct chan *c);
void *fd_send_buf(struct chan *c, size_t bytes);

/* --- references.c ----------------------------------------------------- */
void measure_references(int after, uint32_t *rtt);
double line_now(double *median_ns);
int store_for(size_t bytes, int placement);
void store_message(int store, void *to, const void *from, size_t bytes);
int near_placement(double line_ns);

/* --- report.c --------------------------------------------------------- */
const struct result *find(const char *mechanism, int placement, size_t bytes);
void machine_line(FILE *out);
void print_csv(void);
void print_table(void);
void print_targets(void);

#endif /* C11 atomics */
#endif
