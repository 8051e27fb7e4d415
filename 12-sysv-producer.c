/*
 * 12-sysv-producer: stream standard input into the System V ring that
 * 12-sysv-consumer creates under ftok(KEYPATH, 'S'): a segment of 16 slots
 * and a set of four semaphores.
 *
 *   ./12-sysv-consumer demo.key > copy &     # either side may start first
 *   ./12-sysv-producer demo.key < file
 *
 * KEYPATH is an existing file (default: your home directory). This side
 * only attaches: it waits for the consumer's set to be initialised, checks
 * both objects, then marks the segment for removal, since both sides have
 * it now. Watch for: this program installs no signal handler. Its presence
 * semaphore has SEM_UNDO, so however it dies the kernel takes it back, and
 * the consumer sees it gone. Tested on Linux with glibc and musl.
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
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024, RING_MAGIC = 0x53595356, RING_VERSION = 1 };
enum { POLL_MS = 50, PEER_CHECK_MS = 200, QUIET_POLLS = 20 };

/* The layout both programs share, word for word the same in 12-sysv-consumer.c.
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

static int find_set(key_t key);
static struct ring *attach_ring(key_t key);
static int take(struct sembuf *ops, size_t count);
static void give(int semaphore);
static _Noreturn void gone(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void check_owner(const struct ipc_perm *perm, const char *what);
static void pause_briefly(void);

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

	/* Step 1: the same key as the consumer's: same file, same project id. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");

	/* Step 2: wait for a set the consumer has initialised and is in. */
	for (int polls = 0; (set_id = find_set(key)) == -1; polls++) {
		if (polls == QUIET_POLLS)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
		pause_briefly();
	}

	/* Step 3: attach to the segment, check it, then claim our place with
	 * SEM_UNDO: "if it is 0, make it 1", as one atomic semop. */
	struct ring *ring = attach_ring(key);
	struct sembuf claim[] = { { PRODUCER_HERE, 0, IPC_NOWAIT }, { PRODUCER_HERE, +1, SEM_UNDO } };
	if (semop(set_id, claim, 2) == -1) {
		int error = errno;
		die("semop", keypath, error == EAGAIN ? "already has a " PROGRAM : strerror(error),
		    error == EAGAIN ? "wait for it to end or pass another KEYPATH" : NULL);
	}

	/* Step 4: both sides are attached, so mark the segment for removal now:
	 * it is destroyed at the last shmdt, even if both of us are killed. */
	int segment = shmget(key, 0, 0);
	if (segment == -1 || shmctl(segment, IPC_RMID, NULL) == -1)
		die("shmctl", keypath, strerror(errno), NULL);

	/* Step 5: take an empty slot, read into it, give it as full. semop
	 * synchronizes memory (POSIX lists it with sem_post): what we wrote
	 * before giving is what the consumer reads after taking. */
	struct sembuf one_empty = { EMPTY, -1, 0 };
	ssize_t n;
	uint32_t next = 0;
	do {
		if (take(&one_empty, 1) == -1)
			gone();
		while ((n = read(STDIN_FILENO, ring->slots[next].data, SLOT_SIZE)) == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		ring->slots[next].length = (uint32_t)n; /* 0: the end of the stream */
		give(FULL);
		next = (next + 1) % SLOT_COUNT;
	} while (n > 0);

	/* Step 6: wait until all 16 slots are empty again, the end slot
	 * included: only then has the consumer written everything out. Then
	 * the set is ours to remove (the consumer has gone, or is going). */
	struct sembuf all_empty[] = { { EMPTY, -SLOT_COUNT, 0 }, { EMPTY, +SLOT_COUNT, 0 } };
	if (take(all_empty, 2) == -1)
		gone();
	if (semctl(set_id, 0, IPC_RMID) == -1)
		die("semctl", keypath, strerror(errno), NULL);
	if (shmdt(ring) == -1)
		die("shmdt", keypath, strerror(errno), NULL);
	return 0;
}

/* The id of an initialised set at the key with the consumer in it, or -1.
 * The consumer's first semop sets sem_otime; until then the values are
 * not set, so we must not touch them. Anyone else's set is refused. */
