/*
 * ipc-bench: every IPC mechanism of the examples, side by side, measured
 * against two physical limits of the machine it runs on.
 *
 *   make bench                                # build bench/ipc-bench, run it (~30 s)
 *   bench/ipc-bench --quick                   # a few seconds
 *   bench/ipc-bench --csv > bench/results.csv # for tools; `make plot` draws it
 *
 * Two processes, A (the parent, which times) and B (its child), exchange
 * messages through each mechanism: a 64-byte ping-pong for the round-trip
 * latency, then one-way streams (A to B) of each message size for the
 * throughput. The references: one cache line bounced between the two
 * processes (the floor for any latency) and single-thread memcpy (the
 * ceiling for any throughput), measured before and after the mechanisms.
 * Every blocking mechanism is measured with both processes pinned to one
 * CPU and to two. Watch for: what waking a process on the other CPU costs.
 *
 * What is verified: every byte of every message. Word i of message number
 * seq holds seq * GOLDEN + i, and the receiver compares every word (a
 * branch-free loop the compiler vectorizes), so a lost, repeated, reordered,
 * torn or stale message is detected and the run stops with an error.
 */

/* _GNU_SOURCE: sched_setaffinity and the CPU_SET macros are GNU extensions,
 * and the futex of the atomic ring is reached through syscall(SYS_futex). */
#define _GNU_SOURCE

#ifndef __linux__
#error "ipc-bench pins processes with sched_setaffinity and sleeps on a futex: Linux only"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "ipc-bench"
#define GOLDEN 0x9E3779B97F4A7C15u /* any odd constant spreads seq over all bits */

enum {
	LINE = 64,              /* cache line: the unit the rings align to */
	PING_BYTES = 64,        /* the round-trip message, and the stream's handshake */
	MAX_SIZES = 8,
	MAX_BYTES = 1 << 20,    /* largest message --sizes accepts */
	MAX_SLOTS = 1024,       /* ring capacity for the smallest messages */
	BIG_SLOTS = 16,         /* ring capacity for the largest message of the run, at least */
	RING_BYTES = 4 << 20,   /* slot bytes per ring: ~300 us of streaming, see ring_create */
	SHOW_BYTES = 4096,      /* each side of the atomic ring shows its index this often */
	YIELD_SPINS = 100,      /* cache line: a few microseconds, then let the other run */
	MAX_SAMPLES = 1 << 22,  /* round-trip times kept per measurement */
	SAME = 0, CROSS = 1,    /* placements */
};

static void let_partner_speak_first(void);

/* One line on stderr, "program: call object: reason (fix)", then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	let_partner_speak_first();
	if (fix)
		fprintf(stderr, "%s: %s %s: %s (%s)\n", PROGRAM, call, object, reason, fix);
	else
		fprintf(stderr, "%s: %s %s: %s\n", PROGRAM, call, object, reason);
	exit(1);
}

/* ---------------------------------------------------------------------
 * Cleanup. Names are removed as soon as both ends are open, so only a
 * short window holds a named object; System V queues have no name to
 * unlink and live until the pair is done. Only the parent removes.
 */
static pid_t owner_pid;
static volatile pid_t child_pid;
static volatile sig_atomic_t child_may_exit = 1;
static int sysv_queue[2] = { -1, -1 };
enum { NAME_NONE, NAME_PATH, NAME_SHM, NAME_MQ };
static char pending_name[2][64];
static volatile sig_atomic_t pending_kind[2];

/* Called from signal handlers too: every call in it is async-signal-safe
 * except shm_unlink, mq_unlink and msgctl, which on Linux are each a single
 * system call that takes no user-space lock and allocates nothing. Each is
 * best effort: there is nobody left to tell of a failure. */
static void remove_objects(void)
{
	if (getpid() != owner_pid)
		return;
	for (int i = 0; i < 2; i++) {
		if (sysv_queue[i] != -1)
			(void)msgctl(sysv_queue[i], IPC_RMID, NULL); // NOLINT(bugprone-signal-handler,cert-sig30-c)
		sysv_queue[i] = -1;
		int kind = pending_kind[i];
		pending_kind[i] = NAME_NONE;
		if (kind == NAME_PATH)
			(void)unlink(pending_name[i]);
		else if (kind == NAME_SHM)
			(void)shm_unlink(pending_name[i]); // NOLINT(bugprone-signal-handler,cert-sig30-c)
		else if (kind == NAME_MQ)
			(void)mq_unlink(pending_name[i]); // NOLINT(bugprone-signal-handler,cert-sig30-c)
	}
}

/* Ctrl-C, SIGTERM, SIGHUP: clean up, then die of the same signal so the
 * shell sees how we ended. B ends too (PR_SET_PDEATHSIG), and may end
 * first, when its queue goes: that is no failure to report. */
static void on_signal(int sig)
{
	child_may_exit = 1;
	remove_objects();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* B ended while A still needed it: B has said why on stderr already. */
static void on_child_exit(int sig)
{
	(void)sig;
	if (child_may_exit)
		return;
	remove_objects();
	static const char msg[] = PROGRAM ": the partner process ended during a measurement\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) == -1) {
		/* nothing more to try */
	}
	_exit(1);
}

/* When B fails (a wrong message, say), A's next call fails too (EPIPE,
 * end of file): B's message is the cause, A's only its echo. So before A
 * reports an error of its own, it gives B a moment to end; if B does,
 * on_child_exit reports that instead, and the output says what happened. */
static void let_partner_speak_first(void)
{
	if (getpid() != owner_pid || child_pid == 0 || child_may_exit)
		return;
	struct timespec pause = { 0, 200L * 1000 * 1000 };
	(void)nanosleep(&pause, NULL); /* cut short by SIGCHLD: that is the point */
}

/* A descriptor that fails to close was wrong to begin with: say so. */
static void close_checked(int fd, const char *what)
{
	if (close(fd) == -1)
		die("close", what, strerror(errno), NULL);
}

