/*
 * 08-mq-recv: copy the data messages of a POSIX message queue to standard
 * output until the stream's END message, then remove the queue.
 *
 *   ./08-mq-recv /demo > copy &     # NAME defaults to /ipc-08-<uid>
 *   ./08-mq-send /demo < file       # either side may start first
 *
 * Watch for: mq_receive wants a buffer of the queue's message size. Tested
 * on Linux (glibc, musl); fstat and fcntl locks on a queue are Linux only.
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
enum { QUEUE_MESSAGES = 10, MESSAGE_SIZE = 8192 }; /* Linux's limits: /proc/sys/fs/mqueue */
enum { DATA = 0, HELLO = 1, END = 2 };              /* the stream's priorities (step 5) */
enum { SENDER_BYTE = 0, RECEIVER_BYTE = 1 };        /* the byte each side locks (step 3) */

static void hold_standard_descriptors(void);
static int valid_name(const char *name);
static void catch_stop_signals(void);
static pid_t lock_holder(mqd_t queue, int byte, int command);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static void clean_up(void);
static void on_stop_signal(int sig);

static const char *queue_name; /* NAME: clean_up removes it while must_remove */
static volatile sig_atomic_t must_remove;
static char message[1024 * 1024]; /* the largest message we take */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	static char default_name[64]; /* static: clean_up reads it during exit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-08-%ld", (long)getuid());
	if (argc > 2 || (argc == 2 && !valid_name(argv[1]))) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}
	queue_name = argc == 2 ? argv[1] : default_name;
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: create it, or open the sender's (O_RDWR: step 3 write-locks). */
	struct mq_attr attr = { .mq_maxmsg = QUEUE_MESSAGES, .mq_msgsize = MESSAGE_SIZE };
	mqd_t queue = mq_open(queue_name, O_RDWR | O_CREAT, 0600, &attr);
	if (queue == (mqd_t)-1)
		die("mq_open", queue_name, strerror(errno),
		    errno == EINVAL ? "over the limits in /proc/sys/fs/mqueue (Linux)"
		    : errno == EMFILE || errno == ENOMEM ? "over the per-user limit on queue memory: ulimit -q"
		    : errno == EACCES ? "not ours to open: pass another NAME" : NULL);

	/* Step 2: it must be ours (Linux: fstat works on a queue descriptor). */
	struct stat st;
	if (fstat(queue, &st) == -1)
		die("fstat", queue_name, strerror(errno), NULL);
	if (st.st_uid != geteuid())
		die("mq_open", queue_name, "Queue exists and belongs to another user", "pass another NAME");

	/* Step 3: claim the receiver's byte; the kernel lets go however we end. */
	pid_t other = lock_holder(queue, RECEIVER_BYTE, F_SETLK);
	char why[64];
	(void)snprintf(why, sizeof why, "already has a receiver, process %ld", (long)other);
	if (other != 0)
		die("mq_open", queue_name, why, "pass another NAME");
	must_remove = 1; /* from here on, every way out removes it */

	/* Step 4: a queue keeps the size it was made with: check it. */
	if (mq_getattr(queue, &attr) == -1)
		die("mq_getattr", queue_name, strerror(errno), NULL);
	if (attr.mq_msgsize > (long)sizeof message)
		die("mq_getattr", queue_name, "message size over this program's limit of 1 MiB",
		    "remove the queue or pass another NAME");

	/* Step 5: HELLO, data, END, which overtakes the data: the rest is here
	 * then. A sender that began and let go of its byte sent all: END is next. */
	for (int hello = 0, ending = 0; !ending || attr.mq_curmsgs > 0;) {
		int gone = (hello || attr.mq_curmsgs > 0) && lock_holder(queue, SENDER_BYTE, F_GETLK) == 0;
		struct timespec deadline;
		if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
			die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
		deadline.tv_sec += deadline.tv_nsec >= 800000000; /* rounds of 200 ms */
		deadline.tv_nsec = (deadline.tv_nsec + 200000000) % 1000000000;
		unsigned priority;
		ssize_t n = mq_timedreceive(queue, message, sizeof message, &priority, &deadline);
		if (n == -1 && errno != EINTR && errno != ETIMEDOUT)
			die("mq_receive", queue_name, strerror(errno), NULL);
		else if (gone && !ending && (n == -1 || priority != END || n != 0)) /* no END */
			die("mq_receive", queue_name, "08-mq-send stopped before the end of the stream",
			    hello ? NULL : "a killed run's stream, now removed: run the pair again");
		else if (n == -1 && !hello && fstat(queue, &st) == -1)
			die("fstat", queue_name, strerror(errno), NULL);
		else if (n == -1 && !hello && st.st_nlink == 0)
			die("mq_receive", queue_name, "the queue was removed", "run the pair again");
		else if (n == -1)
			continue; /* a round for nothing: look again */
		else if (priority == END && n == 0)
			ending = 1;
		else if (priority == HELLO && n == 0 && !hello)
			hello = 1;
		else if (!hello) /* the start went to another receiver */
			die("mq_receive", queue_name, "the stream began before we came", "run the pair again");
		else if (priority != DATA || n == 0) /* the peer's word is never trusted */
			die("mq_receive", queue_name, "a message out of the protocol", NULL);
		else if (write_all(STDOUT_FILENO, message, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_stop_signal(SIGPIPE); /* clean up, end quietly as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
		if (ending && mq_getattr(queue, &attr) == -1)
			die("mq_getattr", queue_name, strerror(errno), NULL);
	}

	/* Step 6: remove the queue, then close it, which drops our claim. */
	must_remove = 0;
	if (mq_unlink(queue_name) == -1 && errno != ENOENT)
		die("mq_unlink", queue_name, strerror(errno), NULL);
	if (mq_close(queue) == -1)
		die("mq_close", queue_name, strerror(errno), NULL);
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

/* Below: what keeps a gone sender from hanging us, and our cleanup. */

/* F_SETLK claims byte BYTE of the queue, F_GETLK only looks: 0 when it is
 * ours or free, else the pid of the process that locks it. */
static pid_t lock_holder(mqd_t queue, int byte, int command)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	if (fcntl(queue, command, &lock) == 0)
		return command == F_SETLK || lock.l_type == F_UNLCK ? 0 : lock.l_pid;
	if (command != F_SETLK || (errno != EAGAIN && errno != EACCES))
		die("fcntl", "queue lock", strerror(errno), NULL);
	pid_t other = lock_holder(queue, byte, F_GETLK);
	return other != 0 ? other : lock_holder(queue, byte, F_SETLK); /* it let go: retry */
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

/* Remove the queue if it is ours and not yet removed. mq_unlink is not on
 * POSIX's async-signal-safe list, but on Linux it is one system call. */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)mq_unlink(queue_name); /* NOLINT(bugprone-signal-handler,cert-sig30-c) */
	}
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
