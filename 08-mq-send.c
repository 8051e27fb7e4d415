/*
 * 08-mq-send: send standard input through a POSIX message queue, one
 * message per chunk, then an empty message that marks the end.
 *
 *   ./08-mq-recv /demo > copy &     # either side may start first
 *   ./08-mq-send /demo < file
 *
 * NAME defaults to /ipc-08-<uid>. Whichever side starts first creates the
 * queue; the receiver removes it. Watch for: a queue has no idea who reads
 * it, so a sender whose receiver died waits on a full queue until you stop
 * it (Ctrl-C), where a FIFO would have failed with EPIPE.
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

#define PROGRAM "08-mq-send"
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

/* The queue to remove if we stop before the end; a half-sent stream is of
 * no use to anyone, and a queue nobody reads would outlive us. */
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

/* Ctrl-C, SIGTERM, SIGHUP: clean up, then die of the same signal so the
 * shell sees how we ended. signal and raise are async-signal-safe; on
 * mq_unlink see remove_queue. */
static void on_signal(int sig)
{
	remove_queue();
	signal(sig, SIG_DFL);
	raise(sig);
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

	/* Step 1: open the queue, creating it if the receiver has not. O_CREAT
	 * without O_EXCL does "create or open" in one atomic step, so neither
	 * side has to know which came first; the owner check below is what
	 * keeps us away from a queue someone else made. */
	struct mq_attr wanted = { .mq_maxmsg = QUEUE_MESSAGES, .mq_msgsize = MESSAGE_SIZE };
	mqd_t queue = mq_open(name, O_WRONLY | O_CREAT, 0600, &wanted);
	if (queue == (mqd_t)-1)
		die("mq_open", name, strerror(errno),
		    errno == EINVAL ? "see the limits in /proc/sys/fs/mqueue" : NULL);

	/* Step 2: the queue must be ours. Linux-specific: there an mqd_t is a
	 * file descriptor on the mqueue file system, so fstat gives the owner;
	 * POSIX itself offers no way to ask. */
	struct stat owner;
	if (fstat(queue, &owner) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (owner.st_uid != geteuid())
		die("mq_open", name, "Queue exists and belongs to another user", "pass another NAME");
	queue_name = name;
	must_remove = 1; /* until the end-of-stream message is in the queue */
	if (atexit(remove_queue) != 0)
		die("atexit", "remove_queue", "failed", NULL);

	/* Step 3: an existing queue keeps the attributes it was created with;
	 * ours were ignored. Size messages from what the queue really has. */
	struct mq_attr actual;
	if (mq_getattr(queue, &actual) == -1)
		die("mq_getattr", name, strerror(errno), NULL);
	if (actual.mq_msgsize < 1 || actual.mq_msgsize > MESSAGE_SIZE_LIMIT)
		die("mq_getattr", name, "message size out of range", "remove the queue or pass another NAME");
	char *message = malloc((size_t)actual.mq_msgsize);
	if (message == NULL)
		die("malloc", "message buffer", strerror(errno), NULL);

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 4: one message per read. All go at priority 0: a higher
	 * priority would overtake the messages already waiting. mq_send
	 * blocks while the queue is full; a signal still stops us there. */
	for (;;) {
		ssize_t n = read(STDIN_FILENO, message, (size_t)actual.mq_msgsize);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		/* n == 0: an empty message is our end-of-stream mark; data
		 * messages are never empty, so the receiver cannot mistake one. */
		while (mq_send(queue, message, (size_t)n, 0) == -1)
			if (errno != EINTR)
				die("mq_send", name, strerror(errno), NULL);
		if (n == 0)
			break;
	}

	/* Step 5: the stream is complete; the receiver removes the queue. */
	must_remove = 0;
	free(message);
	if (mq_close(queue) == -1)
		die("mq_close", name, strerror(errno), NULL);
	return 0;
}
