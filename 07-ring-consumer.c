/*
 * 07-ring-consumer: copy what the producer puts in a ring of fixed-size
 * slots in POSIX shared memory to standard output, synchronized by two
 * process-shared semaphores kept inside the region, then remove it.
 *
 *   ./07-ring-consumer /demo > copy &     # either side may start first
 *   ./07-ring-producer /demo < file
 *
 * NAME defaults to /ipc-07-<uid>. Whichever side starts first creates the
 * region; the consumer removes it, whether it succeeds or not. Watch for:
 * unlike end of file on a pipe, the end of this stream is an explicit empty
 * slot, so a producer killed mid-stream is reported, never mistaken for
 * the end.
 */
#define _POSIX_C_SOURCE 200809L

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
enum { RING_MAGIC = 0x52494e47, RING_VERSION = 1 };
enum { POLL_MS = 50, PEER_CHECK_MS = 200, READY_POLLS = 40, QUIET_POLLS = 20 };

/* The layout both programs share, word for word the same in 07-ring-producer.c. */
struct slot {
	uint32_t length; /* bytes used in data; 0 marks the end of the stream */
	unsigned char data[SLOT_SIZE];
};
struct region {
	atomic_uint magic; /* stored last by the creator: the region is ready */
	uint32_t version, slot_count, slot_size;
	uint32_t head;     /* next slot to fill: only the producer writes it */
	uint32_t tail;     /* next slot to empty: only the consumer writes it */
	atomic_int producer_pid, consumer_pid; /* 0 until that side arrives */
	atomic_uint end_of_stream;
	sem_t empty;       /* counts empty slots: the producer waits on it */
	sem_t full;        /* counts full slots: the consumer waits on it */
	struct slot slots[SLOT_COUNT];
};
/* Only lock-free atomics work between processes (they hold no hidden lock). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

/* One line on stderr, "program: call object: reason (fix)", then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	if (fix)
		fprintf(stderr, "%s: %s %s: %s (%s)\n", PROGRAM, call, object, reason, fix);
	else
		fprintf(stderr, "%s: %s %s: %s\n", PROGRAM, call, object, reason);
	exit(1);
}

/* The region to remove if we stop early; set before any signal can use it. */
static const char *region_name;
static volatile sig_atomic_t must_remove;
static char bus_message[400];
static size_t bus_length;

static void remove_region(void)
{
	if (must_remove) {
		must_remove = 0;
		/* Not on POSIX's async-signal-safe list, but on Linux shm_unlink is
		 * a single unlink of /dev/shm/NAME: no locks, no allocation.
		 * NOLINTNEXTLINE(bugprone-signal-handler,cert-sig30-c) */
		(void)shm_unlink(region_name); /* best effort: nobody is left to tell */
	}
}

/* Ctrl-C, SIGTERM, SIGHUP (and SIGPIPE from standard output, called by
 * hand): clean up, then die of the same signal so the shell sees how we
 * ended. signal and raise are async-signal-safe. */
