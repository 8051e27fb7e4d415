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
#include <unistd.h>

#define PROGRAM "08-mq-recv"
/* Within Linux's defaults for unprivileged users (/proc/sys/fs/mqueue:
 * msg_max 10, msgsize_max 8192); larger values make mq_open fail. */
enum { QUEUE_MESSAGES = 10, MESSAGE_SIZE = 8192 };
/* The most we accept from a queue someone else sized (Linux allows 16 MiB). */
enum { MESSAGE_SIZE_LIMIT = 1024 * 1024 };

/* One line on stderr, "program: call object: reason (fix)", then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	if (fix)
		fprintf(stderr, "%s: %s %s: %s (%s)\n", PROGRAM, call, object, reason, fix);
	else
		fprintf(stderr, "%s: %s %s: %s\n", PROGRAM, call, object, reason);
	exit(1);
}

/* The queue to remove if we stop early; set before any signal can use it. */
static const char *queue_name;
static volatile sig_atomic_t must_remove;

static void remove_queue(void)
{
	if (must_remove) {
		must_remove = 0;
		/* Not on POSIX's async-signal-safe list, but on Linux mq_unlink
		 * is one system call: no lock, no allocation.
		 * NOLINTNEXTLINE(bugprone-signal-handler,cert-sig30-c) */
		(void)mq_unlink(queue_name); /* best effort: nobody is left to tell */
	}
}

/* Ctrl-C, SIGTERM, SIGHUP (and SIGPIPE from standard output, called by
 * hand): clean up, then die of the same signal so the shell sees how we
 * ended. signal and raise are async-signal-safe; on mq_unlink see
 * remove_queue. */
static void on_signal(int sig)
{
	remove_queue();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* write() may take only part of the buffer (pipes, signals): loop. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	/* static: the atexit handler may use it after main has returned.
	 * 64 bytes hold the longest uid, so snprintf cannot truncate. */
	static char default_name[64];
	(void)snprintf(default_name, sizeof default_name, "/ipc-08-%ld", (long)getuid());
	/* Portable queue names are "/" and a name without further slashes. */
	if (argc > 2 || (argc == 2 && (argv[1][0] != '/' || argv[1][1] == '\0' ||
				       strchr(argv[1] + 1, '/') != NULL ||
				       strlen(argv[1]) > NAME_MAX))) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	const char *name = argc == 2 ? argv[1] : default_name;

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
	/* A closed standard output (| head) must still let us remove the
	 * queue before we go, so SIGPIPE is ignored and EPIPE handled below. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);

	/* Step 1: open the queue, creating it if the sender has not. O_CREAT
	 * without O_EXCL does "create or open" in one atomic step, so neither
	 * side has to know which came first; the owner check below is what
	 * keeps us away from a queue someone else made. */
	struct mq_attr wanted = { .mq_maxmsg = QUEUE_MESSAGES, .mq_msgsize = MESSAGE_SIZE };
	mqd_t queue = mq_open(name, O_RDONLY | O_CREAT, 0600, &wanted);
	if (queue == (mqd_t)-1)
		die("mq_open", name, strerror(errno),
		    errno == EINVAL ? "see the limits in /proc/sys/fs/mqueue" : NULL);

	/* Step 2: the queue must be ours before we read or remove it.
	 * Linux-specific: there an mqd_t is a file descriptor on the mqueue
	 * file system, so fstat gives the owner; POSIX offers no way to ask. */
	struct stat owner;
	if (fstat(queue, &owner) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (owner.st_uid != geteuid())
		die("mq_open", name, "Queue exists and belongs to another user", "pass another NAME");
	queue_name = name;
	must_remove = 1; /* from here on, every way out removes it */
	if (atexit(remove_queue) != 0)
		die("atexit", "remove_queue", "failed", NULL);

	/* Step 3: mq_receive fails with EMSGSIZE unless the buffer holds the
	 * queue's largest message, and an existing queue keeps the attributes
	 * it was created with: ask it, and refuse a size we will not allocate. */
	struct mq_attr actual;
	if (mq_getattr(queue, &actual) == -1)
		die("mq_getattr", name, strerror(errno), NULL);
	if (actual.mq_msgsize < 1 || actual.mq_msgsize > MESSAGE_SIZE_LIMIT)
		die("mq_getattr", name, "message size out of range", "remove the queue or pass another NAME");
	size_t capacity = (size_t)actual.mq_msgsize;
	char *message = malloc(capacity);
	if (message == NULL)
		die("malloc", "message buffer", strerror(errno), NULL);

	/* Step 4: messages come out in the order they went in (all have the
	 * same priority); an empty one ends the stream. */
	for (;;) {
		ssize_t n = mq_receive(queue, message, capacity, NULL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("mq_receive", name, strerror(errno), NULL);
		if ((size_t)n > capacity) /* the peer's word is never trusted */
			die("mq_receive", name, "message longer than the buffer", NULL);
		if (n == 0)
			break;
		if (write_all(STDOUT_FILENO, message, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 5: the stream is complete; remove the queue and report failure. */
	free(message);
	if (mq_close(queue) == -1)
		die("mq_close", name, strerror(errno), NULL);
	must_remove = 0;
	if (mq_unlink(name) == -1 && errno != ENOENT)
		die("mq_unlink", name, strerror(errno), NULL);
	return 0;
}
