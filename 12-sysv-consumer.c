/*
 * 12-sysv-consumer: the ring of 07, the System V way. Create a segment
 * (shmget) and a set of four semaphores (semget) under ftok(KEYPATH, 'S'),
 * then copy what 12-sysv-producer puts in the ring to standard output.
 *
 *   ./12-sysv-consumer demo.key > copy &     # either side may start first
 *   ./12-sysv-producer demo.key < file
 *
 * KEYPATH is an existing file (default: your home directory). This side
 * creates and initialises both objects; the producer attaches. Watch for:
 * the set exists before its values are set, so the producer waits for the
 * mark of our first semop (sem_otime); and objects left by a killed run are
 * recognised as certainly stale (nobody's presence semaphore is up) and
 * replaced. Tested on Linux with glibc and musl.
 */
#define _POSIX_C_SOURCE 200809L
/* semtimedop is not in POSIX: glibc and musl declare it for _GNU_SOURCE. */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "12-sysv-consumer"
#define PEER "12-sysv-producer"
#define PROJECT_ID 'S' /* 06's queues use 'q': one KEYPATH serves both */
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024, RING_MAGIC = 0x53595356, RING_VERSION = 1 };
enum { POLL_MS = 50, PEER_CHECK_MS = 200, READY_POLLS = 40 };

/* The layout both programs share, word for word the same in 12-sysv-producer.c.
 * Unlike 07, no index is shared: each side counts its own slots. */
struct slot {
	uint32_t length; /* bytes used in data; 0 marks the end of the stream */
	unsigned char data[SLOT_SIZE];
};
struct ring {
	uint32_t magic, version, slot_count, slot_size; /* written by the creator */
	struct slot slots[SLOT_COUNT];
};
/* The set: two counting semaphores (never SEM_UNDO) and two presence
 * semaphores (always SEM_UNDO: the kernel takes them back when we die). */
enum { EMPTY, FULL, PRODUCER_HERE, CONSUMER_HERE, SEM_COUNT };
/* semctl's fourth argument: POSIX makes the caller declare it (the BSDs and
 * macOS do, in <sys/sem.h>). */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void create_objects(key_t key);
static void replace_existing_set(key_t key);
static int take(int semaphore);
static int write_all(int fd, const void *buf, size_t len);
static void give(int semaphore);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void catch_stop_signals(void);
static void clean_up(void);
static void check_owner(const struct ipc_perm *perm, const char *what);
static void remove_leftover_segment(key_t key);
static void pause_briefly(void);

static const char *keypath;
static volatile sig_atomic_t set_id = -1, segment_id = -1;
static struct ring *ring;

int main(int argc, char *argv[])
{
	keypath = argc == 2 ? argv[1] : getenv("HOME");
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [KEYPATH]   (default KEYPATH: $HOME)\n", PROGRAM);
		return 2;
	}
	if (keypath == NULL || keypath[0] == '\0')
		die("getenv", "HOME", "not set", "pass a KEYPATH");
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: one key names both objects (their namespaces are separate). */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");

	/* Step 2: create the set and the segment, or replace a stale set. */
	while (set_id == -1)
		create_objects(key);

	/* Step 3: wait until the producer is here: "take one and give it back"
	 * in one atomic semop, so its presence is left as it was. */
	struct sembuf here[] = { { PRODUCER_HERE, -1, 0 }, { PRODUCER_HERE, +1, 0 } };
	struct timespec second = { 1, 0 };
	const struct timespec *limit = &second;
	while (semtimedop(set_id, here, 2, limit) == -1) {
		if (errno == EAGAIN) { /* a second gone: say so, then wait on */
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
			limit = NULL;
		} else if (errno != EINTR) { /* EINTR: a stop and continue (kill -STOP) */
			die("semtimedop", keypath, strerror(errno), NULL);
		}
	}

	/* Step 4: take a full slot, copy it out, give it back as empty. The
	 * length comes from memory the producer writes: check it before use. */
	for (uint32_t next = 0;; next = (next + 1) % SLOT_COUNT) {
		if (take(FULL) == -1)
			die("semtimedop", keypath, PEER " is gone", "the stream was cut short");
		uint32_t length = ring->slots[next].length;
		if (length > SLOT_SIZE)
			die("shmat", keypath, "slot length out of range", "the ring is corrupt");
		if (length == 0)
			break;
		if (write_all(STDOUT_FILENO, ring->slots[next].data, length) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				clean_up();
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
		give(EMPTY);
	}

	/* Step 5: the end slot comes back too; once the producer has all 16,
	 * it knows everything was written out, and it removes the set. */
	give(EMPTY);
	if (shmdt(ring) == -1)
		die("shmdt", keypath, strerror(errno), NULL);
	return 0;
}