static int find_set(key_t key)
{
	struct semid_ds info;
	memset(&info, 0, sizeof info); /* the analyser cannot see semctl fill it */
	int id = semget(key, 0, 0);
	if (id == -1 && errno == ENOENT)
		return -1;
	if (id == -1 || semctl(id, 0, IPC_STAT, (union semun){ .buf = &info }) == -1)
		die("semctl", keypath, strerror(errno), NULL);
	check_owner(&info.sem_perm, "semget");
	if (info.sem_nsems != SEM_COUNT)
		die("semget", keypath, "not a 12 set (wrong number of semaphores)", "ipcrm it or pass another KEYPATH");
	if (info.sem_otime == 0)
		return -1; /* still being initialised, or its creator died: wait */
	int consumer_here = semctl(id, CONSUMER_HERE, GETVAL);
	return consumer_here == 1 ? id : -1; /* 0: a stale set a consumer will replace */
}

/* The segment is untrusted until checked: ours, exactly a ring's size (so
 * no access can fall off its end: its last page would not fault), and
 * initialised by a 12 consumer. */
static struct ring *attach_ring(key_t key)
{
	struct shmid_ds info;
	int id = shmget(key, 0, 0);
	if (id == -1 && errno == ENOENT) /* marked for removal: a producer came */
		die("shmget", keypath, "already has a " PROGRAM, "wait for it to end or pass another KEYPATH");
	if (id == -1 || shmctl(id, IPC_STAT, &info) == -1)
		die("shmctl", keypath, strerror(errno), NULL);
	check_owner(&info.shm_perm, "shmget");
	if (info.shm_segsz != sizeof(struct ring))
		die("shmget", keypath, "wrong size for a 12 ring", "ipcrm it or pass another KEYPATH");
	struct ring *ring = shmat(id, NULL, 0);
	if (ring == (void *)-1)
		die("shmat", keypath, strerror(errno), NULL);
	if (ring->magic != RING_MAGIC)
		die("shmat", keypath, "not a 12 ring (wrong magic number)", "ipcrm it or pass another KEYPATH");
	if (ring->version != RING_VERSION || ring->slot_count != SLOT_COUNT || ring->slot_size != SLOT_SIZE)
		die("shmat", keypath, "a 12 ring of another version or shape", "ipcrm it or pass another KEYPATH");
	return ring;
}

/* A semop on the counting semaphore: no SEM_UNDO, or our exit would take
 * back the slots we gave. A consumer killed by SIGKILL never gives again,
 * so wake every 200 ms and look at its presence: the kernel took it back
 * when it died. Returns -1 once it is gone and the wait cannot succeed. */
static int take(struct sembuf *ops, size_t count)
{
	struct timespec pause = { 0, PEER_CHECK_MS * 1000000L };
	for (;;) {
		if (semtimedop(set_id, ops, count, &pause) == 0)
			return 0;
		if (errno == EIDRM || errno == EINVAL)
			die("semtimedop", keypath, strerror(errno), "the set was removed: ipcrm, or logind's RemoveIPC");
		if (errno != EAGAIN && errno != EINTR) /* EINTR: also after kill -STOP, -CONT */
			die("semtimedop", keypath, strerror(errno), NULL);
		int here = semctl(set_id, CONSUMER_HERE, GETVAL);
		if (here == -1)
			die("semctl", keypath, strerror(errno), NULL);
		if (here == 0) { /* it may have given just before it ended */
			for (size_t i = 0; i < count; i++)
				ops[i].sem_flg = IPC_NOWAIT;
			return semop(set_id, ops, count);
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

/* Below: the consumer's death, the error line and the owner check. We
 * need no handler for stop signals: SEM_UNDO is our cleanup. */

/* The consumer died while we were in the set: we are the last one, so
 * we remove it. */
static _Noreturn void gone(void)
{
	if (semctl(set_id, 0, IPC_RMID) == -1)
		die("semctl", keypath, strerror(errno), NULL);
	die("semtimedop", keypath, PEER " is gone", "the stream was cut short");
}

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

static void pause_briefly(void)
{
	struct timespec pause = { 0, POLL_MS * 1000000L };
	if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
		die("nanosleep", keypath, strerror(errno), NULL);
}
