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
 * of data through a queue of a few kilobytes. Messages are up to 4096
 * bytes: Linux's msgmax is 8192, but some systems (the BSDs, macOS) allow
 * only 2048 by default; there msgsnd fails, and we say which limit.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "06-msgq-send"
#define PROJECT_ID 'q'

/* The protocol both programs agree on: DATA messages carry the bytes in
 * order; one empty END message says the stream is complete, so the
 * receiver can tell a finished sender from one that died. The side that
 * creates the queue leaves one ticket for its partner, carrying its pid. */
enum { DATA = 1, END = 2, TICKET_FOR_SENDER = 3, TICKET_FOR_RECEIVER = 4 };
enum { MESSAGE_BYTES = 4096 };
struct message {
	long type;
	char bytes[MESSAGE_BYTES];
};
struct ticket {
	long type;
	pid_t pid;
};

static void catch_stop_signals(void);
static pid_t take_ticket(int id, const char *queue, long type);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);
static void clean_up(void);

/* The queue clean_up removes: set once it is ours. Removing it is what
 * tells a waiting receiver (EIDRM) that the stream was cut short. */
static volatile sig_atomic_t queue_to_remove = -1;

int main(int argc, char *argv[])
{
	const char *keypath = argc == 2 ? argv[1] : getenv("HOME");
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [KEYPATH]   (default KEYPATH: $HOME)\n", PROGRAM);
		return 2;
	}
	if (keypath == NULL || keypath[0] == '\0')
		die("getenv", "HOME", "not set", "pass a KEYPATH");
	catch_stop_signals();

	/* Step 1: turn KEYPATH into a key. Same file, same key: that is how
	 * two unrelated programs find the same queue. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");
	char queue[32], remove_it[64];
	(void)snprintf(queue, sizeof queue, "queue 0x%08lx", (unsigned long)key);

	/* Step 2: create the queue, or find the one the receiver made.
	 * IPC_EXCL first tells us which; an existing queue must be ours. */
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	int created = id != -1;
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
	(void)snprintf(remove_it, sizeof remove_it, "pass another KEYPATH, or if none runs: ipcrm -q %d", id);

	/* Step 3: claim the queue. Its creator leaves a ticket for the other
	 * side; msgrcv hands a message to one process only, so a second
	 * sender finds none. The ticket names the receiver, which must run. */
	pid_t receiver = 0;
	if (!created && (receiver = take_ticket(id, queue, TICKET_FOR_SENDER)) == 0)
		die("msgget", queue, "already has a sender, or a killed run left it", remove_it);
	queue_to_remove = id; /* until END is sent */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);
	if (!created && kill(receiver, 0) == -1)
		die("msgget", queue, "its 06-msgq-recv is gone", "now removed: run the pair again");
	struct ticket ticket = { TICKET_FOR_RECEIVER, getpid() };
	if (created && msgsnd(id, &ticket, sizeof ticket.pid, 0) == -1)
		die("msgsnd", queue, strerror(errno), NULL);

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 4: one DATA message per read, then END. msgsnd waits while the
	 * queue is full, until the receiver makes room. */
	static struct message message;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, message.bytes, sizeof message.bytes);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		message.type = n == 0 ? END : DATA;
		while (msgsnd(id, &message, (size_t)n, 0) == -1) {
			struct msqid_ds info;
			if (errno == EINTR)
				continue;
			/* Removed while we waited: EIDRM; removed between two
			 * calls: EINVAL, as for any id that does not exist. A
			 * queue still there gives EINVAL for a message over the
			 * system's msgmax. */
			if (errno == EIDRM || (errno == EINVAL && msgctl(id, IPC_STAT, &info) == -1))
				die("msgsnd", queue, strerror(EIDRM), "06-msgq-recv removed it before the end");
			if (errno == EINVAL)
				die("msgsnd", queue, "message larger than msgmax",
				    "on Linux: /proc/sys/kernel/msgmax");
			die("msgsnd", queue, strerror(errno), NULL);
		}
		if (n == 0)
			break;
	}

	/* Step 5: END is in the queue; the receiver removes it. */
	queue_to_remove = -1;
	return 0;
}

/* Below: what removes the queue when we are stopped early, and what
 * keeps a second sender out; the error line. */

/* Take the ticket of TYPE and return the pid it carries; 0 if there is
 * none. A queue just made by the other side may not hold its ticket yet:
 * until that side has sent anything (msg_lspid), we wait for it, 2 s at
 * most, which is ample unless it was killed in between. */
static pid_t take_ticket(int id, const char *queue, long type)
{
	struct ticket ticket;
	for (int tries = 0; tries < 200; tries++) {
		ssize_t n = msgrcv(id, &ticket, sizeof ticket.pid, type, IPC_NOWAIT);
		if (n == (ssize_t)sizeof ticket.pid && ticket.pid > 0)
			return ticket.pid;
		if (n != -1) /* the peer's word is never trusted */
			die("msgrcv", queue, "a ticket out of the protocol", NULL);
		if (errno != ENOMSG && errno != EINTR)
			die("msgrcv", queue, strerror(errno), NULL);
		struct msqid_ds info;
		if (msgctl(id, IPC_STAT, &info) == -1)
			die("msgctl IPC_STAT", queue, strerror(errno), NULL);
		if (info.msg_lspid != 0)
			return 0; /* it was sent, and someone took it */
		struct timespec pause = { 0, 10000000 };
		(void)nanosleep(&pause, NULL); /* woken early by a signal: fine */
	}
	return 0;
}

/* Remove the queue if it is ours and not yet removed. Not on POSIX's
 * async-signal-safe list, but on Linux msgctl is one system call: no
 * lock, no allocation, so on_stop_signal may call it. */
static void clean_up(void)
{
	if (queue_to_remove != -1) {
		(void)msgctl(queue_to_remove, IPC_RMID, NULL); /* NOLINT(bugprone-signal-handler,cert-sig30-c): see above */
		queue_to_remove = -1;
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
