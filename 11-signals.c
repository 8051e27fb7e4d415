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

/* The child to stop if the parent ends early; 0 in the child itself and
 * once the child is reaped. Set with the stop signals blocked. */
static volatile sig_atomic_t child_pid;

/* The child has nothing to clean up, so SIGKILL: unlike SIGTERM it also
 * ends a stopped child, so the wait that reaps it always returns. */
static void stop_child(void)
{
	pid_t pid = (pid_t)child_pid;
	if (pid > 0) {
		child_pid = 0;
		(void)kill(pid, SIGKILL); /* it can only be gone already */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
	}
}

/* Ctrl-C, SIGTERM, SIGHUP: stop the child, then die of the same signal so
 * the shell sees how we ended. kill, waitpid, signal and raise are all
 * async-signal-safe. */
static void on_signal(int sig)
{
	stop_child();
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
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
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

/* sigqueue() fails with EAGAIN while the user's pending signals are at the
 * limit (ulimit -i). The child is draining them, so wait and retry; a
 * second without room means nobody is draining. */
static void send_signal(pid_t child, int sig, const char *name, int payload)
{
	const union sigval value = { .sival_int = payload };
	const struct timespec pause = { .tv_nsec = 1000000 }; /* 1 ms */
	for (int tries = 1; sigqueue(child, sig, value) == -1; tries++) {
		if (errno != EAGAIN || tries == 1000)
			die("sigqueue", name, strerror(errno),
			    errno == EAGAIN ? "too many signals pending; see ulimit -i" : NULL);
		(void)nanosleep(&pause, NULL); /* woken early by a signal: just retry sooner */
	}
}

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

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	sigset_t stop_set;
	sigemptyset(&stop_set);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
		sigaddset(&stop_set, stop_signals[i]);
	}
	/* A closed standard output must be an EPIPE we handle, not a death
	 * the parent cannot tell from a crash. The child inherits this. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);
	if (atexit(stop_child) != 0)
		die("atexit", "stop_child", "failed", NULL);

	/* Step 1: block the signals the child will wait for, before fork: the
	 * child inherits the mask, so none can arrive before it is ready (an
	 * unblocked SIGRTMIN or SIGUSR1 would kill it). The stop signals are
	 * held back too, until child_pid is set. */
	sigset_t blocked = stop_set, old_mask;
	sigaddset(&blocked, SIGRTMIN);
	sigaddset(&blocked, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &blocked, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);
	child_pid = pid;
	if (sigprocmask(SIG_UNBLOCK, &stop_set, NULL) == -1)
		die("sigprocmask", "SIG_UNBLOCK", strerror(errno), NULL);

	/* Step 2, in the child: take the signals synchronously, in order. */
	if (pid == 0) {
		receive((int)count, parent);
		return 0;
	}

	/* Step 3, in the parent: queue them all, SIGUSR1s first. */
	for (int i = 1; i <= count; i++)
		send_signal(pid, SIGUSR1, "SIGUSR1", i * i);
	for (int i = 1; i <= count; i++)
		send_signal(pid, SIGRTMIN, "SIGRTMIN", i * i);

	/* Step 4: wait for the child and end the way it ended. */
	int status;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	child_pid = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL); /* standard output was closed: be as quiet */
		raise(SIGPIPE);
	}
	if (WIFSIGNALED(status)) {
		char reason[32];
		(void)snprintf(reason, sizeof reason, "killed by signal %d", WTERMSIG(status));
		die("waitpid", "child", reason, NULL);
	}
	return WEXITSTATUS(status) == 0 ? 0 : 1; /* the child said why */
}
