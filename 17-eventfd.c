/*
 * 17-eventfd: a ring in shared memory between a parent and its child, rung
 * with eventfd doorbells instead of polling, and the peer's death as one
 * more thing to poll (Linux only; FreeBSD 13 and NetBSD 10 have eventfd).
 *
 *   ./17-eventfd < file > copy          # copy equals file
 *   ./17-eventfd 1 < file > copy        # SLOTS: 1 to 64, default 8
 *
 * Watch for the two eventfd modes: semaphores count the free and the filled
 * slots, one read per slot; a counter adds up the bytes, read once at the
 * end. Without pidfd_open (Linux before 5.3, valgrind, container filters)
 * a socket pair tells the death as end of file. Tested: glibc, musl, both.
 */
/* MAP_ANONYMOUS, and syscall(2) for pidfd_open, which musl and glibc before 2.36 do not wrap */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "17-eventfd"
enum { SLOT_SIZE = 64 * 1024, DEFAULT_SLOTS = 8, MAX_SLOTS = 64 };

struct slot {
	atomic_size_t length; /* stored last, with release: the data is there; 0: the end */
	unsigned char data[SLOT_SIZE];
};
/* Only lock-free atomics work between processes (they hold no hidden lock). */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "atomic size_t must be lock-free");
struct ring { /* the slots, three doorbells, and what shows the peer's death */
	struct slot *slots;
	int count, free_slots, filled, bytes, peer;
};

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static int watch(pid_t peer, const char *name, const int alive[2], int ours);
static void close_ring(const struct ring *ring);
static uint64_t produce(const struct ring *ring);
static void consume(const struct ring *ring);
static int wait_for(int fd, int peer);
static int take(int doorbell, int peer);
static void ring_bell(int doorbell, uint64_t value, const char *name);
static _Noreturn void child_ended(int status);
static int write_all(int fd, const void *buf, size_t len);
static int reap(pid_t child);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

static volatile sig_atomic_t child_pid; /* for clean_up; 0 in the child */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	char *end = NULL;
	long count = argc == 2 ? strtol(argv[1], &end, 10) : DEFAULT_SLOTS;
	if (argc > 2 || (argc == 2 && (argv[1][0] < '1' || argv[1][0] > '9' || *end != '\0')) ||
	    count > MAX_SLOTS) {
		fprintf(stderr, "usage: %s [SLOTS]   (default SLOTS: %d, at most %d)\n", PROGRAM,
			DEFAULT_SLOTS, MAX_SLOTS);
		return 2;
	}
	catch_stop_signals();
	struct ring ring = { .count = (int)count };

	/* Step 1: the ring, shared over fork; with no name, nothing is left behind. */
	size_t size = (size_t)count * sizeof(struct slot);
	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS wants fd -1 (some systems insist) */
	ring.slots = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ring.slots == MAP_FAILED)
		die("mmap", "ring", strerror(errno), NULL);

	/* Step 2: the doorbells. Semaphore mode for "one per slot": each read
	 * takes 1, so no ring is lost. Counter mode for a sum: a read takes all
	 * added since. Non-blocking: a full counter is an error, not a hang. */
	ring.free_slots = eventfd((unsigned)count, EFD_SEMAPHORE | EFD_CLOEXEC);
	ring.filled = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	ring.bytes = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ring.free_slots == -1 || ring.filled == -1 || ring.bytes == -1)
		die("eventfd", "doorbells", strerror(errno), NULL);

	/* Step 3: how each side sees the other die (a dead eventfd holder just
	 * stops ringing): a pidfd of the peer, or else a socket pair. */
	int probe = (int)syscall(SYS_pidfd_open, getpid(), 0), alive[2] = { -1, -1 };
	if (probe == -1 && errno != ENOSYS && errno != EPERM)
		die("pidfd_open", "ourselves", strerror(errno), NULL);
	if (probe != -1 && close(probe) == -1)
		die("close", "pidfd", strerror(errno), NULL);
	if (probe == -1 && socketpair(AF_UNIX, SOCK_STREAM, 0, alive) == -1)
		die("socketpair", "for the peer's death", strerror(errno), NULL);

	/* Step 4: fork, the stop signals blocked so clean_up knows the child. */
	sigset_t all, old_mask;
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t parent = getpid(), child = fork();
	if (child == -1)
		die("fork", "child", strerror(errno), NULL);
	child_pid = child;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);

	/* Step 5, the child: a pidfd by pid is racy here, as the parent may have
	 * died and its pid gone to another; getppid still naming it proves the
	 * pidfd his. Then the slots to standard output. */
	if (child == 0) {
		ring.peer = watch(parent, "parent", alive, 1);
		if (getppid() != parent)
			die("getppid", "parent", "the parent died before we began", NULL);
		consume(&ring);
		close_ring(&ring);
		return 0;
	}

	/* Step 6, the parent: our unreaped child keeps its pid, so a pidfd by
	 * pid is safe. Then standard input into the slots. */
	ring.peer = watch(child, "child", alive, 0);
	uint64_t sent = produce(&ring);

	/* Step 7: the child's end, then one read of the counter: the sum of
	 * every number the child added to it (EAGAIN: none, 0). */
	int status = reap(child);
	child_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		child_ended(status);
	uint64_t counted = 0;
	if (read(ring.bytes, &counted, sizeof counted) == -1 && errno != EAGAIN)
		die("read", "byte counter", strerror(errno), NULL);
	if (counted != sent)
		die("read", "byte counter", "the child wrote another number of bytes than we sent", NULL);
	close_ring(&ring);
	return 0;
}

