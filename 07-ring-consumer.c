/*
 * 07-ring-consumer: copy to standard output the stream 07-ring-producer puts
 * through its ring in POSIX shared memory. Either may start first:
 *   ./07-ring-consumer /demo > copy &   ./07-ring-producer /demo < file
 * Watch for: every value but the semaphores is checked before use; only an
 * empty slot ends the stream. We own nothing. Tested on Linux, glibc and musl.
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
enum { RING_READY = 0x52494e47, RING_JOINED = 0x4a4f494e }; /* "RING", "JOIN" */
enum { CONSUMER_BYTE = 0, PRODUCER_BYTE = 1 }; /* the byte each side locks */

/* The region, the same in 07-ring-producer.c; a layout of another size is refused. */
struct region {
	atomic_uint state; /* RING_READY once made, RING_JOINED once we claim it */
	sem_t empty;       /* counts the empty slots: the producer waits on it */
	sem_t full;        /* counts the full slots: we wait on it */
	struct slot {
		uint32_t length;   /* bytes used in data; 0 marks the end of the stream */
		uint32_t sequence; /* 1 in the first slot filled, 2 in the next... */
		unsigned char data[SLOT_SIZE];
	} slots[SLOT_COUNT];
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "only a lock-free atomic works between processes");

static struct region *attach_region(const char *name);
static void wait_for_full_slot(struct region *region, const char *name);
static int producer_runs(const char *name);
static int write_all(int fd, const void *buf, size_t len);
static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static int region_fd = -1; /* open until we exit: closing it would drop our lock */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	char default_name[64]; /* holds the longest uid */
	(void)snprintf(default_name, sizeof default_name, "/ipc-07-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR) /* past ulimit -f, write reports EFBIG */
		die("signal", "SIGXFSZ", strerror(errno), NULL);

	/* Step 1: attach, claim our place, hand the producer every slot as empty. */
	struct region *region = attach_region(name);

	/* Step 2: wait for a full slot, check it, copy it out, hand it back as empty. */
	for (uint32_t taken = 1, length = 1; length != 0; taken++) {
		struct slot *slot = &region->slots[(taken - 1) % SLOT_COUNT];
		wait_for_full_slot(region, name);
		if ((length = slot->length) > SLOT_SIZE)
			die("mmap", name, "slot length out of range", "the region is corrupt");
		if (slot->sequence != taken)
			die("mmap", name, "slot out of sequence", "the region is corrupt");
		if (write_all(STDOUT_FILENO, slot->data, length) == -1)
			die("write", "standard output", strerror(errno), NULL);
		if (sem_post(&region->empty) == -1)
			die("sem_post", name, strerror(errno), NULL);
	}

	if (close(region_fd) == -1)
		die("close", name, strerror(errno), NULL);
	return 0;
}

/* Wait for the name as long as it takes; while it is empty (size or state 0), as long
 * as its producer runs (Ctrl-Z too), else 2 s. Trust nothing: owner, type, size, state. */
static struct region *attach_region(const char *name)
{
	const char *fix = "remove it or pass another NAME";
	const char *killed = "left by a killed run: a new " PEER " replaces it";
	const struct timespec pause = { 0, 50 * 1000000L }; /* 50 ms */
	unsigned state = 0; /* the first word; a read of an empty object leaves it 0 */
	for (int polls = 1, empty = 0; state == 0; polls++) {
		struct stat st;
		if (polls > 1 && nanosleep(&pause, NULL) == -1 && errno != EINTR)
			die("nanosleep", name, strerror(errno), NULL);
		if (region_fd == -1 && (region_fd = shm_open(name, O_RDWR, 0)) == -1) {
			if (errno != ENOENT)
				die("shm_open", name, strerror(errno), NULL);
			if (polls == 20) /* a second: say why nothing happens */
				fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
			continue;
		}
		if (fstat(region_fd, &st) == -1)
			die("fstat", name, strerror(errno), NULL);
		if (st.st_nlink == 0) { /* a producer replaced it: look at the name again */
			if (close(region_fd) == -1)
				die("close", name, strerror(errno), NULL);
			region_fd = -1;
			empty = 0;
			continue;
		}
		if (st.st_uid != geteuid())
			die("shm_open", name, "belongs to another user", "pass another NAME");
		if (!S_ISREG(st.st_mode) ||
		    (st.st_size != 0 && st.st_size != (off_t)sizeof(struct region)))
			die("fstat", name, "wrong type or size for a 07 ring", fix);
		if (pread(region_fd, &state, sizeof state, 0) == -1)
			die("pread", name, strerror(errno), NULL);
		if (state == 0 && !producer_runs(name) && ++empty > 40) /* 2 s */
			die(st.st_size > 0 ? "pread" : "fstat", name, "still empty after 2 s", killed);
	}
	if (state != RING_READY && state != RING_JOINED)
		die("pread", name, "not a 07 ring (wrong magic number)", fix);
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE, MAP_SHARED,
				     region_fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);

	/* Our lock, then swap RING_READY for RING_JOINED: the acquire that pairs with
	 * the producer's release store, so that we see its semaphores made. */
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_start = CONSUMER_BYTE, .l_len = 1 };
	if (fcntl(region_fd, F_SETLK, &lock) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			die("fcntl", name, "already has a " PROGRAM,
			    "wait for it to end or pass another NAME");
		die("fcntl", name, strerror(errno), NULL);
	}
	if (!atomic_compare_exchange_strong(&region->state, &(unsigned){ RING_READY }, RING_JOINED))
		die("mmap", name, "already has a " PROGRAM, killed);
	for (int i = 0; i < SLOT_COUNT; i++)
		if (sem_post(&region->empty) == -1)
			die("sem_post", name, strerror(errno), NULL);
	return region;
}

/* Below: what keeps a dead partner from hanging us. */

/* sem_wait that a dead producer cannot hang: every 200 ms, ask whether it runs. */
static void wait_for_full_slot(struct region *region, const char *name)
{
	do {
		struct timespec deadline; /* CLOCK_REALTIME: a step stretches or cuts one wait */
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_sec += (deadline.tv_nsec + 200000000L) / 1000000000L;
		deadline.tv_nsec = (deadline.tv_nsec + 200000000L) % 1000000000L;
		if (sem_timedwait(&region->full, &deadline) == 0)
			return;
		if (errno != ETIMEDOUT && errno != EINTR)
			die("sem_timedwait", name, strerror(errno), NULL);
	} while (producer_runs(name));
	if (sem_trywait(&region->full) == -1) /* nothing posted just before it ended */
		die("sem_timedwait", name, PEER " is gone", "the stream was cut short");
}

/* Whether a producer holds its lock on the region, which it takes as it makes it and
 * the kernel drops however it ends (F_GETLK overwrites the question: ask anew). */
static int producer_runs(const char *name)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_start = PRODUCER_BYTE, .l_len = 1 };
	if (fcntl(region_fd, F_GETLK, &lock) == -1)
		die("fcntl", name, strerror(errno), NULL);
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

/* A descriptor 0, 1 or 2 closed at our start is filled with /dev/null, opened
 * the other way round (using it still fails with EBADF): no queue, FIFO or
 * socket of ours can take its number and get our data or error lines. */
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

/* One line on stderr, "program: call object: reason (fix)", then exit 1.
 * A control byte (a name may hold one) is shown as \ooo: no forged line. */
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix)
{
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s%s%s%s", PROGRAM, call, object, reason,
		       fix ? " (" : "", fix ? fix : "", fix ? ")" : "");
	for (const char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < ' ' || *c == '\177')
			(void)fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr);
	(void)putc('\n', stderr);
	exit(1);
}
