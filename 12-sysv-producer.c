/*
 * 12-sysv-producer: stream standard input into the System V ring (a segment and
 * a set of four semaphores) that 12-sysv-consumer makes under ftok(KEYPATH, 'S').
 *
 *   ./12-sysv-consumer demo.key > copy &     # either side may start first
 *   ./12-sysv-producer demo.key < file
 *
 * We only attach, and check all we find. Watch for: no signal handler; our
 * presence has SEM_UNDO, so the kernel tells of our death. Linux, glibc, musl.
 */
#define _POSIX_C_SOURCE 200809L
/* semtimedop is not in POSIX: glibc and musl declare it for _GNU_SOURCE. */
#define _GNU_SOURCE

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "12-sysv-producer"
#define PEER "12-sysv-consumer"
#define PROJECT_ID 'S' /* 06's queues use 'q': one KEYPATH serves both */
#define BUSY "already has a " PROGRAM
#define BUSY_FIX "wait for it to end or pass another KEYPATH"
#define REMOVED(error) ((error) == EIDRM || (error) == EINVAL \
	? "the set was removed: ipcrm, or logind's RemoveIPC" : NULL)
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024, RING_MAGIC = 0x53595356, RING_VERSION = 1 };
enum { POLL_MS = 50, SLICE_MS = 200, QUIET_POLLS = 20 };

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

static int find_set(key_t key);
static struct ring *attach_ring(key_t key, int *segment);
static void take(int semaphore);
static void check_object(const struct ipc_perm *perm, int ours, const char *call, const char *why);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *keypath;
static int set_id = -1;

int main(int argc, char *argv[])
{
	keypath = argc == 2 ? argv[1] : getenv("HOME");
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [KEYPATH]   (default KEYPATH: $HOME)\n", PROGRAM);
		return 2;
	}
	if (keypath == NULL || keypath[0] == '\0')
		die("getenv", "HOME", "not set", "pass a KEYPATH");

	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");

	/* Step 2: wait for the consumer's set, check the segment, claim our
	 * place ("if 0, make it 1", with SEM_UNDO), mark the segment for removal. */
	struct timespec pause = { 0, POLL_MS * 1000000L };
	for (int polls = 0; (set_id = find_set(key)) == -1; polls++) {
		if (polls == QUIET_POLLS)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
		if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
			die("nanosleep", keypath, strerror(errno), NULL);
	}
	int segment;
	struct ring *ring = attach_ring(key, &segment);
	struct sembuf claim[] = { { PRODUCER_HERE, 0, IPC_NOWAIT },
				  { PRODUCER_HERE, +1, SEM_UNDO } };
	if (semop(set_id, claim, 2) == -1)
		die("semop", keypath, errno == EAGAIN ? BUSY : strerror(errno),
		    errno == EAGAIN ? BUSY_FIX : REMOVED(errno));
	if (shmctl(segment, IPC_RMID, NULL) == -1)
		die("shmctl", keypath, strerror(errno), NULL);

	/* Step 3: take an empty slot, read into it, give it as full. semop syncs
	 * memory (as sem_post does): the consumer reads what we wrote. */
	ssize_t n;
	uint32_t next = 0;
	do {
		take(EMPTY);
		while ((n = read(STDIN_FILENO, ring->slots[next].data, SLOT_SIZE)) == -1)
			if (errno != EINTR)
				die("read", "standard input", strerror(errno), NULL);
		ring->slots[next].length = (uint32_t)n; /* 0: the end of the stream */
		struct sembuf give = { FULL, +1, 0 };
		if (semop(set_id, &give, 1) == -1)
			die("semop", keypath, strerror(errno), REMOVED(errno));
		next = (next + 1) % SLOT_COUNT;
	} while (n > 0);

	/* Step 4: all 16 slots back, the end slot too, means all was written. */
	for (int slot = 0; slot < SLOT_COUNT; slot++)
		take(EMPTY);
	if (semctl(set_id, 0, IPC_RMID) == -1)
		die("semctl", keypath, strerror(errno), NULL);
	if (shmdt(ring) == -1)
		die("shmdt", keypath, strerror(errno), NULL);
	return 0;
}

/* The set at the key, once the consumer is in it (a stale one has no one
 * in it) and has initialised it: sem_otime is 0 until its first semop. */
static int find_set(key_t key)
{
	struct semid_ds info = { .sem_otime = 0 }; /* the analyser cannot see semctl fill it */
	int id = semget(key, 0, 0);
	if (id == -1 && errno == ENOENT)
		return -1;
	if (id == -1 || semctl(id, 0, IPC_STAT, (union semun){ .buf = &info }) == -1)
		die(id == -1 ? "semget" : "semctl", keypath, strerror(errno), NULL);
	check_object(&info.sem_perm, info.sem_nsems == SEM_COUNT, "semget",
		     "not a 12 set (wrong number of semaphores)");
	return info.sem_otime != 0 && semctl(id, CONSUMER_HERE, GETVAL) == 1 ? id : -1;
}

/* Ours, of a ring's size (past a smaller one, its last page would not fault),
 * made by a 12 consumer. No segment at the key: a producer marked it. */
static struct ring *attach_ring(key_t key, int *segment)
{
	struct shmid_ds info;
	if ((*segment = shmget(key, 0, 0)) == -1 && errno == ENOENT) {
		if (semctl(set_id, PRODUCER_HERE, GETVAL) == 0)
			die("shmget", keypath, "its " PROGRAM " joined and is gone",
			    "its consumer ends that stream: run the pair again");
		die("shmget", keypath, BUSY, BUSY_FIX);
	}
	if (*segment == -1 || shmctl(*segment, IPC_STAT, &info) == -1)
		die(*segment == -1 ? "shmget" : "shmctl", keypath, strerror(errno), NULL);
	check_object(&info.shm_perm, info.shm_segsz == sizeof(struct ring), "shmget",
		     "wrong size for a 12 ring");
	struct ring *ring = shmat(*segment, NULL, 0);
	if (ring == (void *)-1)
		die("shmat", keypath, strerror(errno), NULL);
	const char *wrong = ring->magic != RING_MAGIC ? "not a 12 ring (wrong magic number)"
			    : "a 12 ring of another version or shape";
	if (ring->magic != RING_MAGIC || ring->version != RING_VERSION)
		die("shmat", keypath, wrong, "ipcrm it or pass another KEYPATH");
	return ring;
}

/* Take one (never SEM_UNDO: our exit would give back the slots we took), 200 ms
 * at a time. Between tries: a consumer gone gets one last try, for what it
 * gave; then we remove the set, which it left to us. */
static void take(int semaphore)
{
	struct sembuf op = { (unsigned short)semaphore, -1, 0 };
	struct timespec slice = { 0, SLICE_MS * 1000000L };
	while (semtimedop(set_id, &op, 1, &slice) == -1) {
		if (errno != EAGAIN && errno != EINTR) /* EINTR: also after kill -STOP, -CONT */
			die("semtimedop", keypath, strerror(errno), REMOVED(errno));
		if (op.sem_flg == IPC_NOWAIT && semctl(set_id, 0, IPC_RMID) == -1)
			die("semctl", keypath, strerror(errno), NULL);
		if (op.sem_flg == IPC_NOWAIT)
			die("semtimedop", keypath, PEER " is gone", "the stream was cut short");
		int here = semctl(set_id, CONSUMER_HERE, GETVAL);
		if (here == -1)
			die("semctl", keypath, strerror(errno), NULL);
		op.sem_flg = here == 0 ? IPC_NOWAIT : 0;
	}
}

/* Below: the check of what we find at the key, and the error line. */

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
