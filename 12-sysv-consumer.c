/*
 * 12-sysv-consumer: 07's ring, the System V way. Create a segment and a set of
 * four semaphores under ftok(KEYPATH, 'S') (KEYPATH: an existing file, default
 * $HOME), then copy to standard output what 12-sysv-producer puts in the ring.
 *
 *   ./12-sysv-consumer demo.key > copy &     # either side may start first
 *   ./12-sysv-producer demo.key < file
 *
 * Watch for: the set exists before its values, so our first semop marks it
 * ready; a set nobody is in is stale, and replaced. Tested: Linux, glibc, musl.
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
#define REMOVED(error) ((error) == EIDRM || (error) == EINVAL \
	? "the set was removed: ipcrm, or logind's RemoveIPC" : NULL)
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024, RING_MAGIC = 0x53595356, RING_VERSION = 1 };
enum { SLICE_MS = 200, NOTICE_SLICES = 5, CREATOR_GRACE_S = 2 };

/* The layout both programs share; as in 07, each side counts its own slots. */
struct slot {
	uint32_t length; /* bytes used in data; 0 marks the end of the stream */
	unsigned char data[SLOT_SIZE];
};
struct ring {
	uint32_t magic, version; /* written by the creator; the size pins the rest */
	struct slot slots[SLOT_COUNT];
};
/* Two counting semaphores (never SEM_UNDO), two presences (always SEM_UNDO). */
enum { EMPTY, FULL, PRODUCER_HERE, CONSUMER_HERE, SEM_COUNT };
/* semctl's fourth argument, which POSIX makes the caller declare. */
union semun {
	struct semid_ds *buf;
	unsigned short *array;
};

static void replace_stale_set(key_t key);
static void replace_stale_segment(key_t key);
static void take(int semaphore);
static void check_object(const struct ipc_perm *perm, int ours, const char *call, const char *why);
static int write_all(int fd, const void *buf, size_t len);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void catch_stop_signals(void);
static void on_stop_signal(int sig);
static void clean_up(void);

