/*
 * 06-msgq-recv: write the bytes of System V messages to standard output
 * until the end-of-stream message, then remove the queue.
 *
 *   ./06-msgq-recv demo.key > copy &     # either side may start first
 *   ./06-msgq-send demo.key < file
 *
 * The queue is found by ftok(KEYPATH, 'q'): KEYPATH must be an existing
 * file both sides can see (default: your home directory). Watch for: a
 * queue outlives both programs; one left by a killed run is found again
 * under the same key, old messages and all, and refused (see README).
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

#define PROGRAM "06-msgq-recv"
#define PROJECT_ID 'q'

/* The protocol (see 06-msgq-send.c): DATA messages carry the bytes in
 * order, one empty END message closes the stream; the side that creates
 * the queue leaves one ticket for its partner, carrying its own pid. */
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
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);
static void clean_up(void);

/* The queue clean_up removes: set once it is ours. */
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

	/* Step 1: turn KEYPATH into a key. Same file, same key. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");
	char queue[32], remove_it[64];
	(void)snprintf(queue, sizeof queue, "queue 0x%08lx", (unsigned long)key);

	/* Step 2: create the queue, or find the one the sender made. An
	 * existing queue must be ours: anyone who can stat KEYPATH can
	 * compute its key and create a queue there first. */
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
	 * receiver finds none. The ticket names the sender: if it is gone,
	 * the stream it left must be whole (msgrcv can look for END alone). */
	pid_t sender = 0;
	if (!created && (sender = take_ticket(id, queue, TICKET_FOR_RECEIVER)) == 0)
		die("msgget", queue, "already has a receiver, or a killed run left it", remove_it);
	queue_to_remove = id; /* from here on, every way out removes it */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);
	static struct message message;
	if (created) {
		struct ticket ticket = { TICKET_FOR_SENDER, getpid() };
		if (msgsnd(id, &ticket, sizeof ticket.pid, 0) == -1)
			die("msgsnd", queue, strerror(errno), NULL);
	} else if (kill(sender, 0) == -1) {
		ssize_t end = msgrcv(id, &message, 0, END, IPC_NOWAIT);
		if (end == -1 && errno == ENOMSG)
			die("msgget", queue, "holds part of a stream whose sender is gone",
			    "now removed: run the pair again");
		if (end == -1)
			die("msgrcv", queue, strerror(errno), NULL);
		if (msgsnd(id, &message, 0, 0) == -1) /* put END back */
			die("msgsnd", queue, strerror(errno), NULL);
	}

	/* Step 4: take messages in order and write their bytes out until END.
	 * Type -END: the lowest type up to END, so DATA before END, tickets
	 * never. msgrcv refuses a message larger than our buffer (E2BIG)
	 * instead of overflowing it. */
	for (;;) {
		ssize_t n = msgrcv(id, &message, sizeof message.bytes, -END, 0);
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
		if (write_all(STDOUT_FILENO, message.bytes, (size_t)n) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				clean_up();
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 5: the stream is complete: remove the queue. */
	queue_to_remove = -1;
	if (msgctl(id, IPC_RMID, NULL) == -1)
		die("msgctl IPC_RMID", queue, strerror(errno), NULL);
	return 0;
}

/* Below: what removes the queue when we are stopped early, and what
 * keeps a second receiver out; the error line. */

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
