/*
 * 11-signals: real-time signals as a small message queue. The child blocks
 * SIGRTMIN and takes the signals one by one with sigwaitinfo(); the parent
 * sends COUNT of them with sigqueue(), each carrying a number (i * i).
 *
 *   ./11-signals 5
 *
 * COUNT defaults to 5, at most 1000. Standard output holds exactly COUNT
 * lines, the numbers in the order sent. Watch for: the parent first sends
 * the standard signal SIGUSR1 COUNT times too, and the child reports on
 * standard error how many of those arrived: one, however many were sent.
 * No handler runs anywhere: the parent takes its own stop signals the same
 * way, blocked before fork and taken with sigtimedwait().
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "11-signals"
/* Far below the kernel's per-user limit on pending signals (ulimit -i),
 * which the parent respects anyway: see send_signal. */
enum { DEFAULT_COUNT = 5, MAX_COUNT = 1000 };

static void receive(int count, pid_t parent);
static void send_signal(pid_t child, int sig, const char *name, int payload,
			const sigset_t *stop_set);
static void block_stop_signals(sigset_t *stop_set);
static void wait_for_the_end_of(pid_t child, const sigset_t *stop_set);
static void stop_child(pid_t child);
static int reap(pid_t child);
static int child_result(int status);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	long count = DEFAULT_COUNT;
	if (argc == 2) {
		char *end;
		errno = 0;
		count = strtol(argv[1], &end, 10);
		if (argv[1][0] < '0' || argv[1][0] > '9' || *end != '\0' || errno != 0)
			count = 0;
	}
	if (argc > 2 || count < 1 || count > MAX_COUNT) {
		fprintf(stderr, "usage: %s [COUNT]   (default COUNT: %d, at most %d)\n",
			PROGRAM, DEFAULT_COUNT, MAX_COUNT);
		return 2;
	}

	/* Step 1: block the signals the child will wait for, before fork: the
	 * child inherits the mask, so none can arrive before it is ready (an
	 * unblocked SIGRTMIN or SIGUSR1 would kill it). Our own stop signals
	 * and SIGCHLD are blocked too: the parent takes them as the child
	 * takes its own, when it chooses to look. */
	sigset_t stop_set, lesson_set;
	block_stop_signals(&stop_set); /* SIGRTMIN and SIGUSR1 among them */
	sigemptyset(&lesson_set);
	sigaddset(&lesson_set, SIGRTMIN);
	sigaddset(&lesson_set, SIGUSR1);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);

	/* Step 2, in the child: take the signals synchronously, in order.
	 * Only the lesson's stay blocked: the child has nothing to clean up,
	 * so any other stop signal may simply kill it. */
	if (pid == 0) {
		if (sigprocmask(SIG_SETMASK, &lesson_set, NULL) == -1)
			die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
		receive((int)count, parent);
		return 0;
	}

	/* Step 3, in the parent: queue them all, SIGUSR1s first. */
	for (int i = 1; i <= count; i++)
		send_signal(pid, SIGUSR1, "SIGUSR1", i * i, &stop_set);
	for (int i = 1; i <= count; i++)
		send_signal(pid, SIGRTMIN, "SIGRTMIN", i * i, &stop_set);

	/* Step 4: wait for the child and end the way it ended: quietly of
	 * SIGPIPE when standard output was closed, as cat does. */
	wait_for_the_end_of(pid, &stop_set);
	int status = reap(pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return child_result(status);
}

/* Wait for one signal of SET; it is taken off the pending list. */
static void wait_for(const sigset_t *set, const char *name, siginfo_t *info)
{
	while (sigwaitinfo(set, info) == -1)
		if (errno != EINTR)
			die("sigwaitinfo", name, strerror(errno), NULL);
}

/* Any process of our user may signal us: keep only what the parent queued. */
static int from_parent(const siginfo_t *info, pid_t parent)
{
	if (info->si_code == SI_QUEUE && info->si_pid == parent)
		return 1;
	fprintf(stderr, "%s: ignored signal %d not queued by the parent\n",
		PROGRAM, info->si_signo);
	return 0;
}