static const char *name_for(int slot, int kind, const char *what)
{
	const char *prefix = kind == NAME_PATH ? "/tmp/" : "/";
	/* 64 bytes hold the prefix, the longest pid and every what: no cut. */
	(void)snprintf(pending_name[slot], sizeof pending_name[slot], "%sipc-bench-%ld-%s",
		       prefix, (long)getpid(), what);
	return pending_name[slot];
}

/* ---------------------------------------------------------------------
 * Time, pinning, the message pattern.
 */
static uint64_t now_ns(void)
{
	struct timespec t;
	(void)clock_gettime(CLOCK_MONOTONIC, &t); /* fails only for an unknown clock */
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) == -1)
		die("sched_setaffinity", "CPU", strerror(errno), NULL);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

static void fill(void *msg, size_t bytes, uint64_t seq)
{
	uint64_t *word = msg, base = seq * GOLDEN;
	for (size_t i = 0; i < bytes / 8; i++)
		word[i] = base + i;
}

static void verify(const void *msg, size_t bytes, uint64_t seq)
{
	const uint64_t *word = msg;
	uint64_t base = seq * GOLDEN, diff = 0;
	for (size_t i = 0; i < bytes / 8; i++)
		diff |= word[i] ^ (base + i);
	if (diff != 0) {
		char what[64];
		(void)snprintf(what, sizeof what, "message %llu of %zu bytes", /* fits in 64 */
			       (unsigned long long)seq, bytes);
		die("verify", what, "wrong content on arrival", "the transport lost or corrupted data");
	}
}

/* ---------------------------------------------------------------------
 * The transports: one small interface, one set of functions per mechanism.
 * A side writes a message into send_buf's memory and passes it on with
 * send; it reads one with recv and hands the memory back with release.
 * That lets the shared-memory rings work in place, as they would in a
 * real program, while the others copy through the kernel.
 */
struct chan;
struct mechanism {
	const char *name;
	const char *note;                               /* under the table */
	int blocks;                                     /* sleeps in the kernel to wait */
	void (*create)(struct chan *);                  /* A, before the fork */
	void (*begin)(struct chan *, size_t bytes);     /* A then B, before each phase */
	void *(*send_buf)(struct chan *, size_t bytes);
	void (*send)(struct chan *, size_t bytes);
	const void *(*recv)(struct chan *, size_t bytes);
	void (*release)(struct chan *);
	int counts_syscalls;                            /* 0: they happen inside libc */
	void (*flush)(struct chan *);                   /* NULL, or: wake a receiver that
							   send may have left asleep */
};

struct ring;
struct chan {
	const struct mechanism *mech;
	int side;                        /* 0: A, 1: B */
	size_t max_bytes;
	struct { int in, out; } end[2];  /* descriptors of each side */
	int in, out;
	mqd_t mq[2];                     /* [0] carries A to B, [1] B to A */
	size_t fragment;                 /* message queues: largest message */
	char *sbuf, *rbuf;               /* for the transports that copy */
	struct ring *ring[2];            /* [0] carries A to B, [1] B to A */
	size_t ring_bytes;
	struct ring *tx, *rx;
	uint32_t head, head_shown, tail_seen, tail, tail_shown, mask, flushed;
	size_t stride;
	uint64_t spin_ns;
	long syscalls;
};

static void *alloc_buffer(size_t bytes)
{
	void *p = aligned_alloc(LINE, (bytes + LINE - 1) / LINE * LINE);
	if (p == NULL)
		die("aligned_alloc", "buffer", strerror(errno), NULL);
	memset(p, 0, bytes);
	return p;
}

/* --- descriptors: pipe, FIFO, stream sockets (byte streams) ---------- */

static void fd_alloc(struct chan *c)
{
	c->sbuf = alloc_buffer(c->max_bytes);
	c->rbuf = alloc_buffer(c->max_bytes + c->fragment);
}

static void *fd_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	return c->sbuf;
}

static void stream_send(struct chan *c, size_t bytes)
{
	const char *p = c->sbuf;
	while (bytes > 0) {
		c->syscalls++;
		ssize_t n = write(c->out, p, bytes);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("write", c->mech->name, strerror(errno), NULL);
		p += n;
		bytes -= (size_t)n;
	}
}

