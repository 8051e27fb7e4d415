/*
 * 06-msgq-recv: write the bytes of System V messages to standard output
 * until the end-of-stream message, then remove the queue.
 *
 *   ./06-msgq-recv demo.key > copy &     # either side may start first
 *   ./06-msgq-send demo.key < file
 *
 * Watch for: a queue outlives both programs; one a killed run left is found
 * again, old messages and all, and refused. Tested on Linux, glibc and musl.
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

#define PROGRAM "06-msgq-recv"
#define PROJECT_ID 'q'

/* The protocol: DATA messages in order, then one empty END (06-msgq-send.c). */
enum { DATA = 1, END = 2, SENDER_BYTE = 0, RECEIVER_BYTE = 1, MESSAGE_BYTES = 4096 };
struct message {
	long type;
	char bytes[MESSAGE_BYTES];
};

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static pid_t holder(int byte, int claim);
static void refuse_a_stream_cut_short(int id, const char *queue);
static void tick_every_200_ms(void);
static int write_all(int fd, const void *buf, size_t len);
static void on_stop_signal(int sig);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void clean_up(void);

static const char *keypath;
static int lock_fd = -1; /* KEYPATH, open while we run: it holds our lock */
static volatile sig_atomic_t queue_id = -1; /* ours to remove, by clean_up too */

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

	/* Step 2: claim our byte of KEYPATH; create the queue or find the
	 * sender's, which must be ours (anyone can compute the key). */
	pid_t other = holder(RECEIVER_BYTE, 1);
	(void)snprintf(reason, sizeof reason, "already has a receiver, process %ld", (long)other);
	if (other != 0)
		die("msgget", queue, reason, "pass another KEYPATH");
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 && errno == EEXIST)
		id = msgget(key, 0); /* one we did not create: checked below */
	struct msqid_ds info;
	if (id == -1 || msgctl(id, IPC_STAT, &info) == -1)
		die(id == -1 ? "msgget" : "msgctl IPC_STAT", queue, strerror(errno),
		    errno == EACCES ? "not ours to read: pass another KEYPATH" : NULL);
	if (info.msg_perm.uid != geteuid() || info.msg_perm.cuid != geteuid())
		die("msgget", queue, "belongs to another user", "pass another KEYPATH");
	queue_id = id;
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 3: the stream must be whole: no receiver read from it before. */
	if (info.msg_rtime != 0)
		die("msgget", queue, "another 06-msgq-recv has read from it",
		    "now removed: run the pair again");

	/* Step 4: take messages in order (type -END: DATA, then END) and write
	 * their bytes out; E2BIG guards our buffer. */
	static struct message message;
	tick_every_200_ms();
	for (;;) {
		refuse_a_stream_cut_short(id, queue);
		ssize_t n = msgrcv(id, &message, sizeof message.bytes, -END, 0);
		if (n == -1 && errno == EINTR)
			continue; /* a tick: look again */
		/* Removed while we waited: EIDRM; between two calls: EINVAL. */
		int removed = n == -1 && (errno == EIDRM || errno == EINVAL);
		if (n == -1)
			die("msgrcv", queue, removed ? strerror(EIDRM) : strerror(errno),
			    removed ? "06-msgq-send stopped before the end of the stream" : NULL);
		if (message.type == END)
			break;
		if (write_all(STDOUT_FILENO, message.bytes, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_stop_signal(SIGPIPE); /* clean up, end quietly as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 5: the stream is complete: remove the queue, then our lock. */
	queue_id = -1;
	if (msgctl(id, IPC_RMID, NULL) == -1)
		die("msgctl IPC_RMID", queue, strerror(errno), NULL);
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

/* A sender that has sent (msg_stime) and holds no lock sent all it will:
 * is its END queued? msgrcv can look for END alone; it goes back at once. */
static void refuse_a_stream_cut_short(int id, const char *queue)
{
	struct msqid_ds info;
	struct { long type; } end;
	if (msgctl(id, IPC_STAT, &info) == -1 || info.msg_stime == 0 || holder(SENDER_BYTE, 0) != 0)
		return; /* removed (msgrcv says so), not sent to yet, or its sender runs */
	ssize_t found = msgrcv(id, &end, 0, END, IPC_NOWAIT);
	if (found == -1 && errno == ENOMSG)
		die("msgrcv", queue, "holds part of a stream whose sender is gone",
		    "now removed: run the pair again");
	if (found == -1 || msgsnd(id, &end, 0, 0) == -1)
		die(found == -1 ? "msgrcv" : "msgsnd", queue, strerror(errno), NULL);
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
