/*
 * 06-msgq-recv: write the bytes of System V messages to standard output
 * until the end-of-stream message, then remove the queue.
 *
 *   ./06-msgq-recv demo.key > copy &     # either side may start first
 *   ./06-msgq-send demo.key < file
 *
 * The queue is found by ftok(KEYPATH, 'q'): KEYPATH must be an existing
 * file both sides can see (default: your home directory).
 * Watch for: a queue outlives both programs. One left by a crashed run is
 * found again under the same key, old messages and all (see README).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

#define PROGRAM "06-msgq-recv"
#define PROJECT_ID 'q'

/* The protocol both programs agree on (see 06-msgq-send.c). */
enum { DATA = 1, END = 2, MESSAGE_BYTES = 4096 };
struct message {
	long type;
	char bytes[MESSAGE_BYTES];
};

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

/* The receiver removes the queue however it ends. */
static volatile sig_atomic_t queue_to_remove = -1;

static void remove_queue(void)
{
	if (queue_to_remove != -1) {
		/* Best effort: nobody is left to tell. Not on POSIX's
		 * async-signal-safe list, but on Linux msgctl is a single
		 * system call, no lock, no allocation: safe in on_signal. */
		(void)msgctl(queue_to_remove, IPC_RMID, NULL); // NOLINT(bugprone-signal-handler,cert-sig30-c)
		queue_to_remove = -1;
	}
}

/* Ctrl-C, SIGTERM, SIGHUP (and SIGPIPE from standard output, called by
 * hand): clean up, then die of the same signal so the shell sees how we
 * ended. */
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
	const char *keypath = argc == 2 ? argv[1] : getenv("HOME");
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [KEYPATH]   (default KEYPATH: $HOME)\n", PROGRAM);
		return 2;
	}
	if (keypath == NULL || keypath[0] == '\0')
		die("getenv", "HOME", "not set", "pass a KEYPATH");

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

	/* Step 1: turn KEYPATH into a key. Same file, same key. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");
	char queue[32];
	(void)snprintf(queue, sizeof queue, "queue 0x%08lx", (unsigned long)key);

	/* Step 2: create the queue, or find the one the sender made. An
	 * existing queue must be ours: anyone who can stat KEYPATH can
	 * compute its key and create a queue there first. */
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 && errno == EEXIST) {
		struct msqid_ds info;
		id = msgget(key, 0);
		if (id == -1)
			die("msgget", queue, strerror(errno), NULL);
		if (msgctl(id, IPC_STAT, &info) == -1)
			die("msgctl IPC_STAT", queue, strerror(errno), NULL);
		if (info.msg_perm.uid != geteuid() || info.msg_perm.cuid != geteuid())
			die("msgget", queue, "belongs to another user", "pass another KEYPATH");
	}
	if (id == -1)
		die("msgget", queue, strerror(errno), NULL);
	queue_to_remove = id;
	if (atexit(remove_queue) != 0)
		die("atexit", "remove_queue", "failed", NULL);

	/* Step 3: take messages in order (type 0: whatever comes first) and
	 * write their bytes out until END. A message is data from another
	 * process: its type is checked, and msgrcv itself refuses one larger
	 * than our buffer (E2BIG) instead of overflowing it. */
	static struct message message;
	for (;;) {
		ssize_t n = msgrcv(id, &message, sizeof message.bytes, 0, 0);
		if (n == -1 && errno == EINTR)
			continue;
		/* Removed while we waited: EIDRM; removed between two calls:
		 * EINVAL, as for any id that does not exist. */
		if (n == -1 && (errno == EIDRM || errno == EINVAL))
			die("msgrcv", queue, strerror(EIDRM),
			    "06-msgq-send stopped before the end of the stream");
		if (n == -1)
			die("msgrcv", queue, strerror(errno), NULL);
		if (message.type == END)
			break;
		if (message.type != DATA)
			die("msgrcv", queue, "unknown message type", "is another program using this key?");
		if (write_all(STDOUT_FILENO, message.bytes, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 4: the stream is complete: remove the queue. */
	queue_to_remove = -1;
	if (msgctl(id, IPC_RMID, NULL) == -1)
		die("msgctl IPC_RMID", queue, strerror(errno), NULL);
	return 0;
}