static void on_signal(int sig)
{
	remove_region();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* SIGBUS: someone truncated the object under our mapping. Report it like
 * any other error instead of crashing; write and _exit are signal-safe. */
static void on_bus(int sig)
{
	(void)sig;
	remove_region();
	ssize_t ignored = write(STDERR_FILENO, bus_message, bus_length);
	(void)ignored;
	_exit(1);
}

/* write() may take only part of the buffer (pipes, signals): loop. */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void pause_briefly(void)
{
	struct timespec pause = { 0, POLL_MS * 1000000L };
	if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
		die("nanosleep", region_name, strerror(errno), NULL);
}

/* The creator sizes the object, fills in the header and both semaphores,
 * and only then stores the magic number, with release ordering: a peer
 * that reads the magic with acquire ordering sees everything before it. */
static struct region *create_region(int fd)
{
	must_remove = 1;
	if (ftruncate(fd, sizeof(struct region)) == -1)
		die("ftruncate", region_name, strerror(errno), NULL);
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", region_name, strerror(errno), NULL);
	region->version = RING_VERSION;
	region->slot_count = SLOT_COUNT;
	region->slot_size = SLOT_SIZE;
	if (sem_init(&region->empty, 1, SLOT_COUNT) == -1 || sem_init(&region->full, 1, 0) == -1)
		die("sem_init", region_name, strerror(errno), NULL);
	atomic_store_explicit(&region->magic, RING_MAGIC, memory_order_release);
	return region;
}

/* The region is untrusted until proven otherwise: our own, the right size
 * (so no access can fall off its end), and initialized by a 07 program.
 * Size 0 or magic 0 means the creator is still at work: wait for it, but
 * for two seconds at most, since a creator killed midway never finishes. */
static struct region *attach_region(int fd)
{
	struct stat st;
	for (int polls = 0;; polls++) {
		if (fstat(fd, &st) == -1)
			die("fstat", region_name, strerror(errno), NULL);
		if (st.st_uid != geteuid())
			die("shm_open", region_name, "belongs to another user", "pass another NAME");
		if (st.st_size == (off_t)sizeof(struct region))
			break;
		if (st.st_size != 0)
			die("fstat", region_name, "wrong size for a 07 ring", "remove it or pass another NAME");
		if (polls == READY_POLLS)
			die("fstat", region_name, "still empty after 2 s", "remove it or pass another NAME");
		pause_briefly();
	}
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", region_name, strerror(errno), NULL);
	for (int polls = 0;; polls++) {
		unsigned magic = atomic_load_explicit(&region->magic, memory_order_acquire);
		if (magic == RING_MAGIC)
			break;
		if (magic != 0)
			die("mmap", region_name, "not a 07 ring (wrong magic number)", "remove it or pass another NAME");
		if (polls == READY_POLLS)
			die("mmap", region_name, "never initialized", "remove it or pass another NAME");
		pause_briefly();
	}
	if (region->version != RING_VERSION || region->slot_count != SLOT_COUNT ||
	    region->slot_size != SLOT_SIZE)
		die("mmap", region_name, "a 07 ring of another version or shape", "remove it or pass another NAME");
	return region;
}

/* Create the region with O_EXCL, or attach to the one the peer created. */
static struct region *open_region(void)
{
	for (;;) {
		int fd = shm_open(region_name, O_RDWR | O_CREAT | O_EXCL, 0600);
		struct region *region;
		if (fd != -1) {
			region = create_region(fd);
		} else if (errno == EEXIST) {
			fd = shm_open(region_name, O_RDWR, 0);
			if (fd == -1 && errno == ENOENT)
				continue; /* removed between the two calls: start over */
			if (fd == -1)
				die("shm_open", region_name, strerror(errno), NULL);
			region = attach_region(fd);
		} else {
			die("shm_open", region_name, strerror(errno), NULL);
		}
		if (close(fd) == -1) /* the mapping stays */
			die("close", region_name, strerror(errno), NULL);
		return region;
	}
}

/* Wait until the peer has written its pid, then remember it (checked: a
 * pid <= 0 given to kill() would signal a whole process group). */
static pid_t wait_for_peer(atomic_int *peer_field)
{
	for (int polls = 0;; polls++) {
		int pid = atomic_load(peer_field);
		if (pid < 0 || pid == getpid())
			die("mmap", region_name, "invalid pid for " PEER, "the region is corrupt");
		if (pid > 0)
			return pid;
		if (polls == QUIET_POLLS)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
		pause_briefly(); /* a signal ends the wait: its handler cleans up */
	}
}

/* Our peer runs as us (the region is 0600), so kill(pid, 0) succeeds while
 * it exists. ESRCH: it is gone. EPERM: that pid now belongs to another
 * user's process, so ours is gone too. (A dead peer its parent has not yet
 * reaped still counts as alive; a shell reaps at once.) */
static int peer_alive(pid_t peer)
{
	return kill(peer, 0) == 0;
}

/* sem_wait that cannot hang: a peer killed by SIGKILL never posts again, so
 * wake every 200 ms to check it still exists. The deadline is on
 * CLOCK_REALTIME: a clock step only makes one wait shorter or longer
 * (sem_clockwait, which takes CLOCK_MONOTONIC, is a GNU extension).
 * Returns -1 once the peer is gone and nothing is left to take. */
static int wait_or_peer_gone(sem_t *sem, pid_t peer)
{
	for (;;) {
		struct timespec deadline;
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_nsec += PEER_CHECK_MS * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec += 1;
			deadline.tv_nsec -= 1000000000L;
		}
		if (sem_timedwait(sem, &deadline) == 0)
			return 0;
		if (errno != ETIMEDOUT && errno != EINTR)
			die("sem_timedwait", region_name, strerror(errno), NULL);
		/* It may have posted just before it ended; after, nobody can. */
		if (!peer_alive(peer))
			return sem_trywait(sem);
	}
}

