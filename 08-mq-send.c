/*
 * 08-mq-send: send standard input through a POSIX message queue, one
 * message per chunk, between a message that opens the stream and one
 * that ends it.
 *
 *   ./08-mq-recv /demo > copy &     # either side may start first
 *   ./08-mq-send /demo < file
 *
 * NAME defaults to /ipc-08-<uid>. Whichever side starts first creates the
 * queue; the receiver removes it. Watch for: a queue has no idea who reads
 * it; here each side locks a byte of the queue, so that the other can see
 * whether it still runs.
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

#define PROGRAM "08-mq-send"
/* Within Linux's defaults for unprivileged users (/proc/sys/fs/mqueue:
 * msg_max 10, msgsize_max 8192); larger values make mq_open fail. */
enum { QUEUE_MESSAGES = 10, MESSAGE_SIZE = 8192 };
/* The most we accept from a queue someone else sized (Linux allows 16 MiB). */
enum { MESSAGE_SIZE_LIMIT = 1024 * 1024 };
/* The protocol both programs agree on: HELLO opens the stream, data
 * messages (never empty) follow at priority 0, END closes it; HELLO and
 * END are empty. Each side locks its own byte of the queue while it runs. */
enum { DATA = 0, HELLO = 1, END = 2, SENDER_BYTE = 0, RECEIVER_BYTE = 1 };

static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static void catch_stop_signals(void);
static pid_t claim(mqd_t queue, int byte);
static pid_t holder(mqd_t queue, int byte);
static void send(mqd_t queue, const char *name, const char *buf, size_t len, unsigned priority);
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

	/* Step 1: open the queue, creating it if the receiver has not. O_CREAT
	 * without O_EXCL does "create or open" in one atomic step, so neither
	 * side has to know which came first. */
	struct mq_attr wanted = { .mq_maxmsg = QUEUE_MESSAGES, .mq_msgsize = MESSAGE_SIZE };
	mqd_t queue = mq_open(name, O_WRONLY | O_CREAT, 0600, &wanted);
	if (queue == (mqd_t)-1)
		die("mq_open", name, strerror(errno),
		    errno == EINVAL ? "over the limits in /proc/sys/fs/mqueue (Linux)"
		    : errno == EMFILE || errno == ENOMEM ? "over the per-user limit on queue memory: ulimit -q"
		    : NULL);

	/* Step 2: the queue must be ours. Linux-specific: there an mqd_t is a
	 * file descriptor on the mqueue file system, so fstat gives the owner;
	 * POSIX itself offers no way to ask. */
	struct stat owner;
	if (fstat(queue, &owner) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (owner.st_uid != geteuid())
		die("mq_open", name, "Queue exists and belongs to another user", "pass another NAME");

	/* Step 3: claim the sender's byte. A record lock is exclusive, and the
	 * kernel releases it however we end, even killed by SIGKILL. A queue
	 * that holds messages already is another run's. */
	pid_t other = claim(queue, SENDER_BYTE);
	if (other != 0) {
		char reason[64];
		(void)snprintf(reason, sizeof reason, "already has a sender, process %ld", (long)other);
		die("mq_open", name, reason, "pass another NAME");
	}
	struct mq_attr actual;
	if (mq_getattr(queue, &actual) == -1)
		die("mq_getattr", name, strerror(errno), NULL);
	if (actual.mq_curmsgs != 0) /* another run's: not ours to remove */
		die("mq_open", name, "holds the messages of an earlier run",
		    "read them with 08-mq-recv, or pass another NAME");
	queue_name = name;
	must_remove = 1; /* until END is in the queue */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 4: an existing queue keeps the attributes it was created with;
	 * ours were ignored. Size messages from what the queue really has. */
	if (actual.mq_msgsize < 1 || actual.mq_msgsize > MESSAGE_SIZE_LIMIT)
		die("mq_getattr", name, "message size over this program's limit of 1 MiB",
		    "remove the queue or pass another NAME");
	char *message = malloc((size_t)actual.mq_msgsize);
	if (message == NULL)
		die("malloc", "message buffer", strerror(errno), NULL);

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 5: HELLO, then one message per read at priority 0: they come
	 * out in order. END last, at a higher priority: it overtakes the data
	 * still waiting, which tells a receiver that the rest is all there. */
	send(queue, name, message, 0, HELLO);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, message, (size_t)actual.mq_msgsize);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		if (n == 0)
			break;
		send(queue, name, message, (size_t)n, DATA);
	}
	send(queue, name, message, 0, END);

	/* Step 6: the stream is complete; the receiver removes the queue. */
	must_remove = 0;
	free(message);
	if (mq_close(queue) == -1)
		die("mq_close", name, strerror(errno), NULL);
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

/* Below: what tells who else uses the queue, what keeps a dead receiver
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

/* mq_send in rounds of 200 ms while the queue is full, so that a receiver
 * that is gone is noticed, and once more before END: when nobody holds the
 * receiver's byte, yet some of our messages were taken, the one who took
 * them has gone, and nobody will read the rest; nor will anyone read a
 * queue whose name was removed. */
static void send(mqd_t queue, const char *name, const char *buf, size_t len, unsigned priority)
{
	static long sent;
	for (int look = priority == END;; look = 1) {
		struct mq_attr attr;
		if (look && holder(queue, RECEIVER_BYTE) == 0) {
			if (mq_getattr(queue, &attr) == -1)
				die("mq_getattr", name, strerror(errno), NULL);
			if (attr.mq_curmsgs < sent)
				die("mq_send", name, "08-mq-recv stopped before the end of the stream", NULL);
		}
		struct stat st; /* removed under us: no receiver can find it again */
		if (look && (fstat(queue, &st) == -1 || st.st_nlink == 0))
			die("mq_send", name, "the queue was removed", "run the pair again");
		struct timespec deadline;
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_nsec += 200000000;
		deadline.tv_sec += deadline.tv_nsec / 1000000000;
		deadline.tv_nsec %= 1000000000;
		if (mq_timedsend(queue, buf, len, priority, &deadline) == 0) {
			sent++;
			return;
		}
		if (errno != EINTR && errno != ETIMEDOUT)
			die("mq_send", name, strerror(errno), NULL);
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