/* Create with IPC_EXCL, so we know the set is ours to initialise. Its
 * values are undefined until SETALL, and SETALL does not set sem_otime: the
 * producer waits for sem_otime, which only our first semop sets. That semop
 * also raises our presence, atomically, with SEM_UNDO. */
static void create_objects(key_t key)
{
	int id = semget(key, SEM_COUNT, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 && errno == EEXIST) {
		replace_existing_set(key);
		return;
	}
	if (id == -1)
		die("semget", keypath, strerror(errno), errno == ENOSPC ? "too many sets: see SEMMNI in /proc/sys/kernel/sem" : NULL);
	set_id = id;
	unsigned short values[SEM_COUNT] = { [EMPTY] = SLOT_COUNT };
	if (semctl(id, 0, SETALL, (union semun){ .array = values }) == -1)
		die("semctl", keypath, strerror(errno), NULL);

	remove_leftover_segment(key);
	id = shmget(key, sizeof *ring, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1)
		die("shmget", keypath, strerror(errno), errno == ENOSPC ? "too many segments: see /proc/sys/kernel/shmmni" : NULL);
	segment_id = id;
	void *address = shmat(id, NULL, 0);
	if (address == (void *)-1)
		die("shmat", keypath, strerror(errno), NULL);
	ring = address;
	ring->version = RING_VERSION; /* a new segment is all zeros */
	ring->slot_count = SLOT_COUNT;
	ring->slot_size = SLOT_SIZE;
	ring->magic = RING_MAGIC;

	struct sembuf claim[] = { { CONSUMER_HERE, 0, IPC_NOWAIT }, { CONSUMER_HERE, +1, SEM_UNDO } };
	if (semop(set_id, claim, 2) == -1)
		die("semop", keypath, strerror(errno), NULL);
}

/* Someone's set is at the key: refuse it unless it is ours and shaped like
 * ours, and wait (2 s at most) for a creator still at work. One semop then
 * tests that neither presence is up: if so, every program that used the set
 * has died, for certain, so the set is stale. The same semop raises the
 * producer's presence, so that no producer joins the doomed set and no
 * other consumer replaces it too (SEM_UNDO: if we die now, it stays stale). */
static void replace_existing_set(key_t key)
{
	struct sembuf stale[] = { { PRODUCER_HERE, 0, IPC_NOWAIT }, { CONSUMER_HERE, 0, IPC_NOWAIT },
				  { PRODUCER_HERE, +1, SEM_UNDO } };
	struct semid_ds info;
	memset(&info, 0, sizeof info); /* the analyser cannot see semctl fill it */
	for (int polls = 0;; polls++) {
		int id = semget(key, 0, 0);
		if (id == -1 && errno == ENOENT)
			return; /* removed meanwhile: create it */
		if (id == -1 || semctl(id, 0, IPC_STAT, (union semun){ .buf = &info }) == -1)
			die("semctl", keypath, strerror(errno), NULL);
		check_owner(&info.sem_perm, "semget");
		if (info.sem_nsems != SEM_COUNT)
			die("semget", keypath, "not a 12 set (wrong number of semaphores)", "ipcrm it or pass another KEYPATH");
		if (info.sem_otime == 0 && polls < READY_POLLS) {
			pause_briefly(); /* a creator between semget and its first semop */
			continue;
		}
		if (info.sem_otime != 0 && semop(id, stale, 3) == -1) {
			int error = errno;
			if (error == EIDRM || error == EINVAL)
				continue; /* removed meanwhile: look again */
			if (error != EAGAIN)
				die("semop", keypath, strerror(error), NULL);
			if (semctl(id, CONSUMER_HERE, GETVAL) == 1)
				die("semop", keypath, "already has a " PROGRAM, "wait for it to end or pass another KEYPATH");
			die("semop", keypath, "its last " PEER " is still there", "try again in a moment");
		}
		fprintf(stderr, "%s: replacing the objects at %s (%s)\n", PROGRAM, keypath, info.sem_otime
			? "left by a killed run" : "never initialised: its creator was killed halfway");
		if (semctl(id, 0, IPC_RMID) == -1 && errno != EIDRM && errno != EINVAL)
			die("semctl", keypath, strerror(errno), NULL);
		return;
	}
}

