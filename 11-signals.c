/*
 * 11-signals: real-time signals as a small message queue: the parent queues
 * COUNT SIGRTMIN signals with sigqueue(), each carrying a number (i * i); the
 * child takes them in order with sigwaitinfo() and prints them.
 *
 *   ./11-signals [COUNT]      (default 5, at most 1000)
 *
 * Watch for: of COUNT SIGUSR1s, sent first, one arrives. No handler runs: the
 * parent takes its stop signals synchronously too. Tested: Linux, glibc, musl.
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
enum { DEFAULT_COUNT = 5, MAX_COUNT = 1000 }; /* far below ulimit -i */

static void block_stop_signals(sigset_t *stop_set);
static void receive(int count, pid_t parent);
static void send_signal(pid_t child, int sig, int payload, const sigset_t *stop_set);
static void take_signal(pid_t child, const sigset_t *stop_set, const struct timespec *timeout);
static _Noreturn void stop_child_and_die(pid_t child, const char *call,
					 const char *object, int error, const char *fix);
static int child_result(int status);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	/* COUNT: digits only, no sign or space (too many give LONG_MAX). */
	const char *digits = argc == 2 ? argv[1] : "";
	long count = argc == 2 ? strtol(digits, NULL, 10) : DEFAULT_COUNT;
	if (argc > 2 || digits[strspn(digits, "0123456789")] != '\0' || count < 1 ||
	    count > MAX_COUNT) {
		fprintf(stderr, "usage: %s [COUNT]   (default COUNT: %d, at most %d)\n",
			PROGRAM, DEFAULT_COUNT, MAX_COUNT);
		return 2;
	}

	/* Step 1: block the child's signals before fork: it inherits the mask,
	 * so none comes before it is ready (SIGRTMIN would kill it). Our stop
	 * signals and SIGCHLD too: we take them as the child takes its own. */
	sigset_t stop_set;
	block_stop_signals(&stop_set); /* SIGRTMIN and SIGUSR1 among them */
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);

	/* Step 2, in the child: take the signals synchronously, in order. */
	if (pid == 0) {
		receive((int)count, parent);
		return 0;
	}

	/* Step 3, in the parent: queue them all, the COUNT SIGUSR1s first. */
	for (int i = 0; i < 2 * count; i++) {
		int n = i % (int)count + 1;
		send_signal(pid, i < count ? SIGUSR1 : SIGRTMIN, n * n, &stop_set);
	}

	/* Step 4: wait for the child's end, looking at each SIGCHLD and every
	 * second (where a blocked SIGCHLD is discarded, as POSIX allows). */
	const struct timespec second = { .tv_sec = 1 };
	int status;
	pid_t ended;
	while ((ended = waitpid(pid, &status, WNOHANG)) == 0)
		take_signal(pid, &stop_set, &second);
	if (ended == -1)
		die("waitpid", "child", strerror(errno), NULL);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
		raise(SIGPIPE); /* end as the child did: quietly, as cat does */
	return child_result(status);
}

/* Take one SIG off the pending list. Any process of our user may signal
 * us: 1 if the parent queued it, its payload in *PAYLOAD, else 0. */
static int from_parent(int sig, pid_t parent, int *payload)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	siginfo_t info;
	while (sigwaitinfo(&set, &info) == -1)
		if (errno != EINTR)
			die("sigwaitinfo", "SIGRTMIN/SIGUSR1", strerror(errno), NULL);
	*payload = info.si_value.sival_int;
	if (info.si_code == SI_QUEUE && info.si_pid == parent)
		return 1;
	fprintf(stderr, "%s: ignored signal %d not queued by the parent\n", PROGRAM, sig);
	return 0;
}

/* The child: print COUNT payloads of SIGRTMIN, then count the SIGUSR1s. It
 * has nothing to clean up: any signal but these two may simply kill it. */