/* A byte stream has no message boundaries: read exactly one message. */
static const void *stream_recv(struct chan *c, size_t bytes)
{
	for (size_t got = 0; got < bytes;) {
		c->syscalls++;
		ssize_t n = read(c->in, c->rbuf + got, bytes - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", c->mech->name, strerror(errno), NULL);
		if (n == 0)
			die("read", c->mech->name, "unexpected end of file", NULL);
		got += (size_t)n;
	}
	return c->rbuf;
}

static void no_release(struct chan *c)
{
	(void)c;
}

static void pipe_create(struct chan *c)
{
	int ab[2], ba[2];
	if (pipe(ab) == -1 || pipe(ba) == -1)
		die("pipe", "pipe", strerror(errno), NULL);
	c->end[0].in = ba[0], c->end[0].out = ab[1];
	c->end[1].in = ab[0], c->end[1].out = ba[1];
	fd_alloc(c);
}

/* Both ends of a FIFO are opened here, the read end first and without
 * waiting, so that the name can be removed before the fork. */
static int open_fifo(int slot, const char *what, int *write_end)
{
	const char *path = name_for(slot, NAME_PATH, what);
	if (mkfifo(path, 0600) == -1)
		die("mkfifo", path, strerror(errno), NULL);
	pending_kind[slot] = NAME_PATH;
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	if (rd == -1)
		die("open", path, strerror(errno), NULL);
	*write_end = open(path, O_WRONLY | O_NOFOLLOW);
	if (*write_end == -1)
		die("open", path, strerror(errno), NULL);
	if (fcntl(rd, F_SETFL, 0) == -1)
		die("fcntl", path, strerror(errno), NULL);
	pending_kind[slot] = NAME_NONE;
	if (unlink(path) == -1)
		die("unlink", path, strerror(errno), NULL);
	return rd;
}

static void fifo_create(struct chan *c)
{
	c->end[1].in = open_fifo(0, "ab.fifo", &c->end[0].out);
	c->end[0].in = open_fifo(1, "ba.fifo", &c->end[1].out);
	fd_alloc(c);
}

static void socketpair_create(struct chan *c, int type)
{
	int sv[2];
	if (socketpair(AF_UNIX, type, 0, sv) == -1)
		die("socketpair", "AF_UNIX", strerror(errno), NULL);
	c->end[0].in = c->end[0].out = sv[0];
	c->end[1].in = c->end[1].out = sv[1];
	fd_alloc(c);
}

static void unix_stream_create(struct chan *c)
{
	socketpair_create(c, SOCK_STREAM);
}

/* A datagram is one message: one send, one recv, and its length checked. */
static void unix_dgram_create(struct chan *c)
{
	socketpair_create(c, SOCK_DGRAM);
	int size = (int)c->max_bytes * 4 + 4096; /* a 64 KiB datagram must fit */
	for (int i = 0; i < 2; i++)
		if (setsockopt(c->end[i].out, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == -1)
			die("setsockopt", "SO_SNDBUF", strerror(errno), NULL);
}

static void dgram_send(struct chan *c, size_t bytes)
{
	ssize_t n;
	do {
		c->syscalls++;
		n = send(c->out, c->sbuf, bytes, 0);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		die("send", c->mech->name, strerror(errno), NULL);
	if ((size_t)n != bytes)
		die("send", c->mech->name, "datagram cut short", NULL);
}

static const void *dgram_recv(struct chan *c, size_t bytes)
{
	ssize_t n;
	do {
		c->syscalls++;
		n = recv(c->in, c->rbuf, c->max_bytes, 0);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		die("recv", c->mech->name, strerror(errno), NULL);
	if ((size_t)n != bytes)
		die("recv", c->mech->name, "datagram of the wrong length", NULL);
	return c->rbuf;
}

/* TCP on loopback: connect completes from the listen backlog, so one
 * process can make both ends before the fork. */
static void tcp_create(struct chan *c)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof addr;
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (listener == -1 || client == -1)
		die("socket", "tcp", strerror(errno), NULL);
	if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
	    listen(listener, 1) == -1 ||
	    getsockname(listener, (struct sockaddr *)&addr, &len) == -1 ||
	    connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
		die("connect", "127.0.0.1", strerror(errno), NULL);
	int server = accept(listener, NULL, NULL);
	if (server == -1)
		die("accept", "127.0.0.1", strerror(errno), NULL);
	if (close(listener) == -1)
		die("close", "tcp listener", strerror(errno), NULL);
	/* Without TCP_NODELAY, Nagle holds a small message back for the ACK
	 * of the previous one: that would measure a timer, not TCP. */
	int one = 1;
	if (setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
	    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
		die("setsockopt", "TCP_NODELAY", strerror(errno), NULL);
	c->end[0].in = c->end[0].out = client;
	c->end[1].in = c->end[1].out = server;
	fd_alloc(c);
}

/* --- message queues: a message larger than the queue allows travels as
 * several queue messages (fragments), each its own system call. -------- */

/* A limit from /proc, or fallback if it cannot be read or is no positive
 * number (strtol, unlike fscanf, says when the text is not one). */
static long read_limit(const char *path, long fallback)
{
	char text[32];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fallback;
	char *line = fgets(text, sizeof text, f);
	(void)fclose(f); /* read only: nothing to lose */
	if (line == NULL)
		return fallback;
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || value <= 0)
		return fallback;
	return value;
}

struct sysv_msg {
	long type;
	char data[]; /* msgsnd wants the payload right after the type */
};

static void sysv_create(struct chan *c)
{
	long msgmax = read_limit("/proc/sys/kernel/msgmax", 8192);
	c->fragment = c->max_bytes < (size_t)msgmax ? c->max_bytes : (size_t)msgmax;
	for (int i = 0; i < 2; i++) {
		sysv_queue[i] = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
		if (sysv_queue[i] == -1)
			die("msgget", "IPC_PRIVATE", strerror(errno), NULL);
	}
	/* The payload starts at a cache line; the type sits just before it. */
	c->sbuf = (char *)alloc_buffer(LINE + c->max_bytes) + LINE;
	c->rbuf = (char *)alloc_buffer(LINE + c->max_bytes) + LINE;
}

static struct sysv_msg *sysv_header(char *payload)
{
	return (struct sysv_msg *)(void *)(payload - sizeof(long));
}

static void sysv_send(struct chan *c, size_t bytes)
{
	int q = sysv_queue[c->side];
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		/* A fragment after the first borrows the 8 bytes before it for
		 * the type; those belong to a fragment already sent. */
		struct sysv_msg *m = sysv_header(c->sbuf + off);
		long saved = m->type;
		m->type = 1;
		int rc;
		do {
			c->syscalls++;
			rc = msgsnd(q, m, n, 0);
		} while (rc == -1 && errno == EINTR);
		m->type = saved;
		if (rc == -1)
			die("msgsnd", "sysv-mq", strerror(errno), NULL);
	}
}

static const void *sysv_recv(struct chan *c, size_t bytes)
{
	int q = sysv_queue[1 - c->side];
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		struct sysv_msg *m = sysv_header(c->rbuf + off);
		long saved = m->type; /* the tail of the previous fragment */
		ssize_t got;
		do {
			c->syscalls++;
			got = msgrcv(q, m, n, 0, 0);
		} while (got == -1 && errno == EINTR);
		if (got == -1)
			die("msgrcv", "sysv-mq", strerror(errno), NULL);
		m->type = saved;
		if ((size_t)got != n)
			die("msgrcv", "sysv-mq", "message of the wrong length", NULL);
	}
	return c->rbuf;
}

static void posix_mq_create(struct chan *c)
{
	/* Unprivileged users may not exceed these; root may, but the figures
	 * should be the ones every user gets. */
	long msg_max = read_limit("/proc/sys/fs/mqueue/msg_max", 10);
	long msgsize_max = read_limit("/proc/sys/fs/mqueue/msgsize_max", 8192);
	c->fragment = c->max_bytes < (size_t)msgsize_max ? c->max_bytes : (size_t)msgsize_max;
	struct mq_attr attr = { .mq_maxmsg = msg_max < 10 ? msg_max : 10,
				.mq_msgsize = (long)c->fragment };
	const char *what[2] = { "ab", "ba" };
	for (int i = 0; i < 2; i++) {
		const char *name = name_for(i, NAME_MQ, what[i]);
		c->mq[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
		if (c->mq[i] == (mqd_t)-1)
			die("mq_open", name, strerror(errno), NULL);
		pending_kind[i] = NAME_MQ;
	}
	for (int i = 0; i < 2; i++) {
		pending_kind[i] = NAME_NONE;
		if (mq_unlink(pending_name[i]) == -1)
			die("mq_unlink", pending_name[i], strerror(errno), NULL);
	}
	fd_alloc(c);
}

static void posix_mq_send(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		int rc;
		do {
			c->syscalls++;
			rc = mq_send(c->mq[c->side], c->sbuf + off, n, 0);
		} while (rc == -1 && errno == EINTR);
		if (rc == -1)
			die("mq_send", "posix-mq", strerror(errno), NULL);
	}
}

static const void *posix_mq_recv(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		ssize_t got;
		do {
			c->syscalls++;
			/* mq_receive wants room for the largest message: rbuf has
			 * one fragment of slack at its end. */
			got = mq_receive(c->mq[1 - c->side], c->rbuf + off, c->fragment, NULL);
		} while (got == -1 && errno == EINTR);
		if (got == -1)
			die("mq_receive", "posix-mq", strerror(errno), NULL);
		if ((size_t)got != n)
			die("mq_receive", "posix-mq", "message of the wrong length", NULL);
	}
	return c->rbuf;
}

