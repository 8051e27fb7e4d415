/*
 * 07-ring-consumer: create a ring of slots in POSIX shared memory, with two
 * process-shared semaphores inside that count the empty and the full slots,
 * and copy what 07-ring-producer puts there to standard output.
 *
 *   ./07-ring-consumer /demo > copy &     # either side may start first
 *   ./07-ring-producer /demo < file
 *
 * NAME defaults to /ipc-07-<uid>. We create the region, and remove its name
 * once the producer has joined: its mapping and ours keep the region alive,
 * so nothing can leak from then on, even if both sides are killed. A region
 * that a killed run left (nobody's lock on it) is replaced. Watch for: the
 * end of the stream is an explicit empty slot, so a producer that dies is
 * never taken for the end. Limit: the semaphores' words belong to the C
 * library and cannot be checked; a process of yours that scribbles on them
 * can hang or abort both sides (the README says what production code does).
 * Tested on Linux, glibc and musl (record locks on shared memory are
 * Linux's, macOS lacks sem_init; see the README).
 */
#define _POSIX_C_SOURCE 200809L

#ifdef __STDC_NO_ATOMICS__
#error "07-ring-consumer needs C11 atomics (<stdatomic.h>), which this compiler lacks"
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "07-ring-consumer"
#define PEER "07-ring-producer"
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024 };
enum { RING_READY = 0x52494e47, RING_JOINED = 0x4a4f494e }; /* "RING", "JOIN" */
enum { CONSUMER_BYTE = 0, PRODUCER_BYTE = 1 }; /* the byte each side locks */

/* The region, the same in 07-ring-producer.c; its checked size pins the layout. */
struct region {
	atomic_uint state; /* RING_READY once made, RING_JOINED once claimed */
	sem_t empty;       /* counts the empty slots: the producer waits on it */
	sem_t full;        /* counts the full slots: we wait on it */
	struct {
		uint32_t length;   /* bytes used in data; 0 marks the end of the stream */
		uint32_t sequence; /* 1 in the first slot filled, 2 in the next... */
		unsigned char data[SLOT_SIZE];
	} slots[SLOT_COUNT];
};
/* Only lock-free atomics work between processes (they hold no hidden lock). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

static struct region *create_region(const char *name);
static void replace_stale_region(const char *name);
static void wait_for_producer(struct region *region);
static void wait_for_full_slot(struct region *region);
static int lock_held(int fd, off_t byte);
static int write_all(int fd, const void *buf, size_t len);
static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static void catch_stop_signals(void);
static void on_stop_signal(int sig);
static void clean_up(void);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

static const char *region_name;           /* what clean_up removes, */
static volatile sig_atomic_t must_remove; /* while the name is ours to remove */
static int region_fd = -1; /* open while we run: closing it drops our lock */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	static char default_name[64]; /* static: clean_up may use it after main */
	(void)snprintf(default_name, sizeof default_name, "/ipc-07-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	region_name = name;
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: create the region and its two semaphores; once the producer
	 * has joined, remove the name: the two mappings keep the region. */
	struct region *region = create_region(name);
	wait_for_producer(region);
	must_remove = 0;
	if (shm_unlink(name) == -1 && errno != ENOENT)
		die("shm_unlink", name, strerror(errno), NULL);

	/* Step 2: take a full slot, copy it out, hand it back as empty. Once our
	 * wait returns, all the producer wrote before its sem_post is visible.
	 * The slot is untrusted: its length must fit, and its sequence number
	 * proves that the producer filled it in this round. */
	uint32_t taken = 0;
	for (unsigned out = 0;; out = (out + 1) % SLOT_COUNT) {
		wait_for_full_slot(region);
		uint32_t length = region->slots[out].length;
		if (length > SLOT_SIZE)
			die("mmap", name, "slot length out of range", "the region is corrupt");
		if (region->slots[out].sequence != ++taken)
			die("mmap", name, "slot out of sequence", "the region is corrupt");
		if (length == 0)
			break;
		if (write_all(STDOUT_FILENO, region->slots[out].data, length) == -1) {
			if (errno == EPIPE)
				on_stop_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
		if (sem_post(&region->empty) == -1)
			die("sem_post", name, strerror(errno), NULL);
	}

	/* Step 3: the stream is complete. Hand the last slot back, which lets
	 * the producer exit 0. No sem_destroy: it may still be in sem_timedwait. */
	if (sem_post(&region->empty) == -1)
		die("sem_post", name, strerror(errno), NULL);
	if (munmap(region, sizeof *region) == -1)
		die("munmap", name, strerror(errno), NULL);
	if (close(region_fd) == -1)
		die("close", name, strerror(errno), NULL);
	return 0;
}

/* O_EXCL: the region is new and ours (a stale one is replaced first). We
 * lock our byte, reserve the pages, make both semaphores, and only then
 * store RING_READY with release ordering: a producer that loads it with
 * acquire ordering sees the rest. */
static struct region *create_region(const char *name)
{
	int fd;
	while ((fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1) {
		if (errno != EEXIST)
			die("shm_open", name, strerror(errno), NULL);
		replace_stale_region(name);
	}
	must_remove = 1;
	region_fd = fd;

	/* F_SETLKW: a second consumer may hold it for the moment it takes to
	 * find our region unfinished and refuse it. */
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_start = CONSUMER_BYTE, .l_len = 1 };
	if (fcntl(fd, F_SETLKW, &lock) == -1)
		die("fcntl", name, strerror(errno), NULL);
	/* ftruncate would reserve no page on tmpfs: a store could raise SIGBUS. */
	int error = posix_fallocate(fd, 0, (off_t)sizeof(struct region));
	if (error != 0)
		die("posix_fallocate", name, strerror(error), NULL);
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE, MAP_SHARED,
				     fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);

	if (sem_init(&region->empty, 1, SLOT_COUNT) == -1 || sem_init(&region->full, 1, 0) == -1)
		die("sem_init", name, strerror(errno), NULL);
	atomic_store_explicit(&region->state, RING_READY, memory_order_release);
	return region;
}

