/*
 * 08-mq-recv: copy the messages of a POSIX message queue to standard
 * output until the empty end-of-stream message, then remove the queue.
 *
 *   ./08-mq-recv /demo > copy &     # either side may start first
 *   ./08-mq-send /demo < file
 *
 * NAME defaults to /ipc-08-<uid>. Whichever side starts first creates the
 * queue; the receiver removes it, whether it succeeds or not. Watch for:
 * mq_receive needs a buffer of the queue's full message size, which only
 * mq_getattr can tell you when someone else created the queue.
 * Linux only as written: the owner check and the claim treat the queue
 * descriptor as a file (fstat, fcntl locks), which POSIX does not promise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "08-mq-recv"
/* Within Linux's defaults for unprivileged users (/proc/sys/fs/mqueue:
 * msg_max 10, msgsize_max 8192); larger values make mq_open fail. */
enum { QUEUE_MESSAGES = 10, MESSAGE_SIZE = 8192 };
/* The most we accept from a queue someone else sized (Linux allows 16 MiB). */
enum { MESSAGE_SIZE_LIMIT = 1024 * 1024 };
/* The protocol (see 08-mq-send.c): HELLO opens the stream, data messages
 * (never empty) follow at priority 0, END closes it; HELLO and END are
 * empty. Each side locks its own byte of the queue while it runs. */
enum { DATA = 0, HELLO = 1, END = 2, SENDER_BYTE = 0, RECEIVER_BYTE = 1 };

static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static void catch_stop_signals(void);
static pid_t claim(mqd_t queue, int byte);
static pid_t holder(mqd_t queue, int byte);
static long queued(mqd_t queue, const char *name);
static ssize_t receive(mqd_t queue, const char *name, char *buf, size_t size,
		       unsigned *priority, int begun);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);
static void clean_up(void);