/* --- the shared-memory rings ----------------------------------------- *
 * One ring per direction, in one shm_open region. Slot k holds a length
 * word and the message. The index of each side sits on its own cache
 * line, so that a write by one side does not evict what the other reads.
 */
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

static size_t round_line(size_t bytes)
{
	return (bytes + LINE - 1) / LINE * LINE;
}

/* A ring is sized in bytes, not in messages: when a side has to sleep,
 * the ring must hold enough to keep the other side busy while it wakes up
 * (tens of microseconds on a VM, more on a loaded host). 4 MiB is about
 * 300 us of streaming at 12 GB/s and still fits in the L3 cache; 16 slots
 * of 64 KiB (1 MiB) were drained before a woken producer got going. */
static void ring_create(struct chan *c)
{
	size_t largest = round_line(sizeof(struct slot) + c->max_bytes);
	c->ring_bytes = sizeof(struct ring) + ((size_t)BIG_SLOTS * largest > RING_BYTES ?
					       (size_t)BIG_SLOTS * largest : RING_BYTES);
	const char *name = name_for(0, NAME_SHM, "ring");
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		die("shm_open", name, strerror(errno), NULL);
	pending_kind[0] = NAME_SHM;
	if (ftruncate(fd, (off_t)(2 * c->ring_bytes)) == -1)
		die("ftruncate", name, strerror(errno), NULL);
	char *region = mmap(NULL, 2 * c->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);
	/* The mapping outlives the descriptor and the name; the fork shares it. */
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);
	pending_kind[0] = NAME_NONE;
	if (shm_unlink(name) == -1)
		die("shm_unlink", name, strerror(errno), NULL);
	for (int i = 0; i < 2; i++) {
		c->ring[i] = (struct ring *)(void *)(region + i * c->ring_bytes);
		if (sem_init(&c->ring[i]->free_slots, 1, 0) == -1 ||
		    sem_init(&c->ring[i]->used_slots, 1, 0) == -1)
			die("sem_init", name, strerror(errno), NULL);
	}
}

/* Both rings are empty between phases, so A may reshape them for the next
 * message size while B waits for its command: capacity is a power of two
 * (slots of the 64-byte messages stay in a few pages, 64 KiB ones in 16). */
static void ring_begin(struct chan *c, size_t bytes)
{
	size_t largest = bytes > PING_BYTES ? bytes : PING_BYTES;
	c->stride = round_line(sizeof(struct slot) + largest);
	size_t slots = (c->ring_bytes - sizeof(struct ring)) / c->stride;
	size_t capacity = 1;
	while (capacity * 2 <= slots && capacity * 2 <= MAX_SLOTS)
		capacity *= 2;
	c->mask = (uint32_t)capacity - 1;
	c->head = c->head_shown = c->tail_seen = c->tail = c->tail_shown = c->flushed = 0;
	c->tx = c->ring[c->side];
	c->rx = c->ring[1 - c->side];
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
		if (sem_destroy(&r->free_slots) == -1 || sem_destroy(&r->used_slots) == -1 ||
		    sem_init(&r->free_slots, 1, capacity) == -1 ||
		    sem_init(&r->used_slots, 1, 0) == -1)
			die("sem_init", "ring", strerror(errno), NULL);
	}
}

static struct slot *slot(struct chan *c, struct ring *r, uint32_t index)
{
	return (struct slot *)(void *)(r->slots + (size_t)(index & c->mask) * c->stride);
}

/* The length comes from the other process: check it before use. */
static const void *checked_message(struct chan *c, size_t bytes)
{
	struct slot *s = slot(c, c->rx, c->tail);
	if (s->length != bytes)
		die("recv", c->mech->name, "slot holds a message of the wrong length", NULL);
	return s->message;
}

/* The semaphore ring: sem_wait for a free slot, fill it, sem_post it as
 * used; the consumer mirrors that. Each side's index is its own. */
static void sem_wait_checked(sem_t *sem)
{
	while (sem_wait(sem) == -1)
		if (errno != EINTR)
			die("sem_wait", "ring", strerror(errno), NULL);
}

static void *sem_ring_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	sem_wait_checked(&c->tx->free_slots);
	return slot(c, c->tx, c->head)->message;
}

static void sem_ring_send(struct chan *c, size_t bytes)
{
	slot(c, c->tx, c->head++)->length = (uint32_t)bytes;
	if (sem_post(&c->tx->used_slots) == -1)
		die("sem_post", "ring", strerror(errno), NULL);
}