/* The name is taken. It is replaced only if it is certainly a ring that a
 * killed run left: ours, of its size and state word, nobody's lock on it.
 * We hold the consumer's lock from the look to the removal, so no other
 * consumer can replace it meanwhile; one that did before (no link left)
 * makes us retry. Anything else is refused and left alone. */
static void replace_stale_region(const char *name)
{
	struct stat st;
	unsigned state = 0; /* the state word comes first in the region */
	int fd = shm_open(name, O_RDWR, 0); /* not O_RDONLY: a FIFO there would block it */
	if (fd == -1 && errno == ENOENT)
		return;
	if (fd == -1)
		die("shm_open", name, strerror(errno), "pass another NAME");
	if (fstat(fd, &st) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (st.st_uid != geteuid())
		die("shm_open", name, "belongs to another user", "pass another NAME");
	/* The lock first: a consumer still making its region holds it. */
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_start = CONSUMER_BYTE, .l_len = 1 };
	if (fcntl(fd, F_SETLK, &lock) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			die("fcntl", name, strerror(errno), NULL);
		die("shm_open", name, "already has a " PROGRAM,
		    "wait for it to end or pass another NAME");
	}
	if (st.st_size == (off_t)sizeof(struct region) && pread(fd, &state, sizeof state, 0) == -1)
		die("pread", name, strerror(errno), NULL);
	if (state != RING_READY && state != RING_JOINED)
		die("shm_open", name, strerror(EEXIST),
		    "not a 07 ring: remove it or pass another NAME");
	if (lock_held(fd, PRODUCER_BYTE))
		die("shm_open", name, "already has a " PEER,
		    "wait for it to end or pass another NAME");
	if (fstat(fd, &st) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (st.st_nlink > 0) {
		say("replacing the region at", name, "left by a killed run", NULL);
		if (shm_unlink(name) == -1 && errno != ENOENT)
			die("shm_unlink", name, strerror(errno), NULL);
	}
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);
}

/* Below: what removes the region when we are stopped early, and what
 * keeps a dead or late partner from hanging us. */

/* The producer joins by storing RING_JOINED once it holds its lock: look
 * every 50 ms, and after a second say why nothing happens. */
static void wait_for_producer(struct region *region)
{
	struct timespec pause = { 0, 50 * 1000000L };
	for (int polls = 1; atomic_load(&region->state) != RING_JOINED; polls++) {
		if (polls == 20)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
		if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
			die("nanosleep", region_name, strerror(errno), NULL);
	}
}

