/*
 * 17-eventfd: a ring shared by a parent and its child, rung with eventfd
 * doorbells; each side polls its doorbell and its peer's death together.
 *
 *   ./17-eventfd [SLOTS] < file > copy    # copy equals file; SLOTS: 1 to 64
 *
 * Watch for the two modes: semaphores count slots, a counter sums bytes.
 * Linux only; without pidfd_open (before 5.3, valgrind, seccomp filters) a
 * socket pair shows the death. Tested: glibc and musl, both ways.
 */
/* MAP_ANONYMOUS, and syscall(2) for pidfd_open, which musl and glibc before 2.36 do not wrap */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
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
#define DEFAULT_SLOTS "8"
enum { SLOT_SIZE = 64 * 1024, MAX_SLOTS = 64 };

struct slot {
	atomic_uint length; /* stored last, with release: the data is there; 0: the end */
	unsigned char data[SLOT_SIZE];
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "only lock-free atomics work between processes");
struct ring { /* the slots, three doorbells, and what shows the peer's death */
	struct slot *slots;
	int count, free_slots, filled, bytes, peer;
};

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static void consume(const struct ring *ring);
static eventfd_t produce(const struct ring *ring);
static void wait_for(int fd, int peer);
static _Noreturn void child_ended(int status);
static int write_all(int fd, const void *buf, size_t len);
static int reap_child(void);
static int reap(pid_t child);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static volatile sig_atomic_t child_pid; /* for clean_up and wait_for; 0 in the child */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	const char *slots = argc == 2 ? argv[1] : DEFAULT_SLOTS;
	char *end;
	long count = strtol(slots, &end, 10);
	if (argc > 2 || slots[0] < '1' || slots[0] > '9' || *end != '\0' || count > MAX_SLOTS) {
		fprintf(stderr, "usage: %s [SLOTS]   (default SLOTS: %s, at most %d)\n", PROGRAM,
			DEFAULT_SLOTS, MAX_SLOTS);
		return 2;
	}
	catch_stop_signals();
	if (atexit(clean_up) != 0) /* a parent that fails stops its child too */
		die("atexit", "clean_up", "failed", NULL);
	struct ring ring = { .count = (int)count };

	/* Step 1: the ring, shared over fork; with no name, nothing is left behind. */
	size_t size = (size_t)count * sizeof(struct slot);
	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS wants fd -1 (some systems insist) */
	ring.slots = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ring.slots == MAP_FAILED)
		die("mmap", "ring", strerror(errno), NULL);

	/* Step 2: semaphores count slots, a counter sums bytes; a full counter fails, not hangs.
	 * No EINTR loops on them: a read comes after poll said readable (or does not block),
	 * and a write would block only at a count near 2^64, so no signal can cut one short. */
	ring.free_slots = eventfd((unsigned)count, EFD_SEMAPHORE | EFD_CLOEXEC);
	ring.filled = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	ring.bytes = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ring.free_slots == -1 || ring.filled == -1 || ring.bytes == -1)
		die("eventfd", "doorbells", strerror(errno), NULL);

	/* Step 3: our own pidfd, for the child, opened while we surely live; or a socket pair. */
	int alive[2] = { (int)syscall(SYS_pidfd_open, getpid(), 0), -1 };
	if (alive[0] == -1 && errno != ENOSYS && errno != EPERM)
		die("pidfd_open", "ourselves", strerror(errno), NULL);
	if (alive[0] == -1 && socketpair(AF_UNIX, SOCK_STREAM, 0, alive) == -1)
		die("socketpair", "for the peer's death", strerror(errno), NULL);

	/* Step 4: fork, the stop signals blocked so clean_up knows the child. */
	(void)signal(SIGCHLD, SIG_DFL); /* inherited ignored, the kernel would reap the child */
	sigset_t all, old_mask;
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t child = fork();
	if (child == -1)
		die("fork", "child", strerror(errno), NULL);
	child_pid = child;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);

	/* Step 5: the child keeps alive[0], the parent alive[1] or else a pidfd
	 * of its unreaped child; each closes the other's end. */
	int mine = child != 0, theirs = child == 0; /* the child: alive[0], the parent: alive[1] */
	if (alive[theirs] != -1 && close(alive[theirs]) == -1)
		die("close", "the peer's end", strerror(errno), NULL);
	ring.peer = alive[mine] != -1 ? alive[mine] : (int)syscall(SYS_pidfd_open, child, 0);
	if (ring.peer == -1)
		die("pidfd_open", "child", strerror(errno), NULL);

	/* Step 6: the child writes filled slots out, the parent fills free ones. */
	if (child == 0) {
		consume(&ring);
	} else {
		eventfd_t sent = produce(&ring), counted = 0;

		/* Step 7: the child's end, then the sum of all it added (a counter at 0
		 * fails the read with EAGAIN: the sum is 0). */
		int status = reap_child();
		if (status != 0)
			child_ended(status);
		if (eventfd_read(ring.bytes, &counted) == -1 && errno != EAGAIN)
			die("read", "byte counter", strerror(errno), NULL);
		if (counted != sent)
			die("read", "byte counter", "its sum is not the bytes we sent", NULL);
	}
	if (close(ring.free_slots) == -1 || close(ring.filled) == -1 || close(ring.bytes) == -1 ||
	    close(ring.peer) == -1)
		die("close", "doorbells", strerror(errno), NULL);
	return 0;
}