/* The child: print COUNT payloads of SIGRTMIN, then count the SIGUSR1s. */
static void receive(int count, pid_t parent)
{
	sigset_t realtime, standard;
	sigemptyset(&realtime);
	sigaddset(&realtime, SIGRTMIN);
	sigemptyset(&standard);
	sigaddset(&standard, SIGUSR1);
	siginfo_t info;
	for (int i = 0; i < count; i++) {
		do
			wait_for(&realtime, "SIGRTMIN", &info);
		while (!from_parent(&info, parent));
		char line[16];
		int len = snprintf(line, sizeof line, "%d\n", info.si_value.sival_int);
		if (write_all(STDOUT_FILENO, line, (size_t)len) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
	}
	/* Every SIGUSR1 was sent before the first SIGRTMIN, so all that will
	 * ever be pending are pending now: a single bit, whatever was sent. */
	int arrived = 0;
	sigset_t pending;
	for (;;) {
		if (sigpending(&pending) == -1)
			die("sigpending", "SIGUSR1", strerror(errno), NULL);
		if (!sigismember(&pending, SIGUSR1))
			break;
		wait_for(&standard, "SIGUSR1", &info);
		arrived += from_parent(&info, parent);
	}
	fprintf(stderr, "%s: standard signal SIGUSR1: sent %d, received %d\n",
		PROGRAM, count, arrived);
}

/* Below: the parent's own signals, taken synchronously like the child's,
 * so that a stop signal never leaves the child waiting on its own. */

/* Take one stop signal or SIGCHLD, waiting at most TIMEOUT. A stop signal
 * stops the child, then kills us as it would have: raised while blocked,
 * it is delivered the moment we unblock it. */
static void take_signal(pid_t child, const sigset_t *stop_set, const struct timespec *timeout)
{
	int sig = sigtimedwait(stop_set, NULL, timeout);
	if (sig == -1 && errno != EAGAIN && errno != EINTR) {
		int error = errno;
		stop_child(child);
		die("sigtimedwait", "stop signals", strerror(error), NULL);
	}
	if (sig == -1 || sig == SIGCHLD)
		return;
	stop_child(child);
	sigset_t just_this;
	sigemptyset(&just_this);
	sigaddset(&just_this, sig);
	signal(sig, SIG_DFL);
	raise(sig);
	(void)sigprocmask(SIG_UNBLOCK, &just_this, NULL);
	exit(1); /* not reached: every stop signal ends a process */
}

/* sigqueue() fails with EAGAIN while the user's pending signals are at the
 * limit (ulimit -i). The child is draining them, so wait and retry; a
 * second without room means nobody is draining. The pause is a look at
 * our stop signals. */
static void send_signal(pid_t child, int sig, const char *name, int payload,
			const sigset_t *stop_set)
{
	const union sigval value = { .sival_int = payload };
	const struct timespec pause = { .tv_nsec = 1000000 }; /* 1 ms */
	for (int tries = 1; sigqueue(child, sig, value) == -1; tries++) {
		if (errno != EAGAIN || tries == 1000) {
			int error = errno;
			stop_child(child);
			die("sigqueue", name, strerror(error),
			    error == EAGAIN ? "too many signals pending; see ulimit -i" : NULL);
		}
		take_signal(child, stop_set, &pause);
	}
}

/* Until the child has ended, wake at each SIGCHLD and look (WNOWAIT leaves
 * it to reap). Where a blocked SIGCHLD is discarded, as POSIX allows for a
 * signal whose default is to be ignored, the timeout looks every second. */
static void wait_for_the_end_of(pid_t child, const sigset_t *stop_set)
{
	const struct timespec second = { .tv_sec = 1 };
	for (;;) {
		siginfo_t info;
		memset(&info, 0, sizeof info); /* si_pid stays 0 while it runs */
		if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOHANG | WNOWAIT) == -1 &&
		    errno != EINTR) {
			int error = errno;
			stop_child(child);
			die("waitid", "child", strerror(error), NULL);
		}
		if (info.si_pid == child)
			return;
		take_signal(child, stop_set, &second);
	}
}

/* Every signal whose default action ends the process and that can be
 * caught: the parent takes each with sigtimedwait, stops the child, then
 * dies of it as it would have. */
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

/* Block the stop signals, the real-time ones included (their default
 * action ends the process too), and SIGCHLD, into STOP_SET; ignore SIGPIPE
 * and SIGXFSZ, so that a write fails with EPIPE or EFBIG instead. */
static void block_stop_signals(sigset_t *stop_set)
{
	sigemptyset(stop_set);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		sigaddset(stop_set, stop_signals[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(stop_set, sig);
	sigaddset(stop_set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, stop_set, NULL) == -1)
		die("sigprocmask", "stop signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
}

/* The child has nothing to clean up, so SIGKILL: unlike SIGTERM it also
 * ends a stopped child, so the wait that reaps it always returns. */
static void stop_child(pid_t child)
{
	(void)kill(child, SIGKILL); /* it can only be gone already */
	(void)reap(child);
}

/* Wait for the child, retrying after a signal; its status as waitpid
 * gives it. */
static int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	return status;
}

/* 0 if the child succeeded. A child that failed said why itself; one
 * killed by a signal could not, so we say it. */
static int child_result(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? 0 : 1;
	fprintf(stderr, "%s: child killed by signal %d\n", PROGRAM, WTERMSIG(status));
	return 1;
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