/* sem_wait that cannot hang: a producer killed by SIGKILL never posts
 * again. So wait 200 ms at a time, then ask whether it still holds its
 * lock, which the kernel drops when it ends, however it ends.
 * CLOCK_REALTIME: a clock step only makes one wait shorter or longer. */
static void wait_for_full_slot(struct region *region)
{
	for (;;) {
		struct timespec deadline;
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_sec += (deadline.tv_nsec + 200000000L) / 1000000000L;
		deadline.tv_nsec = (deadline.tv_nsec + 200000000L) % 1000000000L;
		if (sem_timedwait(&region->full, &deadline) == 0)
			return;
		if (errno != ETIMEDOUT && errno != EINTR)
			die("sem_timedwait", region_name, strerror(errno), NULL);
		if (lock_held(region_fd, PRODUCER_BYTE))
			continue;
		if (sem_trywait(&region->full) == 0) /* posted just before it ended */
			return;
		die("sem_timedwait", region_name, PEER " is gone", "the stream was cut short");
	}
}

/* Does another process hold a lock on this byte of the region? */
static int lock_held(int fd, off_t byte)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte,
			      .l_len = 1 };
	if (fcntl(fd, F_GETLK, &lock) == -1)
		die("fcntl", region_name, strerror(errno), NULL);
	return lock.l_type != F_UNLCK;
}

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

/* A descriptor 0, 1 or 2 that was closed when we started is filled with
 * /dev/null opened the other way round: reading or writing it still fails
 * with EBADF as before, and no queue, FIFO or socket of ours can take its
 * number and receive our data or our error lines. */
static void hold_standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) == -1)
			exit(1); /* nowhere to say why: stderr may be closed */
}

/* A portable name is "/" and then 1 to NAME_MAX bytes with no further
 * "/"; "/." and "/.." would name the directory that holds the objects. */
static int valid_name(const char *name)
{
	size_t length = strlen(name);
	return name[0] == '/' && length > 1 && length - 1 <= NAME_MAX &&
	       strchr(name + 1, '/') == NULL && strcmp(name, "/.") != 0 &&
	       strcmp(name, "/..") != 0;
}

/* Every signal whose default action ends the process and that can be
 * caught: each runs clean_up, then kills us as it would have. */
static const int stop_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
	SIGUSR1, SIGSEGV, SIGUSR2, SIGALRM, SIGTERM, SIGXCPU, SIGVTALRM,
	SIGPROF, SIGSYS, SIGPOLL,
#ifdef SIGSTKFLT
	SIGSTKFLT, /* Linux */
#endif
#ifdef SIGPWR
	SIGPWR, /* Linux */
#endif
};

/* A stop signal: clean up, then die of the same signal, so that the shell
 * sees how we ended. signal and raise are async-signal-safe. */
static void on_stop_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch every stop signal, the real-time ones included (their default
 * action ends the process too); ignore SIGPIPE and SIGXFSZ. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigfillset(&sa.sa_mask); /* no second signal interrupts clean_up */
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "stop signals", strerror(errno), NULL);
	/* EINVAL: a signal that a tool keeps for itself (valgrind: SIGRTMAX). */
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			die("sigaction", "real-time signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
}

/* What a stop signal or any exit runs: remove the name while it is ours,
 * before the producer has joined. */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		/* Not on POSIX's async-signal-safe list, but on Linux shm_unlink is
		 * a single unlink of /dev/shm/NAME: no locks, no allocation.
		 * NOLINTNEXTLINE(bugprone-signal-handler,cert-sig30-c) */
		(void)shm_unlink(region_name); /* best effort: nobody is left to tell */
	}
}

/* One line on stderr, "program: call object: reason (fix)". The object may
 * come from the command line: a control byte in the line is shown as \ooo,
 * so that no name can forge a second line. */
static void say(const char *call, const char *object, const char *reason, const char *fix)
{
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s%s%s%s", PROGRAM, call,
		       object, reason, fix ? " (" : "", fix ? fix : "", fix ? ")" : "");
	for (const char *c = line; *c != '\0'; c++) {
		if ((unsigned char)*c < ' ' || *c == '\177')
			(void)fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr);
	}
	(void)putc('\n', stderr);
}

/* say's line, then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(1);
}