/* The child: SIGPIPE back to its default, so that a closed output kills us
 * quietly; then wait for a filled slot, write it out, ring "free". */
static void consume(const struct ring *ring)
{
	if (signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		die("signal", "SIGPIPE", strerror(errno), NULL);
	for (int i = 0;; i = (i + 1) % ring->count) {
		const struct slot *slot = &ring->slots[i];
		wait_for(ring->filled, ring->peer);
		size_t n = atomic_load_explicit(&slot->length, memory_order_acquire);
		if (n > SLOT_SIZE) /* shared memory is untrusted */
			die("read", "ring", "a length larger than the slot", NULL);
		if (n == 0)
			return;
		if (write_all(STDOUT_FILENO, slot->data, n) == -1)
			die("write", "standard output", strerror(errno), NULL);
		if (eventfd_write(ring->bytes, n) == -1) /* EAGAIN: the sum would pass 2^64 - 2 */
			die("write", "byte counter",
			    errno == EAGAIN ? "the counter is full" : strerror(errno), NULL);
		if (eventfd_write(ring->free_slots, 1) == -1)
			die("write", "free slots", strerror(errno), NULL);
	}
}

/* The parent: take a free slot, fill it from standard input, ring
 * "filled". An empty slot is the end. Returns the bytes sent. */
static eventfd_t produce(const struct ring *ring)
{
	eventfd_t sent = 0;
	for (int i = 0;; i = (i + 1) % ring->count) {
		struct slot *slot = &ring->slots[i];
		ssize_t n;
		wait_for(ring->free_slots, ring->peer);
		wait_for(STDIN_FILENO, ring->peer); /* a child dying meanwhile is seen */
		while ((n = read(STDIN_FILENO, slot->data, SLOT_SIZE)) == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		/* Release: C orders the data before the length (it promises nothing of eventfd) */
		atomic_store_explicit(&slot->length, (unsigned)n, memory_order_release);
		if (eventfd_write(ring->filled, 1) == -1)
			die("write", "filled slots", strerror(errno), NULL);
		if (n == 0)
			return sent;
		sent += (eventfd_t)n;
	}
}

/* Either side: sleep until fd is readable, and take 1 from a doorbell (standard
 * input the caller reads itself); a peer that ended first ends us too. */
static void wait_for(int fd, int peer)
{
	struct pollfd fds[2] = { { .fd = fd, .events = POLLIN }, { .fd = peer, .events = POLLIN } };
	eventfd_t one;
	while (poll(fds, 2, -1) == -1)
		if (errno != EINTR)
			die("poll", "doorbell", strerror(errno), NULL);
	if (fds[1].revents != 0 && child_pid == 0)
		die("poll", "parent", "the parent died before the end (the output is cut short)",
		    NULL);
	if (fds[1].revents != 0)
		child_ended(reap_child());
	if (fd != STDIN_FILENO && eventfd_read(fd, &one) == -1)
		die("read", "doorbell", strerror(errno), NULL);
}

/* Below: what stops the child when we are stopped or fail, how its end is
 * told, and the error line. */

/* Stop signals and exit run this (async-signal-safe): SIGKILL the child,
 * which has nothing to clean up, and reap it. The child has none to stop. */
static void clean_up(void)
{
	pid_t pid = (pid_t)child_pid;
	child_pid = 0;
	if (pid > 0 && kill(pid, SIGKILL) == 0) /* unreaped (reap_child): still the child's pid */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
}

/* The child ended early or failed. Killed by SIGPIPE, it found standard
 * output closed: we end as quietly. One that exited said why itself. */
static _Noreturn void child_ended(int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: child killed by signal %d\n", PROGRAM, WTERMSIG(status));
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

/* The child's status once it has ended: its pid is forgotten while it is still
 * a zombie (WNOWAIT), so that clean_up never kills a pid the kernel gave away. */
static int reap_child(void)
{
	siginfo_t info;
	while (waitid(P_PID, (id_t)child_pid, &info, WEXITED | WNOWAIT) == -1)
		if (errno != EINTR)
			die("waitid", "child", strerror(errno), NULL);
	pid_t child = (pid_t)child_pid;
	child_pid = 0;
	return reap(child);
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