/* Readable once the peer has ended: its pidfd (Linux 5.3), or our end of
 * the socket pair, the peer's end closed here. */
static int watch(pid_t peer, const char *name, const int alive[2], int ours)
{
	if (alive[0] != -1 && close(alive[1 - ours]) == -1)
		die("close", "socket pair", strerror(errno), NULL);
	int fd = alive[0] != -1 ? alive[ours] : (int)syscall(SYS_pidfd_open, peer, 0);
	if (fd == -1)
		die("pidfd_open", name, strerror(errno), NULL);
	return fd;
}

/* The doorbells and the peer's descriptor, closed before we exit 0. */
static void close_ring(const struct ring *ring)
{
	if (close(ring->free_slots) == -1 || close(ring->filled) == -1 ||
	    close(ring->bytes) == -1 || close(ring->peer) == -1)
		die("close", "doorbells", strerror(errno), NULL);
}

/* The parent: take a free slot, fill it from standard input, ring
 * "filled". An empty slot is the end. Returns the bytes sent. */
static uint64_t produce(const struct ring *ring)
{
	uint64_t sent = 0;
	for (int i = 0;; i = (i + 1) % ring->count) {
		struct slot *slot = &ring->slots[i];
		if (take(ring->free_slots, ring->peer) == -1 || wait_for(STDIN_FILENO, ring->peer) == -1)
			child_ended(reap((pid_t)child_pid));
		ssize_t n;
		while ((n = read(STDIN_FILENO, slot->data, SLOT_SIZE)) == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		/* Release: the data before the length (the eventfd calls order
		 * memory too in practice, but C does not promise it). */
		atomic_store_explicit(&slot->length, (size_t)n, memory_order_release);
		ring_bell(ring->filled, 1, "filled slots");
		if (n == 0)
			return sent;
		sent += (uint64_t)n;
	}
}

/* The child: wait for a filled slot, write it out, ring "free". */
static void consume(const struct ring *ring)
{
	for (int i = 0;; i = (i + 1) % ring->count) {
		const struct slot *slot = &ring->slots[i];
		if (take(ring->filled, ring->peer) == -1)
			die("poll", "parent", "the parent died before the end (the output is cut short)", NULL);
		size_t n = atomic_load_explicit(&slot->length, memory_order_acquire);
		if (n > SLOT_SIZE) /* shared memory is untrusted */
			die("read", "ring", "a length larger than the slot", NULL);
		if (n == 0)
			return;
		if (write_all(STDOUT_FILENO, slot->data, n) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
		ring_bell(ring->bytes, n, "byte counter");
		ring_bell(ring->free_slots, 1, "free slots");
	}
}

/* Sleep until fd is readable: 0; or until the peer has ended: -1. */
static int wait_for(int fd, int peer)
{
	struct pollfd fds[2] = { { .fd = fd, .events = POLLIN }, { .fd = peer, .events = POLLIN } };
	while (poll(fds, 2, -1) == -1)
		if (errno != EINTR)
			die("poll", "doorbell", strerror(errno), NULL);
	return fds[1].revents != 0 ? -1 : 0;
}

/* Wait for the doorbell, then take (8 bytes, never fewer): 0, or -1. */
static int take(int doorbell, int peer)
{
	uint64_t value;
	if (wait_for(doorbell, peer) == -1)
		return -1;
	while (read(doorbell, &value, sizeof value) == -1)
		if (errno != EINTR)
			die("read", "doorbell", strerror(errno), NULL);
	return 0;
}

/* Add value to the counter. EAGAIN: it would pass UINT64_MAX - 1. */
static void ring_bell(int doorbell, uint64_t value, const char *name)
{
	while (write(doorbell, &value, sizeof value) == -1)
		if (errno != EINTR)
			die("write", name, errno == EAGAIN ? "the counter is full" : strerror(errno),
			    NULL);
}

/* ======================================================================
 * Below: what stops the child when we are stopped early, how a child's
 * end is told, and the error line. */

/* The child has nothing to clean up: SIGKILL, and reap it (both calls are
 * async-signal-safe). */
static void clean_up(void)
{
	pid_t pid = (pid_t)child_pid;
	if (pid > 0) {
		child_pid = 0;
		(void)kill(pid, SIGKILL); /* it can only be gone already */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
	}
}

/* The child ended early or failed. Killed by SIGPIPE, it found standard
 * output closed: we end as quietly. */
static _Noreturn void child_ended(int status)
{
	child_pid = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: child killed by signal %d\n", PROGRAM, WTERMSIG(status));
	exit(1); /* a child that exited said why itself */
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

/* Wait for the child, retrying after a signal; its status as waitpid
 * gives it. */
static int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	return status;
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