int main(int argc, char *argv[])
{
	/* static: the atexit handler may use it after main has returned.
	 * 64 bytes hold the longest uid, so snprintf cannot truncate. */
	static char default_name[64];
	(void)snprintf(default_name, sizeof default_name, "/ipc-07-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') ||
	    strlen(name) > NAME_MAX) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	region_name = name;
	/* Written now: the SIGBUS handler cannot format. A very long NAME
	 * only shortens the message. */
	(void)snprintf(bus_message, sizeof bus_message, "%s: mmap %s: Bus error (%s)\n", PROGRAM,
		       name, "the region was truncated by another process");
	bus_length = strlen(bus_message);
	if (atexit(remove_region) != 0)
		die("atexit", "remove_region", "failed", NULL);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
	sa.sa_handler = on_bus;
	if (sigaction(SIGBUS, &sa, NULL) == -1)
		die("sigaction", "SIGBUS", strerror(errno), NULL);
	/* A closed standard output (| head) must still let us remove the
	 * region before we go, so SIGPIPE is ignored and EPIPE handled below. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);

	/* Steps 1-2: create or attach, then claim the consumer's place. */
	struct region *region = open_region();
	int holder = 0;
	if (!atomic_compare_exchange_strong(&region->consumer_pid, &holder, (int)getpid()))
		die("shm_open", name, "already has a " PROGRAM, holder > 0 && peer_alive(holder)
		    ? "wait for it to end or pass another NAME"
		    : "left by a killed run: remove it or pass another NAME");
	must_remove = 1; /* from here on, every way out removes it */

	/* Step 3: nothing flows until both sides are there. */
	pid_t producer = wait_for_peer(&region->producer_pid);

	/* Step 4: take a full slot, copy it out, hand it back as empty. Our
	 * sem_wait returning means the producer's writes before its sem_post
	 * are visible. The index and the length come from memory another
	 * process can write: check both before they touch anything. */
	for (;;) {
		if (wait_or_peer_gone(&region->full, producer) == -1)
			die("sem_timedwait", name, PEER " is gone", "the stream was cut short");
		uint32_t out = region->tail;
		if (out >= SLOT_COUNT)
			die("mmap", name, "slot index out of range", "the region is corrupt");
		uint32_t length = region->slots[out].length;
		if (length > SLOT_SIZE)
			die("mmap", name, "slot length out of range", "the region is corrupt");
		region->tail = (out + 1) % SLOT_COUNT;
		if (length == 0 && atomic_load(&region->end_of_stream))
			break;
		if (length == 0)
			die("mmap", name, "empty slot before the end of the stream", "the region is corrupt");
		if (write_all(STDOUT_FILENO, region->slots[out].data, length) == -1) {
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
		if (sem_post(&region->empty) == -1)
			die("sem_post", name, strerror(errno), NULL);
	}

	/* Step 5: the stream is complete. Remove the name first, then give the
	 * last slot back: that post is what lets the producer exit 0. Nobody
	 * calls sem_destroy: the producer may still be inside sem_timedwait,
	 * and the semaphores go away with the region's last mapping. */
	must_remove = 0;
	if (shm_unlink(name) == -1 && errno != ENOENT)
		die("shm_unlink", name, strerror(errno), NULL);
	if (sem_post(&region->empty) == -1)
		die("sem_post", name, strerror(errno), NULL);
	if (munmap(region, sizeof *region) == -1)
		die("munmap", name, strerror(errno), NULL);
	return 0;
}
