/*
 * 07-ring-producer: stream standard input to 07-ring-consumer through a ring
 * of slots in POSIX shared memory that we make, with two process-shared
 * semaphores inside that count its empty and full slots. Either starts first:
 *   ./07-ring-consumer /demo > copy &   ./07-ring-producer /demo < file
 * Watch for: we exit 0 only once the consumer has handed back every slot, the
 * empty one that ends the stream included. Tested on Linux, glibc and musl
 * (record locks on shared memory are Linux's; macOS lacks sem_init).
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

#define PROGRAM "07-ring-producer"
#define PEER "07-ring-consumer"
enum { SLOT_COUNT = 16, SLOT_SIZE = 64 * 1024 };
enum { RING_READY = 0x52494e47, RING_JOINED = 0x4a4f494e }; /* "RING", "JOIN" */
enum { CONSUMER_BYTE = 0, PRODUCER_BYTE = 1 }; /* the byte each side locks */

/* The region, the same in 07-ring-consumer.c; a layout of another size is refused. */
struct region {
	atomic_uint state; /* RING_READY once we made it, RING_JOINED once claimed */
	sem_t empty;       /* counts the empty slots: we wait on it */
	sem_t full;        /* counts the full slots: the consumer waits on it */
	struct slot {
		uint32_t length;   /* bytes used in data; 0 marks the end of the stream */
		uint32_t sequence; /* 1 in the first slot filled, 2 in the next... */
		unsigned char data[SLOT_SIZE];
	} slots[SLOT_COUNT];
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "only a lock-free atomic works between processes");

static struct region *create_region(const char *name);
static int keep_or_replace(const char *name, int fd);
static void wait_for_empty_slot(struct region *region);
static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static void catch_stop_signals(void);
static void clean_up(void);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *region_name; /* what clean_up removes while our region has it, */
static volatile sig_atomic_t must_remove = 1; /* until main has removed it itself */
static volatile sig_atomic_t region_fd = -1; /* open while we run: closing it drops our lock */

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

	/* Step 1: make the region. The consumer joins by handing us every slot
	 * as empty; then we remove the name: the two mappings keep the region. */
	struct region *region = create_region(name);
	wait_for_empty_slot(region);
	if (shm_unlink(name) == -1 && errno != ENOENT)
		die("shm_unlink", name, strerror(errno), NULL);
	must_remove = 0; /* a link to the region elsewhere would keep st_nlink above 0 */
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 2: read into an empty slot, hand it over as full. A read of 0
	 * bytes fills the last slot: the end of the stream. */
	for (uint32_t filled = 1;; filled++) {
		struct slot *slot = &region->slots[(filled - 1) % SLOT_COUNT];
		ssize_t n;
		while ((n = read(STDIN_FILENO, slot->data, SLOT_SIZE)) == -1)
			if (errno != EINTR)
				die("read", "standard input", strerror(errno), NULL);
		slot->length = (uint32_t)n;
		slot->sequence = filled;
		if (sem_post(&region->full) == -1)
			die("sem_post", name, strerror(errno), NULL);
		if (n == 0)
			break;
		wait_for_empty_slot(region);
	}

	/* Step 3: every slot back, the last one included: the consumer has it all. */
	for (int i = 0; i < SLOT_COUNT; i++)
		wait_for_empty_slot(region);
	if (close(region_fd) == -1)
		die("close", name, strerror(errno), NULL);
	return 0;
}

/* O_EXCL: the region is new and ours; keep_or_replace keeps it, or, having
 * cleared a killed run's name or found ours gone, has us try again. Reserve the
 * pages (ftruncate would not, and a store could raise SIGBUS), make both
 * semaphores (no slot is empty until a consumer joins), then store RING_READY
 * with release ordering. */
static struct region *create_region(const char *name)
{
	do {
		region_fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (region_fd == -1 && errno != EEXIST)
			die("shm_open", name, strerror(errno), NULL);
	} while (!keep_or_replace(name, region_fd));
	int error = posix_fallocate(region_fd, 0, (off_t)sizeof(struct region));
	if (error != 0)
		die("posix_fallocate", name, strerror(error), NULL);
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE, MAP_SHARED,
				     region_fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);
	if (sem_init(&region->empty, 1, 0) == -1 || sem_init(&region->full, 1, 0) == -1)
		die("sem_init", name, strerror(errno), NULL);
	atomic_store_explicit(&region->state, RING_READY, memory_order_release);
	return region;
}

/* Below: what replaces a region that a killed run left, removes ours when we
 * are stopped early, and keeps a dead or late partner from hanging us. */