static const void *sem_ring_recv(struct chan *c, size_t bytes)
{
	sem_wait_checked(&c->rx->used_slots);
	return checked_message(c, bytes);
}

static void sem_ring_release(struct chan *c)
{
	c->tail++;
	if (sem_post(&c->rx->free_slots) == -1)
		die("sem_post", "ring", strerror(errno), NULL);
}

/* The atomic ring. Data is ordered by release (publishing) and acquire
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
 * A consumer left asleep with less than half a ring to read must still
 * get it once the producer stops sending: before a side waits, and when
 * it leaves the ring (the harness calls flush), it flushes. A flush
 * records the head in `flushed` and wakes a sleeping consumer; a consumer
 * about to sleep returns at once if the head has moved and equals
 * `flushed`. The same store-then-load pairs make that race-free. */
static long futex(atomic_uint *word, int op, unsigned value)
{
	return syscall(SYS_futex, (void *)word, op, value, NULL, NULL, 0);
}

/* Spin until *word holds want (or, want_change: no longer holds it);
 * 0 when the spin's time ran out first. */
static int spin_until(struct chan *c, atomic_uint *word, uint32_t want, int want_change)
{
	uint64_t start = now_ns();
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
		if (futex(sleeping, FUTEX_WAIT, 1) == -1 && errno != EAGAIN && errno != EINTR)
			die("futex", "FUTEX_WAIT", strerror(errno), NULL);
	}
	atomic_store_explicit(sleeping, 0, memory_order_relaxed);
	return seen;
}