static const char *keypath;
static volatile sig_atomic_t set_id = -1, segment_id = -1;

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
	key_t key = ftok(keypath, PROJECT_ID); /* one key for both: separate namespaces */
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");

	/* Step 1: the set (IPC_EXCL: new, ours to initialise; a stale one is replaced),
	 * its values, the segment and its header, then our claim: this first semop sets
	 * sem_otime, the producer's "ready" mark, and makes us PRODUCER_HERE's last user. */
	while ((set_id = semget(key, SEM_COUNT, IPC_CREAT | IPC_EXCL | 0600)) == -1) {
		if (errno != EEXIST)
			die("semget", keypath, strerror(errno), errno == ENOSPC
			    ? "too many sets: see SEMMNI in /proc/sys/kernel/sem" : NULL);
		replace_stale_set(key);
	}
	unsigned short values[SEM_COUNT] = { [EMPTY] = SLOT_COUNT };
	if (semctl(set_id, 0, SETALL, (union semun){ .array = values }) == -1)
		die("semctl", keypath, strerror(errno), NULL);
	while ((segment_id = shmget(key, sizeof(struct ring), IPC_CREAT | IPC_EXCL | 0600)) == -1) {
		if (errno != EEXIST)
			die("shmget", keypath, strerror(errno), errno == ENOSPC
			    ? "too many segments: see /proc/sys/kernel/shmmni" : NULL);
		replace_stale_segment(key);
	}
	struct ring *ring = shmat(segment_id, NULL, 0);
	if (ring == (void *)-1)
		die("shmat", keypath, strerror(errno), NULL);
	ring->magic = RING_MAGIC;
	ring->version = RING_VERSION;
	/* IPC_NOWAIT: no producer joins before our claim, so PRODUCER_HERE can be
	 * 1 only if another consumer took our new set for a stale one. */
	struct sembuf claim[] = { { CONSUMER_HERE, +1, SEM_UNDO },
				  { PRODUCER_HERE, 0, IPC_NOWAIT } };
	int claimed = semop(set_id, claim, 2);
	if (claimed == -1 && errno == EAGAIN)
		die("semop", keypath, "another " PROGRAM " took it for a stale set", "try again");
	if (claimed == -1)
		die("semop", keypath, strerror(errno), REMOVED(errno));

	/* Step 3 (step 2 is the producer's): take a full slot, write it out (its length is
	 * the producer's: checked), give it back empty, the end slot too: the producer
	 * waits for all 16 back (its step 4), which tells it all was written. */
	uint32_t length = 1;
	for (uint32_t next = 0; length > 0; next = (next + 1) % SLOT_COUNT) {
		take(FULL);
		length = ring->slots[next].length;
		if (length > SLOT_SIZE)
			die("shmat", keypath, "slot length out of range", "the ring is corrupt");
		if (write_all(STDOUT_FILENO, ring->slots[next].data, length) == -1) {
			if (errno == EPIPE)
				on_stop_signal(SIGPIPE); /* clean up, end quietly as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
		struct sembuf give = { EMPTY, +1, 0 };
		if (semop(set_id, &give, 1) == -1)
			die("semop", keypath, strerror(errno), REMOVED(errno));
	}
	if (shmdt(ring) == -1)
		die("shmdt", keypath, strerror(errno), NULL);
	return 0;
}

/* semget said EEXIST. A set of ours with neither side in it is stale (its
 * creator gets 2 s to claim it). One semop tests that and raises
 * PRODUCER_HERE, so that no producer joins it and no consumer replaces it too. */
static void replace_stale_set(key_t key)
{
	struct semid_ds info = { .sem_otime = 0 }; /* the analyser cannot see semctl fill it */
	int id = semget(key, 0, 0);
	if (id == -1 && errno == ENOENT)
		return; /* removed meanwhile: create it */
	if (id == -1 || semctl(id, 0, IPC_STAT, (union semun){ .buf = &info }) == -1)
		die(id == -1 ? "semget" : "semctl", keypath, strerror(errno), NULL);
	check_object(&info.sem_perm, info.sem_nsems == SEM_COUNT, "semget",
		     "not a 12 set (wrong number of semaphores)");
	struct sembuf claimed[] = { { CONSUMER_HERE, -1, 0 }, { CONSUMER_HERE, +1, 0 } };
	struct timespec grace = { CREATOR_GRACE_S, 0 };
	/* Its creator may be at work: wait for its claim, again after a stop and
	 * a continue (EINTR). A set removed meanwhile is found by the next semop. */
	int waited = 0;
	while (info.sem_otime == 0 && (waited = semtimedop(id, claimed, 2, &grace)) == -1 &&
	       errno == EINTR)
		continue;
	if (waited == -1 && errno != EAGAIN && errno != EIDRM && errno != EINVAL)
		die("semtimedop", keypath, strerror(errno), NULL);
	struct sembuf stale[] = { { PRODUCER_HERE, 0, IPC_NOWAIT },
				  { CONSUMER_HERE, 0, IPC_NOWAIT },
				  { PRODUCER_HERE, +1, SEM_UNDO } };
	if (semop(id, stale, 3) == -1) {
		if (errno == EIDRM || errno == EINVAL)
			return; /* removed meanwhile */
		if (errno != EAGAIN)
			die("semop", keypath, strerror(errno), NULL);
		if (semctl(id, CONSUMER_HERE, GETVAL) == 1)
			die("semop", keypath, "already has a " PROGRAM,
			    "wait for it to end or pass another KEYPATH");
		die("semop", keypath, "its last " PEER " is still there", "try again in a moment");
	}
	say("replacing the objects at", keypath, info.sem_otime ? "left by a killed run"
	    : "never initialised: its creator was killed halfway", NULL);
	if (semctl(id, 0, IPC_RMID) == -1 && errno != EIDRM && errno != EINVAL)
		die("semctl", keypath, strerror(errno), NULL);
}

/* shmget said EEXIST, and our set is new: a segment at the key was left by a
 * killed run. Removed if ours, unattached and of our size, else refused. */
static void replace_stale_segment(key_t key)
{
	struct shmid_ds info;
	int id = shmget(key, 0, 0);
	if (id == -1 && errno == ENOENT)
		return; /* removed meanwhile: create it */
	if (id == -1 || shmctl(id, IPC_STAT, &info) == -1)
		die(id == -1 ? "shmget" : "shmctl", keypath, strerror(errno), NULL);
	check_object(&info.shm_perm, info.shm_segsz == sizeof(struct ring) && info.shm_nattch == 0,
		     "shmget", info.shm_nattch ? "the segment at this key is in use"
		     : "wrong size for a 12 ring");
	if (shmctl(id, IPC_RMID, NULL) == -1)
		die("shmctl", keypath, strerror(errno), NULL);
}

/* Take one (never SEM_UNDO: our exit would give back a slot we took), 200 ms
 * at a time. Between tries: a producer that came (the last user of its
 * presence is not us) and is gone gets one last try, for what it gave. */
static void take(int semaphore)
{
	static int slices_alone; /* waited before any producer came */
	struct sembuf op = { (unsigned short)semaphore, -1, 0 };
	struct timespec slice = { 0, SLICE_MS * 1000000L };
	while (semtimedop(set_id, &op, 1, &slice) == -1) {
		if (errno != EAGAIN && errno != EINTR) /* EINTR: also after kill -STOP, -CONT */
			die("semtimedop", keypath, strerror(errno), REMOVED(errno));
		if (op.sem_flg == IPC_NOWAIT)
			die("semtimedop", keypath, PEER " is gone", "the stream was cut short");
		int last = semctl(set_id, PRODUCER_HERE, GETPID); /* first: a producer may join */
		int here = semctl(set_id, PRODUCER_HERE, GETVAL);
		if (last == -1 || here == -1)
			die("semctl", keypath, strerror(errno), REMOVED(errno));
		if (here == 0 && last == getpid() && ++slices_alone == NOTICE_SLICES)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
		op.sem_flg = here == 0 && last != getpid() ? IPC_NOWAIT : 0;
	}
}

/* Below: what removes the objects when we are stopped early, the check of
 * what we find at the key, and the error line. */

/* Not on POSIX's async-signal-safe list, semctl and shmctl are single system
 * calls on Linux. NOLINTBEGIN(bugprone-signal-handler,cert-sig30-c) */
static void clean_up(void)
{
	/* A producer here removes the set itself: at its step 4, or once it sees us gone. */
	if (set_id != -1 && semctl(set_id, PRODUCER_HERE, GETVAL) != 1) {
		(void)semctl(set_id, 0, IPC_RMID); /* best effort: nobody is left to tell */
		(void)shmctl(segment_id, IPC_RMID, NULL); /* destroyed at the last shmdt */
	}
	set_id = segment_id = -1;
}
/* NOLINTEND(bugprone-signal-handler,cert-sig30-c) */

/* Anyone who can stat KEYPATH can compute the key and make objects there
 * first: ours are made by us, owned by us, mode 0600, and of our shape. */
static void check_object(const struct ipc_perm *perm, int ours, const char *call, const char *why)
{
	const char *not_ours = "an object at this key is not ours (another user's, or not 0600)";
	if (perm->uid != geteuid() || perm->cuid != geteuid() || (perm->mode & 0777) != 0600)
		die(call, keypath, not_ours, "pass another KEYPATH");
	if (!ours)
		die(call, keypath, why, "ipcrm it or pass another KEYPATH");
}

/* One line on stderr, "program: call object: reason (fix)". A control
 * byte (a name may hold one) is shown as \ooo: no forged line. */
static void say(const char *call, const char *object, const char *reason, const char *fix)
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
}

/* say's line, then exit 1. */
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(1);
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

/* A stop signal: clean up, then die of the same signal, so that the shell
 * sees how we ended. signal and raise are async-signal-safe. */
static void on_stop_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch every signal whose default action ends the process, but those that stop,
 * continue or are ignored (SIGWINCH: beyond POSIX.1-2008, but everywhere), those
 * sigaction refuses (EINVAL: SIGKILL, SIGSTOP, the C library's or valgrind's), and
 * SIGHUP, SIGINT or SIGQUIT ignored at our start (nohup, a script's background job):
 * they stay ignored. SIGPIPE and SIGXFSZ are ignored instead. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal }, old;
	sigfillset(&sa.sa_mask); /* no second signal interrupts clean_up */
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sig != SIGCHLD && sig != SIGCONT && sig != SIGTSTP && sig != SIGTTIN &&
		    sig != SIGTTOU && sig != SIGURG && sig != SIGWINCH &&
		    (sigaction(sig, NULL, &old) == -1 || old.sa_handler != SIG_IGN ||
		     (sig != SIGHUP && sig != SIGINT && sig != SIGQUIT)) &&
		    sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			die("sigaction", "stop signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
}