/* Take our lock on one byte of the region (F_SETLK, F_SETLKW), or ask
 * whether nobody else holds one there (F_GETLK): 1 if so, 0 if another does. */
static int lock_byte(int fd, int command, off_t byte)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte,
			      .l_len = 1 };
	if (fcntl(fd, command, &lock) == 0)
		return command != F_GETLK || lock.l_type == F_UNLCK;
	if (errno != EAGAIN && errno != EACCES)
		die("fcntl", region_name, strerror(errno), NULL);
	return 0;
}

/* One look, under the producer's lock, at our new object (fd) or, given -1, at
 * what has the name. 1: ours, still named: keep it. Else it must be what a killed
 * run left (our user's, nobody's lock on it, a ring or one being made: size 0 or
 * state 0), or we die; it is removed if it still has its name (another producer,
 * holding the lock from its look to its removal, may have removed it), and 0: the
 * name was free, or is now, so try again. */
static int keep_or_replace(const char *name, int fd)
{
	struct stat st;
	unsigned state = 0; /* the state word comes first in the region */
	int ours = fd != -1;
	if (!ours)
		fd = shm_open(name, O_RDWR, 0); /* O_RDWR: for a write lock; a FIFO opens at once */
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1)
		die("shm_open", name, strerror(errno), "pass another NAME");
	const char *fix = "wait for it to end or pass another NAME";
	/* F_SETLKW on ours: another producer may hold it a moment while it looks at it. */
	if (!lock_byte(fd, ours ? F_SETLKW : F_SETLK, PRODUCER_BYTE))
		die("shm_open", name, "already has a " PROGRAM, fix);
	if (fstat(fd, &st) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (ours && st.st_nlink > 0)
		return 1; /* ours without its name passes every check below, and is closed */
	if (st.st_uid != geteuid())
		die("shm_open", name, "belongs to another user", "pass another NAME");
	int sized = st.st_size == (off_t)sizeof(struct region);
	if (sized && pread(fd, &state, sizeof state, 0) == -1)
		die("pread", name, strerror(errno), NULL);
	if (!S_ISREG(st.st_mode) || (st.st_size != 0 && !sized) ||
	    (state != 0 && state != RING_READY && state != RING_JOINED))
		die("shm_open", name, strerror(EEXIST),
		    "not a 07 ring: remove it or pass another NAME");
	if (!lock_byte(fd, F_GETLK, CONSUMER_BYTE))
		die("shm_open", name, "already has a " PEER, fix);
	if (st.st_nlink > 0) {
		say("replacing the region at", name, "left by a killed run", NULL);
		if (shm_unlink(name) == -1 && errno != ENOENT)
			die("shm_unlink", name, strerror(errno), NULL);
	}
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);
	return 0;
}

/* sem_wait that a dead consumer cannot hang: 200 ms at a time. Until it has
 * joined it is only late (after a second, say so); then it holds its lock,
 * which the kernel drops when it ends, however it ends (SIGKILL included). */
static void wait_for_empty_slot(struct region *region)
{
	int slices = 0;
	do {
		struct timespec deadline; /* CLOCK_REALTIME: a step stretches or cuts one wait */
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_sec += (deadline.tv_nsec + 200000000L) / 1000000000L;
		deadline.tv_nsec = (deadline.tv_nsec + 200000000L) % 1000000000L;
		if (sem_timedwait(&region->empty, &deadline) == 0)
			return;
		if (errno != ETIMEDOUT && errno != EINTR)
			die("sem_timedwait", region_name, strerror(errno), NULL);
		if (++slices == 5 && atomic_load(&region->state) != RING_JOINED)
			fprintf(stderr, "%s: waiting for %s to start\n", PROGRAM, PEER);
	} while (atomic_load(&region->state) != RING_JOINED ||
		 !lock_byte(region_fd, F_GETLK, CONSUMER_BYTE));
	if (sem_trywait(&region->empty) == -1) /* nothing posted just before it ended */
		die("sem_timedwait", region_name, PEER " is gone", "the stream was cut short");
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

/* What a stop signal or any exit runs: remove the name until main has, while our
 * region has it (fstat, async-signal-safe, says so); once removed, by main or by a
 * producer that took it for a killed run's, the name may be another producer's. */
static void clean_up(void)
{
	struct stat st;
	if (must_remove && fstat(region_fd, &st) == 0 && st.st_nlink > 0) {
		/* Not on POSIX's async-signal-safe list, but on Linux shm_unlink is
		 * a single unlink of /dev/shm/NAME: no locks, no allocation.
		 * NOLINTNEXTLINE(bugprone-signal-handler,cert-sig30-c) */
		(void)shm_unlink(region_name); /* best effort: nobody is left to tell */
	}
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