static void wake(struct chan *c, atomic_uint *sleeping)
{
	if (atomic_exchange_explicit(sleeping, 0, memory_order_relaxed)) {
		c->syscalls++;
		if (futex(sleeping, FUTEX_WAKE, 1) == -1)
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
		if (spin_until(c, tail, full, 1))
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
	return slot(c, c->tx, c->head)->message;
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
	struct slot *s = slot(c, c->tx, c->head);
	s->length = (uint32_t)bytes;
	atomic_store_explicit(&s->sequence, c->head + 1, memory_order_release);
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

static const void *spsc_recv(struct chan *c, size_t bytes)
{
	atomic_uint *sequence = &slot(c, c->rx, c->tail)->sequence;
	if (atomic_load_explicit(sequence, memory_order_acquire) != c->tail + 1) {
		/* About to wait: first let the other side see all we have
		 * done, both as a consumer and as a producer (a reply waiting
		 * for a batch would wait for our whole spin). */
		if (c->tail_shown != c->tail)
			show_tail(c);
		spsc_flush(c);
		if (!spin_until(c, sequence, c->tail + 1, 0)) {
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

static const struct mechanism mechanisms[] = {
	{ "pipe", NULL, 1, pipe_create, NULL, fd_send_buf, stream_send, stream_recv, no_release, 1, NULL },
	{ "fifo", NULL, 1, fifo_create, NULL, fd_send_buf, stream_send, stream_recv, no_release, 1, NULL },
	{ "sysv-mq", "messages over msgmax (/proc/sys/kernel/msgmax) travel as several queue messages, rows marked *",
	  1, sysv_create, NULL, fd_send_buf, sysv_send, sysv_recv, no_release, 1, NULL },
	{ "posix-mq", "messages over msgsize_max (/proc/sys/fs/mqueue) travel as several queue messages, rows marked *",
	  1, posix_mq_create, NULL, fd_send_buf, posix_mq_send, posix_mq_recv, no_release, 1, NULL },
	{ "unix-stream", NULL, 1, unix_stream_create, NULL, fd_send_buf, stream_send, stream_recv, no_release, 1, NULL },
	{ "unix-dgram", NULL, 1, unix_dgram_create, NULL, fd_send_buf, dgram_send, dgram_recv, no_release, 1, NULL },
	{ "tcp", NULL, 1, tcp_create, NULL, fd_send_buf, stream_send, stream_recv, no_release, 1, NULL },
	{ "shm-sem-ring", "system calls happen inside sem_wait/sem_post and are not counted",
	  1, ring_create, ring_begin, sem_ring_send_buf, sem_ring_send, sem_ring_recv, sem_ring_release, 0, NULL },
	{ "shm-spsc-ring", NULL, 0, ring_create, ring_begin, spsc_send_buf, spsc_send, spsc_recv, spsc_release, 1,
	  spsc_flush },
};
enum { N_MECHANISMS = sizeof mechanisms / sizeof mechanisms[0] };

/* The options (see usage). */
static struct {
	int csv, quick, reps;
	uint64_t count, rep_ns, spin_ns, corrupt;
	size_t sizes[MAX_SIZES];
	int n_sizes;
	int run[N_MECHANISMS];
	int placements[2];
} opt;

/* ---------------------------------------------------------------------
 * The harness. A drives; B obeys commands sent over a control pipe, so
 * that nothing about the control flow touches the transport under test.
 */
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

static void write_exact(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("write", "control pipe", strerror(errno), NULL);
		p += n;
		len -= (size_t)n;
	}
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
		if (c->mech->begin)
			c->mech->begin(c, cmd.bytes);
		struct rusage before;
		struct usage used;
		if (cmd.phase == PHASE_PINGPONG) {
			usage_start(c, &before);
			for (uint64_t seq = 1; seq <= cmd.count; seq++) {
				receive_message(c, PING_BYTES, seq);
				send_message(c, PING_BYTES, seq);
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
	if (c->mech->begin)
		c->mech->begin(c, bytes);
	struct command cmd = { phase, (uint32_t)bytes, count };
	write_exact(control_to_b[1], &cmd, sizeof cmd);
	if (phase == PHASE_PINGPONG) {
		usage_start(c, &before);
		uint64_t start = now_ns(), t0 = start;
		for (uint64_t seq = 1; seq <= count; seq++) {
			send_message(c, PING_BYTES, seq);
			receive_message(c, PING_BYTES, seq);
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

/* ---------------------------------------------------------------------
 * Options, results, progress.
 */

struct result {
	const char *mechanism;
	int placement;                   /* -1: not applicable (memcpy) */
	size_t bytes;
	double rtt_median, rtt_p99;      /* ns; < 0: not measured */
	double msgs_per_s, mb_per_s;
	double vcsw, ivcsw, syscalls;    /* per message; syscalls < 0: not counted */
	int after;                       /* a reference measured after the mechanisms */
	int fragmented;
};
static struct result results[1024];
static int n_results;
static int cpu_a, cpu_b, n_cpus;
static int steps_done, steps_total;

static struct result *new_result(const char *mechanism, int placement, size_t bytes)
{
	if (n_results == (int)(sizeof results / sizeof results[0]))
		die("record", "result", "too many results", "ask for fewer sizes");
	struct result *r = &results[n_results++];
	*r = (struct result){ mechanism, placement, bytes, -1, -1, -1, -1, -1, -1, -1, 0, 0 };
	return r;
}

static const char *placement_name(int placement)
{
	return placement == CROSS ? "cross-cpu" : "same-cpu";
}

static void progress(const char *what, const char *placement, size_t bytes)
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

static double median(double *v, int n)
{
	if (n < 1)
		return -1; /* not measured */
	qsort(v, (size_t)n, sizeof *v, by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Percentiles of all kept round trips, over all repetitions. */
static void rtt_figures(uint32_t *rtt, uint64_t n, struct result *r)
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

static void measure_pair(const struct mechanism *m, int placement, uint32_t *rtt)
{
	struct chan c = { .mech = m, .spin_ns = opt.spin_ns, .in = -1, .out = -1 };
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
	if (fflush(NULL) == EOF) /* or both processes would flush what is buffered */
		die("fflush", "standard output", strerror(errno), NULL);
	child_may_exit = 0;
	pid_t pid = fork();
	if (pid == -1)
		die("fork", m->name, strerror(errno), NULL);
	if (pid == 0) {
		/* B must not outlive A, whatever ends A. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			die("prctl", "PR_SET_PDEATHSIG", strerror(errno), NULL);
		if (getppid() != owner_pid)
			_exit(1);
		pin(placement == CROSS ? cpu_b : cpu_a);
		c.side = 1;
		close_end(&c, 0);
		c.in = c.end[1].in, c.out = c.end[1].out;
		close_checked(control_to_b[1], "control pipe");
		close_checked(control_to_a[0], "control pipe");
		serve(&c);
		_exit(0);
	}
	child_pid = pid;
	close_end(&c, 1);
	c.in = c.end[0].in, c.out = c.end[0].out;
	close_checked(control_to_b[0], "control pipe");
	close_checked(control_to_a[1], "control pipe");

	/* The round trip, at 64 bytes. */
	progress(m->name, placement_name(placement), PING_BYTES);
	uint64_t count = calibrate(&c, PHASE_PINGPONG, PING_BYTES);
	if (count * (uint64_t)opt.reps > MAX_SAMPLES)
		count = MAX_SAMPLES / (uint64_t)opt.reps;
	for (int rep = 0; rep < opt.reps; rep++)
		run_phase(&c, PHASE_PINGPONG, PING_BYTES, count, rtt + (uint64_t)rep * count);
	struct result *ping = new_result(m->name, placement, PING_BYTES);
	rtt_figures(rtt, count * (uint64_t)opt.reps, ping);

	/* The streams. */
	for (int i = 0; i < opt.n_sizes; i++) {
		size_t bytes = opt.sizes[i];
		progress(m->name, placement_name(placement), bytes);
		struct result *r = bytes == PING_BYTES ? ping : new_result(m->name, placement, bytes);
		count = calibrate(&c, PHASE_STREAM, bytes);
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
	child_may_exit = 1;
	write_exact(control_to_b[1], &quit, sizeof quit);
	int status;
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid", m->name, strerror(errno), NULL);
	child_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("measure", m->name, "the partner process failed", NULL);
	close_checked(control_to_b[1], "control pipe");
	close_checked(control_to_a[0], "control pipe");
	close_end(&c, 0);
	for (int i = 0; i < 2; i++)
		if (sysv_queue[i] != -1 && msgctl(sysv_queue[i], IPC_RMID, NULL) == -1)
			die("msgctl", "IPC_RMID", strerror(errno), NULL);
	sysv_queue[0] = sysv_queue[1] = -1;
	if (m->create == posix_mq_create)
		for (int i = 0; i < 2; i++)
			if (mq_close(c.mq[i]) == -1)
				die("mq_close", m->name, strerror(errno), NULL);
	if (m->create == ring_create) {
		for (int i = 0; i < 2; i++) {
			if (sem_destroy(&c.ring[i]->free_slots) == -1 ||
			    sem_destroy(&c.ring[i]->used_slots) == -1)
				die("sem_destroy", m->name, strerror(errno), NULL);
		}
		if (munmap(c.ring[0], 2 * c.ring_bytes) == -1)
			die("munmap", m->name, strerror(errno), NULL);
	}
	if (m->create == sysv_create) {
		free(c.sbuf - LINE);
		free(c.rbuf - LINE);
	} else {
		free(c.sbuf);
		free(c.rbuf);
	}
}

/* ---------------------------------------------------------------------
 * The references.
 */

/* One cache line, one counter: A writes an odd value, B answers with the
 * next even one. Sharing one CPU, a waiter yields so the other can run. */
static void measure_cacheline(int placement, int after, uint32_t *rtt)
{
	progress("cacheline", placement_name(placement), LINE);
	pin(cpu_a);
	/* fd -1 is what MAP_ANONYMOUS asks for; cppcheck does not know that flag. */
	const int flags = MAP_SHARED | MAP_ANONYMOUS;
	// cppcheck-suppress invalidFunctionArg
	atomic_ullong *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (line == MAP_FAILED)
		die("mmap", "cache line", strerror(errno), NULL);
	atomic_store(line, 0);
	if (fflush(NULL) == EOF) /* or both processes would flush what is buffered */
		die("fflush", "standard output", strerror(errno), NULL);
	child_may_exit = 0;
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "cacheline", strerror(errno), NULL);
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			die("prctl", "PR_SET_PDEATHSIG", strerror(errno), NULL);
		if (getppid() != owner_pid)
			_exit(1);
		pin(placement == CROSS ? cpu_b : cpu_a);
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
	child_pid = pid;
	unsigned long long value = 0;
	uint64_t n_per_rep = opt.quick ? 20000 : 100000, kept = 0;
	for (int rep = 0; rep <= opt.reps; rep++) { /* repetition 0 warms up */
		uint64_t t0 = now_ns(), end = t0 + opt.rep_ns;
		for (uint64_t i = 0; i < n_per_rep && t0 < end && kept < MAX_SAMPLES; i++) {
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
	child_may_exit = 1;
	atomic_store(line, ULLONG_MAX);
	int status;
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid", "cacheline", strerror(errno), NULL);
	child_pid = 0;
	if (munmap(line, 4096) == -1)
		die("munmap", "cache line", strerror(errno), NULL);
	struct result *r = new_result("cacheline", placement, LINE);
	r->after = after;
	rtt_figures(rtt, kept, r);
}

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

static void measure_references(int after, uint32_t *rtt)
{
	for (int p = 0; p < 2; p++)
		if (opt.placements[p])
			measure_cacheline(p, after, rtt);
	measure_memcpy((size_t)64 * 1024, after);
	measure_memcpy((size_t)64 * 1024 * 1024, after);
}

/* ---------------------------------------------------------------------
 * Output.
 */
static const struct result *find(const char *mechanism, int placement, size_t bytes)
{
	const struct result *best = NULL;
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		if (strcmp(r->mechanism, mechanism) == 0 && r->placement == placement && r->bytes == bytes)
			best = r;
	}
	return best;
}

/* The floor is the best cache-line round trip across CPUs (or on the one
 * CPU there is); the ceiling the best memcpy of the largest buffer. */
static double floor_ns(void)
{
	double best = -1;
	int placement = opt.placements[CROSS] ? CROSS : SAME;
	for (int i = 0; i < n_results; i++)
		if (strcmp(results[i].mechanism, "cacheline") == 0 && results[i].placement == placement &&
		    (best < 0 || results[i].rtt_median < best))
			best = results[i].rtt_median;
	return best;
}

static double ceiling_mb(void)
{
	double best = -1;
	for (int i = 0; i < n_results; i++)
		if (strcmp(results[i].mechanism, "memcpy") == 0 && results[i].bytes == (size_t)64 * 1024 * 1024 &&
		    results[i].mb_per_s > best)
			best = results[i].mb_per_s;
	return best;
}

/* One CSV field: empty where a figure does not apply. */
static void csv_number(double value, int decimals, int last)
{
	if (value >= 0)
		printf("%.*f", decimals, value);
	putchar(last ? '\n' : ',');
}

static void print_csv(void)
{
	printf("mechanism,placement,message_bytes,rtt_median_ns,rtt_p99_ns,msgs_per_s,mb_per_s,"
	       "ctx_switches_per_msg,syscalls_per_msg\n");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		printf("%s,%s,%zu,", r->mechanism, placement_name(r->placement), r->bytes);
		csv_number(r->rtt_median, 0, 0);
		csv_number(r->rtt_p99, 0, 0);
		csv_number(r->msgs_per_s, 0, 0);
		csv_number(r->mb_per_s, 1, 0);
		csv_number(r->vcsw < 0 ? -1 : r->vcsw + r->ivcsw, 4, 0);
		csv_number(r->syscalls, 3, 1);
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

static void print_table(void)
{
	double floor = floor_ns(), ceiling = ceiling_mb();
	printf("%-18s %-9s %8s %8s %8s %7s %11s %9s %7s %8s %9s %7s\n", "mechanism", "placement",
	       "bytes", "rtt_med", "rtt_p99", "x_floor", "msgs/s", "MB/s", "memcpy%",
	       "vcsw/msg", "ivcsw/msg", "sys/msg");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		int reference = !strcmp(r->mechanism, "cacheline") || !strcmp(r->mechanism, "memcpy");
		char name[32];
		(void)snprintf(name, sizeof name, "%s%s", r->mechanism, /* 32 > longest + " (before)" */
			 !reference ? "" : r->after ? " (after)" : " (before)");
		printf("%-18s %-9s %8zu", name,
		       strcmp(r->mechanism, "memcpy") ? placement_name(r->placement) : "-", r->bytes);
		cell(r->rtt_median, 8, 0);
		cell(r->rtt_p99, 8, 0);
		cell(r->rtt_median >= 0 && floor > 0 ? r->rtt_median / floor : -1, 7, 1);
		cell(r->msgs_per_s, 11, 0);
		cell(r->mb_per_s, 9, 0);
		cell(r->mb_per_s >= 0 && ceiling > 0 ? 100 * r->mb_per_s / ceiling : -1, 7, 1);
		cell(r->vcsw, 8, 4);
		cell(r->ivcsw, 9, 4);
		cell(r->syscalls, 7, 2);
		printf("%s\n", r->fragmented ? " *" : "");
	}
	printf("\nbefore/after: the references, measured before and after the mechanisms.\n");
	printf("rtt: 64-byte round trip, median and 99th percentile; x_floor: median / best cache-line\n     round trip (%.0f ns). msgs/s, MB/s: one-way stream, median of the repetitions.\n", floor);
	printf("memcpy%%: MB/s as a percentage of the best memcpy of a 64 MiB buffer (%.0f MB/s).\n", ceiling);
	printf("vcsw, ivcsw: voluntary and involuntary context switches of both processes.\n");
	for (int i = 0; i < N_MECHANISMS; i++)
		if (opt.run[i] && mechanisms[i].note)
			printf("%s: %s.\n", mechanisms[i].name, mechanisms[i].note);
}

static void print_targets(void)
{
	const struct result *spsc = find("shm-spsc-ring", CROSS, PING_BYTES);
	const struct result *pipe64 = find("pipe", CROSS, PING_BYTES);
	const struct result *spsc64k = find("shm-spsc-ring", CROSS, 65536);
	const struct result *sem64k = find("shm-sem-ring", CROSS, 65536);
	const struct result *pipe64k = find("pipe", CROSS, 65536);
	double floor = floor_ns(), ceiling = ceiling_mb();
	printf("\ntargets (cross-cpu):\n");
	if (spsc && floor > 0)
		printf("  spsc ring round trip / cache-line round trip: %.2f (target <= 3, stretch <= 2)\n",
		       spsc->rtt_median / floor);
	if (spsc && pipe64)
		printf("  pipe round trip / spsc ring round trip: %.0f (target >= 100)\n",
		       pipe64->rtt_median / spsc->rtt_median);
	if (spsc && pipe64 && spsc->msgs_per_s > 0 && pipe64->msgs_per_s > 0)
		printf("  64 B messages/s, spsc ring / pipe: %.1f (target >= 10)\n",
		       spsc->msgs_per_s / pipe64->msgs_per_s);
	if (spsc64k && ceiling > 0)
		printf("  64 KiB spsc ring MB/s / memcpy 64 MiB MB/s: %.2f (target >= 0.5)\n",
		       spsc64k->mb_per_s / ceiling);
	double worst = -1;
	for (int i = 0; i < n_results; i++)
		if (strcmp(results[i].mechanism, "shm-spsc-ring") == 0 && results[i].vcsw >= 0 &&
		    results[i].placement == CROSS &&
		    results[i].vcsw + results[i].ivcsw > worst)
			worst = results[i].vcsw + results[i].ivcsw;
	if (worst >= 0)
		printf("  spsc ring context switches per streamed message, worst size: %.4f (target < 0.01)\n",
		       worst);
	if (sem64k && pipe64k)
		printf("  64 KiB MB/s, semaphore ring / pipe: %.1f (target >= 4)\n",
		       sem64k->mb_per_s / pipe64k->mb_per_s);
}

static void machine_line(FILE *out)
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

/* ---------------------------------------------------------------------
 * main.
 */
static _Noreturn void usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;
	fprintf(out, "usage: %s [--csv] [--quick] [--mechanisms LIST] [--sizes LIST] [--reps N]\n"
		     "       [--count N] [--rep-ms MS] [--spin-us US] [--placement same|cross|both]\n"
		     "       [--corrupt SEQ] [--help]\n",
		PROGRAM);
	if (status != 0)
		exit(status);
	fprintf(out, "\n"
		"Measures, between two processes, the 64-byte round trip and the one-way\n"
		"streaming throughput of each IPC mechanism, against a cache line bounced\n"
		"between two processes and single-thread memcpy.\n\n"
		"  --csv              one CSV row per mechanism, placement and size on stdout\n"
		"  --quick            fewer, shorter repetitions: a few seconds\n"
		"  --mechanisms LIST  comma-separated, from: pipe fifo sysv-mq posix-mq unix-stream\n"
		"                     unix-dgram tcp shm-sem-ring shm-spsc-ring (default: all)\n"
		"  --sizes LIST       streamed message sizes in bytes, multiples of 8 up to %d\n"
		"                     (default: 64,4096,65536)\n"
		"  --reps N           repetitions per figure, median reported (default 5, quick 3)\n"
		"  --count N          messages per repetition (default: what fills --rep-ms)\n"
		"  --rep-ms MS        length of one repetition (default 40, quick 6)\n"
		"  --spin-us US       how long the atomic ring spins before sleeping (default 20)\n"
		"  --placement P      same, cross or both (default both)\n"
		"  --corrupt SEQ      flip a bit in the last byte of streamed message SEQ:\n"
		"                     the run must stop with an error (a test of the checks)\n",
		MAX_BYTES);
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

static void parse(int argc, char *argv[])
{
	opt.reps = -1;
	long rep_ms = -1, spin_us = 20;
	const char *mech_list = NULL, *size_list = "64,4096,65536", *placement = "both";
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
	for (int m = 0; m < N_MECHANISMS; m++)
		opt.run[m] = mech_list == NULL;
	if (mech_list) {
		if (snprintf(copy, sizeof copy, "%s", mech_list) >= (int)sizeof copy)
			usage(2);
		for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int m = 0;
			while (m < N_MECHANISMS && strcmp(mechanisms[m].name, t) != 0)
				m++;
			if (m == N_MECHANISMS)
				usage(2);
			opt.run[m] = 1;
		}
	}
}

int main(int argc, char *argv[])
{
	parse(argc, argv);
	owner_pid = getpid();

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGTERM", strerror(errno), NULL);
	/* A peer that goes away must be an error we report, not a silent
	 * death by SIGPIPE: ignoring it makes write() fail with EPIPE. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);
	sa.sa_handler = on_child_exit;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		die("sigaction", "SIGCHLD", strerror(errno), NULL);
	if (atexit(remove_objects) != 0)
		die("atexit", "remove_objects", "failed", NULL);

	/* The CPUs we may use: the first two of them host the pairs. */
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
	machine_line(opt.csv ? stderr : stdout);

	int n_placements = opt.placements[SAME] + opt.placements[CROSS], n_run = 0;
	for (int m = 0; m < N_MECHANISMS; m++)
		n_run += opt.run[m];
	steps_total = n_run * n_placements * (1 + opt.n_sizes) + 2 * (n_placements + 2);

	uint32_t *rtt = malloc(MAX_SAMPLES * sizeof *rtt);
	if (rtt == NULL)
		die("malloc", "samples", strerror(errno), NULL);

	measure_references(0, rtt);
	for (int m = 0; m < N_MECHANISMS; m++)
		for (int p = 0; p < 2; p++)
			if (opt.run[m] && opt.placements[p])
				measure_pair(&mechanisms[m], p, rtt);
	measure_references(1, rtt);
	free(rtt);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");

	if (opt.csv) {
		print_csv();
	} else {
		print_table();
		print_targets();
	}
	if (fflush(stdout) == EOF)
		die("write", "standard output", strerror(errno), NULL);
	return 0;
}