/* Take one of a counting semaphore: no SEM_UNDO, or our exit would give
 * back a slot we had taken. A producer killed by SIGKILL never gives again,
 * so wake every 200 ms and look at its presence: the kernel took it back
 * when it died. Returns -1 once it is gone and nothing is left to take. */
static int take(int semaphore)
{
	struct sembuf op = { (unsigned short)semaphore, -1, 0 };
	struct timespec pause = { 0, PEER_CHECK_MS * 1000000L };
	for (;;) {
		if (semtimedop(set_id, &op, 1, &pause) == 0)
			return 0;
		if (errno == EIDRM || errno == EINVAL)
			die("semtimedop", keypath, strerror(errno), "the set was removed: ipcrm, or logind's RemoveIPC");
		if (errno != EAGAIN && errno != EINTR) /* EINTR: also after kill -STOP, -CONT */
			die("semtimedop", keypath, strerror(errno), NULL);
		int here = semctl(set_id, PRODUCER_HERE, GETVAL);
		if (here == -1)
			die("semctl", keypath, strerror(errno), NULL);
		if (here == 0) { /* it may have given just before it died */
			op.sem_flg = IPC_NOWAIT;
			return semop(set_id, &op, 1);
		}
	}
}

static void give(int semaphore)
{
	struct sembuf op = { (unsigned short)semaphore, +1, 0 };
	if (semop(set_id, &op, 1) == -1)
		die("semop", keypath, strerror(errno), errno == EIDRM || errno == EINVAL
		    ? "the set was removed: ipcrm, or logind's RemoveIPC" : NULL);
}

/* Below: what removes the objects when we are stopped early, the error line,
 * and a segment left by a killed run. */

/* The set and the segment are removed when nobody else will: while the
 * producer is here, it removes the set itself once it sees us gone. Not on
 * POSIX's async-signal-safe list, but on Linux semctl and shmctl are single
 * system calls, with no lock and no allocation.
 * NOLINTBEGIN(bugprone-signal-handler,cert-sig30-c) */
static void clean_up(void)
{
	if (set_id != -1 && semctl(set_id, PRODUCER_HERE, GETVAL) != 1) {
		(void)semctl(set_id, 0, IPC_RMID); /* best effort: nobody is left to tell */
		if (segment_id != -1)
			(void)shmctl(segment_id, IPC_RMID, NULL); /* destroyed at the last shmdt */
	}
	set_id = segment_id = -1;
}
/* NOLINTEND(bugprone-signal-handler,cert-sig30-c) */

/* One line on stderr, "program: call object: reason (fix)", then exit 1.
 * The object may come from the command line: a control byte in the line
 * is shown as \ooo, so that no name can forge a second line. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
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
	exit(1);
}

/* Anyone who can stat KEYPATH can compute the key and create objects there
 * first: ours are made by us, owned by us and mode 0600. */
static void check_owner(const struct ipc_perm *perm, const char *what)
{
	if (perm->uid != geteuid() || perm->cuid != geteuid() || (perm->mode & 0777) != 0600)
		die(what, keypath, "an object at this key is not ours (another user's, or not 0600)",
		    "pass another KEYPATH");
}

/* We hold a new set, so a segment at the key belongs to no live pair: it
 * was left by a killed run. Removed if it is ours, unattached and of a 12
 * ring's size; anything else is refused and left alone. */
static void remove_leftover_segment(key_t key)
{
	struct shmid_ds info;
	int id = shmget(key, 0, 0);
	if (id == -1 && errno == ENOENT)
		return;
	if (id == -1 || shmctl(id, IPC_STAT, &info) == -1)
		die("shmctl", keypath, strerror(errno), NULL);
	check_owner(&info.shm_perm, "shmget");
	if (info.shm_segsz != sizeof *ring || info.shm_nattch != 0)
		die("shmget", keypath, info.shm_nattch ? "the segment at this key is in use"
			: "wrong size for a 12 ring", "ipcrm it or pass another KEYPATH");
	if (shmctl(id, IPC_RMID, NULL) == -1)
		die("shmctl", keypath, strerror(errno), NULL);
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

static void pause_briefly(void)
{
	struct timespec pause = { 0, POLL_MS * 1000000L };
	if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
		die("nanosleep", keypath, strerror(errno), NULL);
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