/* The queue clean_up removes: set once it is ours. */
static const char *queue_name;
static volatile sig_atomic_t must_remove;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	/* static: clean_up may read it through queue_name as exit runs.
	 * 64 bytes hold the longest uid, so snprintf cannot truncate. */
	static char default_name[64];
	(void)snprintf(default_name, sizeof default_name, "/ipc-08-%ld", (long)getuid());
	if (argc > 2 || (argc == 2 && !valid_name(argv[1]))) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	const char *name = argc == 2 ? argv[1] : default_name;
	catch_stop_signals();

	/* Step 1: open the queue, creating it if the sender has not. O_CREAT
	 * without O_EXCL does "create or open" in one atomic step, so neither
	 * side has to know which came first. O_RDWR, not O_RDONLY: the claim
	 * below is a write lock. */
	struct mq_attr wanted = { .mq_maxmsg = QUEUE_MESSAGES, .mq_msgsize = MESSAGE_SIZE };
	mqd_t queue = mq_open(name, O_RDWR | O_CREAT, 0600, &wanted);
	if (queue == (mqd_t)-1)
		die("mq_open", name, strerror(errno),
		    errno == EINVAL ? "over the limits in /proc/sys/fs/mqueue (Linux)"
		    : errno == EMFILE || errno == ENOMEM ? "over the per-user limit on queue memory: ulimit -q"
		    : NULL);

	/* Step 2: the queue must be ours before we read or remove it.
	 * Linux-specific: there an mqd_t is a file descriptor on the mqueue
	 * file system, so fstat gives the owner; POSIX offers no way to ask. */
	struct stat owner;
	if (fstat(queue, &owner) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (owner.st_uid != geteuid())
		die("mq_open", name, "Queue exists and belongs to another user", "pass another NAME");

	/* Step 3: claim the receiver's byte. A record lock is exclusive, and
	 * the kernel releases it however we end, even killed by SIGKILL. */
	pid_t other = claim(queue, RECEIVER_BYTE);
	if (other != 0) {
		char reason[64];
		(void)snprintf(reason, sizeof reason, "already has a receiver, process %ld", (long)other);
		die("mq_open", name, reason, "pass another NAME");
	}
	queue_name = name;
	must_remove = 1; /* from here on, every way out removes it */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 4: mq_receive fails with EMSGSIZE unless the buffer holds the
	 * queue's largest message, and an existing queue keeps the attributes
	 * it was created with: ask it, and refuse a size we will not allocate. */
	struct mq_attr actual;
	if (mq_getattr(queue, &actual) == -1)
		die("mq_getattr", name, strerror(errno), NULL);
	if (actual.mq_msgsize < 1 || actual.mq_msgsize > MESSAGE_SIZE_LIMIT)
		die("mq_getattr", name, "message size over this program's limit of 1 MiB",
		    "remove the queue or pass another NAME");
	size_t capacity = (size_t)actual.mq_msgsize;
	char *message = malloc(capacity);
	if (message == NULL)
		die("malloc", "message buffer", strerror(errno), NULL);

	/* Step 5: HELLO opens the stream; data messages come out in the order
	 * they went in; END, sent last but at a higher priority, overtakes
	 * them: once it is here, the rest of the stream is in the queue. A
	 * queue that holds messages while no sender runs must show END first:
	 * else its sender was killed, and the stream will never be whole. */
	int hello = 0, ending = 0;
	int orphaned = holder(queue, SENDER_BYTE) == 0 && queued(queue, name) > 0;
	while (!ending || queued(queue, name) > 0) {
		unsigned priority;
		ssize_t n = receive(queue, name, message, capacity, &priority, hello);
		if (orphaned && priority != END)
			die("mq_open", name, "holds part of a stream whose sender is gone",
			    "now removed: run the pair again");
		orphaned = 0;
		if (priority == END && n == 0)
			ending = 1;
		else if (priority == HELLO && n == 0 && !hello)
			hello = 1;
		else if (!hello) /* the start went to another receiver */
			die("mq_receive", name, "the stream began before we came", "run the pair again");
		else if (priority != DATA || n == 0) /* the peer's word is never trusted */
			die("mq_receive", name, "a message out of the protocol", NULL);
		else if (write_all(STDOUT_FILENO, message, (size_t)n) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				clean_up();
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 6: the stream is complete: remove the queue, then let go of it
	 * (closing it drops our lock: no receiver may claim it before). */
	must_remove = 0;
	if (mq_unlink(name) == -1 && errno != ENOENT)
		die("mq_unlink", name, strerror(errno), NULL);
	if (mq_close(queue) == -1)
		die("mq_close", name, strerror(errno), NULL);
	free(message);
	return 0;
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

/* Below: what tells who else uses the queue, what keeps a dead sender
 * from hanging us, what removes the queue when we are stopped early. */

/* Lock byte BYTE of the queue (Linux: an mqd_t is a file descriptor).
 * 0 when we hold it, else the pid of the process that does. */
static pid_t claim(mqd_t queue, int byte)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	while (fcntl(queue, F_SETLK, &lock) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			die("fcntl", "queue lock", strerror(errno), NULL);
		pid_t other = holder(queue, byte);
		if (other != 0)
			return other; /* 0: let go meanwhile, so try again */
	}
	return 0;
}

/* The pid of the process that locks BYTE, 0 if none or we do. */
static pid_t holder(mqd_t queue, int byte)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	if (fcntl(queue, F_GETLK, &lock) == -1)
		die("fcntl", "queue lock", strerror(errno), NULL);
	return lock.l_type == F_UNLCK ? 0 : lock.l_pid;
}

/* How many messages wait in the queue. */
static long queued(mqd_t queue, const char *name)
{
	struct mq_attr attr;
	if (mq_getattr(queue, &attr) == -1)
		die("mq_getattr", name, strerror(errno), NULL);
	return attr.mq_curmsgs;
}

/* mq_receive in rounds of 200 ms, so that a sender that is gone is noticed:
 * once the stream has begun, nobody on the sender's byte and then an empty
 * queue (in that order: a sender sends its end before it exits) mean that
 * the end will never come; so does a queue whose name was removed. */
static ssize_t receive(mqd_t queue, const char *name, char *buf, size_t size,
		       unsigned *priority, int begun)
{
	for (;;) {
		struct timespec deadline;
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_nsec += 200000000;
		deadline.tv_sec += deadline.tv_nsec / 1000000000;
		deadline.tv_nsec %= 1000000000;
		ssize_t n = mq_timedreceive(queue, buf, size, priority, &deadline);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != ETIMEDOUT)
			die("mq_receive", name, strerror(errno), NULL);
		if (begun && errno == ETIMEDOUT && holder(queue, SENDER_BYTE) == 0 &&
		    queued(queue, name) == 0)
			die("mq_receive", name, "08-mq-send stopped before the end of the stream", NULL);
		struct stat st; /* removed under us: no sender can find it again */
		if (fstat(queue, &st) == -1 || st.st_nlink == 0)
			die("mq_receive", name, "the queue was removed", "run the pair again");
	}
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

/* Remove the queue if it is ours and not yet removed. Not on POSIX's
 * async-signal-safe list, but on Linux mq_unlink is one system call: no
 * lock, no allocation, so on_stop_signal may call it. */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)mq_unlink(queue_name); /* NOLINT(bugprone-signal-handler,cert-sig30-c): see above */
	}
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
