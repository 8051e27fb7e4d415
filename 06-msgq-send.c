/*
 * 06-msgq-send: send standard input as System V messages, then an
 * end-of-stream message.
 *
 *   ./06-msgq-recv demo.key > copy &     # either side may start first
 *   ./06-msgq-send demo.key < file
 *
 * The queue is found by ftok(KEYPATH, 'q'): KEYPATH must be an existing
 * file both sides can see (default: your home directory, so two users get
 * two queues). The receiver removes the queue at the end of the stream.
 * Watch for: a full queue makes msgsnd wait; that is what lets any amount
 * of data through a queue of a few kilobytes.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

#define PROGRAM "06-msgq-send"
#define PROJECT_ID 'q'

/* The protocol both programs agree on: DATA messages carry the bytes in
 * order; one empty END message says the stream is complete, so the
 * receiver can tell a finished sender from one that died. */
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

/* The queue to remove if we stop before END is sent: removing it is what
 * tells a waiting receiver (EIDRM) that the stream was cut short. */
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

/* Ctrl-C, SIGTERM, SIGHUP: clean up, then die of the same signal so the
 * shell sees how we ended. */
static void on_signal(int sig)
{
	remove_queue();
	signal(sig, SIG_DFL);
	raise(sig);
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

	/* Step 1: turn KEYPATH into a key. Same file, same key: that is how
	 * two unrelated programs find the same queue. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");
	char queue[32];
	(void)snprintf(queue, sizeof queue, "queue 0x%08lx", (unsigned long)key);

	/* Step 2: create the queue, or find the one the receiver made.
	 * IPC_EXCL first tells us which; an existing queue must be ours. */
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

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 3: one DATA message per read. msgsnd waits while the queue
	 * is full, until the receiver makes room. */
	static struct message message;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, message.bytes, sizeof message.bytes);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		message.type = n == 0 ? END : DATA;
		while (msgsnd(id, &message, (size_t)n, 0) == -1) {
			if (errno == EINTR)
				continue;
			/* Removed while we waited: EIDRM; removed between two
			 * calls: EINVAL, as for any id that does not exist. */
			if (errno == EIDRM || errno == EINVAL)
				die("msgsnd", queue, strerror(EIDRM), "06-msgq-recv removed it before the end");
			die("msgsnd", queue, strerror(errno), NULL);
		}
		if (n == 0)
			break;
	}

	/* Step 4: END is in the queue; the receiver removes it. */
	queue_to_remove = -1;
	return 0;
}