static void receive(int count, pid_t parent)
{
	sigset_t lesson_set;
	sigemptyset(&lesson_set);
	sigaddset(&lesson_set, SIGRTMIN);
	sigaddset(&lesson_set, SIGUSR1);
	if (sigprocmask(SIG_SETMASK, &lesson_set, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
	int payload;
	for (int i = 0; i < count; i++) {
		while (!from_parent(SIGRTMIN, parent, &payload))
			continue;
		/* dprintf: no buffer, each line leaves at once (no handler: no EINTR). */
		if (dprintf(STDOUT_FILENO, "%d\n", payload) < 0)
			die("dprintf", "standard output", strerror(errno), NULL);
	}
	/* Every SIGUSR1 was sent before the first SIGRTMIN, so all that will
	 * ever be pending are pending now: a single bit, whatever was sent. */
	sigset_t pending;
	if (sigpending(&pending) == -1)
		die("sigpending", "SIGUSR1", strerror(errno), NULL);
	int arrived = sigismember(&pending, SIGUSR1) ? from_parent(SIGUSR1, parent, &payload) : 0;
	fprintf(stderr, "%s: standard signal SIGUSR1: sent %d, received %d\n",
		PROGRAM, count, arrived);
}

/* EAGAIN: the user's pending signals are at the limit (ulimit -i). The child
 * drains them: pause and retry, until a second without room says it does not. */
static void send_signal(pid_t child, int sig, int payload, const sigset_t *stop_set)
{
	const union sigval value = { .sival_int = payload };
	const struct timespec pause = { .tv_nsec = 1000000 }; /* 1 ms */
	const char *name = sig == SIGUSR1 ? "SIGUSR1" : "SIGRTMIN";
	for (int tries = 1; sigqueue(child, sig, value) == -1; tries++) {
		if (errno != EAGAIN || tries == 1000)
			stop_child_and_die(child, "sigqueue", name, errno, errno != EAGAIN ? NULL :
					   "too many signals pending; see ulimit -i");
		take_signal(child, stop_set, &pause);
	}
}

/* Below: the parent's own signals, taken synchronously like the child's, so
 * that no stop signal or failing call leaves the child waiting on its own. */

/* Block SIGCHLD and the stop signals (all but those that stop, continue or are
 * ignored, and SIGHUP, SIGINT or SIGQUIT ignored at our start: nohup, a script's
 * background job) in STOP_SET; but SIGPIPE at its default, even if inherited
 * ignored, so that the child ends quietly like cat, and SIGXFSZ ignored: EFBIG. */
static void block_stop_signals(sigset_t *stop_set)
{
	const int not_stop[] = { SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH, SIGPIPE,
				 SIGXFSZ };
	sigfillset(stop_set);
	for (size_t i = 0; i < sizeof not_stop / sizeof not_stop[0]; i++)
		sigdelset(stop_set, not_stop[i]);
	const int kept[] = { SIGHUP, SIGINT, SIGQUIT }; /* ignored at our start: stay so */
	struct sigaction old;
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		if (sigaction(kept[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			sigdelset(stop_set, kept[i]);
	if (sigprocmask(SIG_BLOCK, stop_set, NULL) == -1)
		die("sigprocmask", "stop signals", strerror(errno), NULL);
	/* SIGCHLD at its default: inherited ignored, the kernel would reap the child for us. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
	    signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		die("signal", "SIGXFSZ/SIGPIPE/SIGCHLD", strerror(errno), NULL);
}

/* A call of ours failed: stop the child, which would wait for ever. SIGKILL:
 * unlike SIGTERM it also ends a stopped child, so waitpid always returns. */
static _Noreturn void stop_child_and_die(pid_t child, const char *call,
					 const char *object, int error, const char *fix)
{
	(void)kill(child, SIGKILL); /* it can only be gone already */
	if (waitpid(child, NULL, 0) == -1) /* no handler runs: no EINTR */
		die("waitpid", "child", strerror(errno), NULL);
	die(call, object, strerror(error), fix);
}

/* Wait up to TIMEOUT for a stop signal or SIGCHLD. A stop signal stops the child,
 * then kills us as it would have: raised while blocked, it comes once unblocked. */
static void take_signal(pid_t child, const sigset_t *stop_set, const struct timespec *timeout)
{
	int sig = sigtimedwait(stop_set, NULL, timeout);
	if (sig == -1 && errno != EAGAIN && errno != EINTR)
		stop_child_and_die(child, "sigtimedwait", "stop signals", errno, NULL);
	if (sig != -1 && sig != SIGCHLD) {
		(void)kill(child, SIGKILL);
		if (waitpid(child, NULL, 0) == -1) /* no handler runs: no EINTR */
			die("waitpid", "child", strerror(errno), NULL);
		signal(sig, SIG_DFL);
		raise(sig);
		(void)sigprocmask(SIG_UNBLOCK, stop_set, NULL);
		exit(1); /* not reached: every stop signal ends a process */
	}
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
