/*
 * 06-msgq-send: send standard input as System V messages, then an END.
 *
 *   ./06-msgq-recv demo.key > copy &     # either side may start first
 *   ./06-msgq-send demo.key < file
 *
 * Watch for: msgsnd waits while the queue is full, so any amount gets
 * through. Messages are up to 4096 bytes; where msgmax is lower (2048 on
 * the BSDs and macOS) we say so. Tested on Linux, glibc and musl.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "06-msgq-send"
#define PROJECT_ID 'q'

/* The protocol: DATA messages carry the bytes in order; one empty END says
 * the stream is complete. Each side read-locks its own byte of KEYPATH. */
enum { DATA = 1, END = 2, SENDER_BYTE = 0, RECEIVER_BYTE = 1, MESSAGE_BYTES = 4096 };
struct message {
	long type;
	char bytes[MESSAGE_BYTES];
};

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static pid_t holder(int byte, int claim);
static void tick_every_200_ms(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void clean_up(void);

static const char *keypath;
static int lock_fd = -1; /* KEYPATH, open while we run: it holds our lock */
static volatile sig_atomic_t queue_id = -1; /* ours to remove until END is sent */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	keypath = argc == 2 ? argv[1] : getenv("HOME");
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [KEYPATH]   (default KEYPATH: $HOME)\n", PROGRAM);
		return 2;
	}
	if (keypath == NULL || keypath[0] == '\0')
		die("getenv", "HOME", "not set", "pass a KEYPATH");
	catch_stop_signals();

	/* Step 1: same file, same key: that is how unrelated programs meet. */
	key_t key = ftok(keypath, PROJECT_ID);
	if (key == -1)
		die("ftok", keypath, strerror(errno), "KEYPATH must be an existing file");
	char queue[32], reason[64];
	(void)snprintf(queue, sizeof queue, "queue 0x%08lx", (unsigned long)key);

	/* Step 2: create the queue or find the receiver's, which must be ours. */
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 && errno == EEXIST)
		id = msgget(key, 0); /* one we did not create: checked below */
	struct msqid_ds info;
	if (id == -1 || msgctl(id, IPC_STAT, &info) == -1)
		die(id == -1 ? "msgget" : "msgctl IPC_STAT", queue, strerror(errno),
		    errno == EACCES ? "not ours to read: pass another KEYPATH" : NULL);
	if (info.msg_perm.uid != geteuid() || info.msg_perm.cuid != geteuid())
		die("msgget", queue, "belongs to another user", "pass another KEYPATH");

	/* Step 3: claim the sender's byte only if no messages wait, or a receiver would
	 * take us for their sender. A queue another sender used is another stream's. */
	pid_t other = holder(SENDER_BYTE, info.msg_qnum == 0);
	(void)snprintf(reason, sizeof reason, "already has a sender, process %ld", (long)other);
	if (other != 0)
		die("msgget", queue, reason, "pass another KEYPATH");
	if (info.msg_qnum == 0 && msgctl(id, IPC_STAT, &info) == -1) /* claimed: look again */
		die("msgctl IPC_STAT", queue, strerror(errno), NULL);
	if (info.msg_qnum != 0)
		die("msgget", queue, "holds the messages of an earlier run",
		    "read them with 06-msgq-recv, or pass another KEYPATH");
	if (info.msg_stime != 0)
		die("msgget", queue, "another 06-msgq-send has sent to it",
		    "its receiver removes it once it sees that sender gone: run the pair again");
	queue_id = id;
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 4: one DATA message per read, then END. msgsnd waits while the
	 * queue is full; at a tick (EINTR): is the receiver that read gone? */
	static struct message message;
	tick_every_200_ms();
	ssize_t n;
	do {
		while ((n = read(STDIN_FILENO, message.bytes, sizeof message.bytes)) == -1)
			if (errno != EINTR)
				die("read", "standard input", strerror(errno), NULL);
		message.type = n == 0 ? END : DATA;
		while (msgsnd(id, &message, (size_t)n, 0) == -1) {
			/* EINVAL: removed between two calls, or (still there) over msgmax. */
			int error = errno, removed = msgctl(id, IPC_STAT, &info) == -1;
			if (error == EIDRM || (error == EINVAL && removed))
				die("msgsnd", queue, strerror(EIDRM), "06-msgq-recv removed it before the end");
			if (error != EINTR)
				die("msgsnd", queue, error == EINVAL ? "message larger than msgmax" : strerror(error),
				    error == EINVAL ? "on Linux: /proc/sys/kernel/msgmax" : NULL);
			if (!removed && info.msg_rtime != 0 && holder(RECEIVER_BYTE, 0) == 0)
				die("msgsnd", queue, "06-msgq-recv is gone before the end of the stream",
				    "it was killed: run the pair again");
		}
	} while (n != 0);

	/* Step 5: END is queued; the receiver removes the queue. Our lock goes. */
	queue_id = -1;
	if (close(lock_fd) == -1)
		die("close", keypath, strerror(errno), NULL);
	return 0;
}

/* Below: the locks and the tick that tell who runs; what removes the queue. */

/* The pid of another who read-locks BYTE of KEYPATH, else 0. Opens KEYPATH once
 * (O_NONBLOCK: a FIFO will do); CLAIM: read-locks BYTE ourselves, till we end.
 * A lock ends with its holder, so no reused or forged pid passes for one. */
static pid_t holder(int byte, int claim)
{
	struct flock lock = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	if (lock_fd == -1 && (lock_fd = open(keypath, O_RDONLY | O_NONBLOCK | O_NOCTTY)) == -1)
		die("open", keypath, strerror(errno), "both sides lock KEYPATH: it must be readable");
	if (claim && fcntl(lock_fd, F_SETLK, &lock) == -1)
		die("fcntl F_SETLK", keypath, strerror(errno), NULL);
	lock.l_type = F_WRLCK; /* any read lock stops a write lock: F_GETLK names it */
	if (fcntl(lock_fd, F_GETLK, &lock) == -1)
		die("fcntl F_GETLK", keypath, strerror(errno), NULL);
	return lock.l_type == F_UNLCK ? 0 : lock.l_pid;
}

static void on_tick(int sig)
{
	(void)sig; /* only there to interrupt a waiting msgsnd or msgrcv */
}

/* msgsnd and msgrcv have no timeout: SIGURG (no stop signal: ignored by
 * default) interrupts them every 200 ms; SA_RESTART resumes other calls. */
static void tick_every_200_ms(void)
{
	struct sigaction tick = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	struct sigevent event = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGURG };
	struct itimerspec every = { { 0, 200000000 }, { 0, 200000000 } };
	timer_t timer;
	sigemptyset(&tick.sa_mask);
	if (sigaction(SIGURG, &tick, NULL) == -1)
		die("sigaction", "SIGURG", strerror(errno), NULL);
	if (timer_create(CLOCK_MONOTONIC, &event, &timer) == -1)
		die("timer_create", "CLOCK_MONOTONIC", strerror(errno), NULL);
	if (timer_settime(timer, 0, &every, NULL) == -1)
		die("timer_settime", "every 200 ms", strerror(errno), NULL);
}

/* Remove the queue once, if it is ours. msgctl is not on POSIX's list of
 * async-signal-safe calls, but on Linux it is one system call. */
static void clean_up(void)
{
	int id = queue_id;
	queue_id = -1;
	if (id != -1)
		(void)msgctl(id, IPC_RMID, NULL); /* NOLINT(bugprone-signal-handler,cert-sig30-c) */
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
