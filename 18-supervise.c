/*
 * 18-supervise: run a command with a time limit, like timeout(1), and
 * never signal the wrong process (Linux only).
 *
 *   ./18-supervise 2 sleep 10          # SIGTERM after 2 s: exit status 124
 *   ./18-supervise -s INT -k 1 0.5 ./server
 *
 * After SECONDS (a fraction is fine; 0: no limit) COMMAND gets SIGNAL
 * (default TERM), and SIGKILL -k SECONDS later if it is still running.
 * SIGINT, SIGTERM and SIGHUP sent to us are passed on to COMMAND. Exit
 * status: COMMAND's (or we die of its signal); 124 when the time ran out,
 * 137 when COMMAND had to be killed with SIGKILL; 125 when we fail, 126 or
 * 127 when COMMAND cannot be run. Watch for: our signals come from a
 * signalfd and COMMAND's end from a pidfd, so one poll waits for all; and
 * if we are killed, COMMAND is killed too. Linux only: signalfd, pidfds,
 * PR_SET_PDEATHSIG. Where pidfds are missing (kernels before 5.3,
 * valgrind, some container filters), SIGCHLD and kill stand in.
 */
#define _DEFAULT_SOURCE /* syscall(2), for pidfd_open and pidfd_send_signal: no wrapper in musl or glibc before 2.36 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "18-supervise"
enum { FAILED = 125, TIMED_OUT = 124, MAX_SECONDS = 1000000 };

static void hold_standard_descriptors(void);
static _Noreturn void usage(void);
static int signal_number(const char *name);
static long long milliseconds(const char *text);
static int pidfd_open(pid_t pid);
static _Noreturn void run_command(char *command[], pid_t parent, const sigset_t *mask);
static int supervise(pid_t child, int pidfd, int sigfd, const char *command);
static void send_signal(pid_t child, int pidfd, int sig);
static int reap(pid_t child);
static _Noreturn void end_like(int status);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

static int timeout_signal = SIGTERM, timed_out;
static long long limit_ms, grace_ms = -1; /* -1: no -k, no SIGKILL */
static const char *limit_text, *grace_text;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	int option;
	opterr = 0;
	while ((option = getopt(argc, argv, "+s:k:")) != -1) {
		if (option == 's' && (timeout_signal = signal_number(optarg)) > 0)
			continue;
		if (option != 'k' || (grace_ms = milliseconds(grace_text = optarg)) < 0)
			usage();
	}
	if (argc - optind < 2 || (limit_ms = milliseconds(limit_text = argv[optind])) < 0)
		usage();
	char **command = argv + optind + 1;

	/* Step 1: block the signals we pass on, and take them from a signalfd
	 * instead: they wait in the kernel until poll says they are there.
	 * Without pidfds, SIGCHLD is how we learn that COMMAND ended. */
	int probe = pidfd_open(getpid()), have_pidfds = probe != -1;
	if (probe == -1 && errno != ENOSYS && errno != EPERM)
		die("pidfd_open", "ourselves", strerror(errno), NULL);
	if (probe != -1 && close(probe) == -1)
		die("close", "pidfd", strerror(errno), NULL);
	sigset_t taken, old_mask;
	sigemptyset(&taken);
	sigaddset(&taken, SIGINT);
	sigaddset(&taken, SIGTERM);
	sigaddset(&taken, SIGHUP);
	if (!have_pidfds)
		sigaddset(&taken, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &taken, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	int sigfd = signalfd(-1, &taken, SFD_CLOEXEC);
	if (sigfd == -1)
		die("signalfd", "SIGINT/SIGTERM/SIGHUP", strerror(errno), NULL);

	/* Step 2: fork; the child makes sure to die with us, then runs
	 * COMMAND with the signal mask we started with. */
	pid_t parent = getpid(), child = fork();
	if (child == -1)
		die("fork", command[0], strerror(errno), NULL);
	if (child == 0)
		run_command(command, parent, &old_mask);

	/* Step 3: a pidfd for the child: a handle on that one process, which
	 * a recycled pid can never match. Our own unreaped child cannot be
	 * recycled yet, so opening it by pid is safe here. */
	int pidfd = have_pidfds ? pidfd_open(child) : -1;
	if (have_pidfds && pidfd == -1)
		die("pidfd_open", command[0], strerror(errno), NULL);

	/* Step 4: wait for COMMAND to end, a signal to pass on, or the time. */
	int status = supervise(child, pidfd, sigfd, command[0]);

	/* Step 5: end as COMMAND ended, or say that the time ran out. */
	if (close(sigfd) == -1 || (pidfd != -1 && close(pidfd) == -1))
		die("close", "signalfd and pidfd", strerror(errno), NULL);
	if (timed_out && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		exit(128 + SIGKILL);
	if (timed_out)
		exit(TIMED_OUT);
	end_like(status);
}

/* PR_SET_PDEATHSIG: the kernel sends us SIGKILL when our parent dies. But
 * the parent may have died between fork and here; then the signal will
 * never come, and getppid already names another process. Checking it
 * after the prctl closes that race. The mask goes back to what the
 * supervisor started with: a blocked signal stays blocked across exec. */
static _Noreturn void run_command(char *command[], pid_t parent, const sigset_t *mask)
{
	if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL) == -1 || getppid() != parent)
		_exit(FAILED); /* nobody is left to tell, or wants COMMAND run */
	(void)sigprocmask(SIG_SETMASK, mask, NULL); /* a valid mask: cannot fail */
	execvp(command[0], command);
	/* 127 "not found", 126 "found but not runnable", as the shell. */
	int error = errno;
	fprintf(stderr, "%s: exec %s: %s\n", PROGRAM, command[0], strerror(error));
	_exit(error == ENOENT || error == ENOTDIR ? 127 : 126);
}

static long long now_ms(void)
{
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		die("clock_gettime", "CLOCK_MONOTONIC", strerror(errno), NULL);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* One poll watches the signalfd, the pidfd (readable once the child has
 * ended) and the clock. Returns the child's status, once reaped. */
static int supervise(pid_t child, int pidfd, int sigfd, const char *command)
{
	long long deadline = limit_ms > 0 ? now_ms() + limit_ms : -1;
	for (;;) {
		struct pollfd fds[2] = { { .fd = sigfd, .events = POLLIN },
					 { .fd = pidfd, .events = POLLIN } };
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int ready = poll(fds, 2, left < 0 ? (int)left : left > INT_MAX ? INT_MAX : (int)left);
		if (ready == -1 && errno == EINTR)
			continue;
		if (ready == -1)
			die("poll", "signalfd and pidfd", strerror(errno), NULL);

		if (ready == 0 && now_ms() >= deadline) { /* the time is up */
			int sig = timed_out ? SIGKILL : timeout_signal;
			send_signal(child, pidfd, sig);
			if (timed_out)
				fprintf(stderr, "%s: %s still running %s s after that: sent signal %d\n",
					PROGRAM, command, grace_text, sig);
			else
				fprintf(stderr, "%s: %s still running after %s s: sent signal %d\n",
					PROGRAM, command, limit_text, sig);
			deadline = !timed_out && grace_ms >= 0 && sig != SIGKILL ? now_ms() + grace_ms : -1;
			timed_out = 1;
		}
		if (ready == 0)
			continue;
		if (fds[1].revents != 0)
			return reap(child);

		struct signalfd_siginfo info;
		ssize_t got = read(sigfd, &info, sizeof info);
		if (got == -1 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof info)
			die("read", "signalfd", got == -1 ? strerror(errno) : "short read", NULL);
		int status = 0;
		pid_t ended = info.ssi_signo == SIGCHLD ? waitpid(child, &status, WNOHANG) : 0;
		if (ended == -1)
			die("waitpid", command, strerror(errno), NULL);
		if (ended == child)
			return status;
		/* Ctrl-C from the terminal (SI_KERNEL, not SI_USER or SI_QUEUE)
		 * has reached COMMAND already: it is in the foreground group. */
		if (info.ssi_signo != SIGCHLD && (info.ssi_code == SI_USER || info.ssi_code == SI_QUEUE))
			send_signal(child, pidfd, (int)info.ssi_signo);
	}
}

/* Linux 5.1 and 5.3; musl and older glibc have no wrappers, so syscall.
 * The pidfd is close-on-exec, as every descriptor made by 5.3+ is. */
static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* With a pidfd, the signal can reach only the process it was opened for.
 * Without one, kill by pid is still safe here: only we reap the child, and
 * its pid cannot be reused until we have. ESRCH: it has just ended. */
static void send_signal(pid_t child, int pidfd, int sig)
{
	long sent = pidfd != -1 ? syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0)
				: kill(child, sig);
	if (sent == -1 && errno != ESRCH)
		die(pidfd != -1 ? "pidfd_send_signal" : "kill", "command", strerror(errno), NULL);
}

/* ======================================================================
 * Below: reading the arguments, ending like COMMAND, and the error line. */

/* A name (TERM, SIGTERM) or a number; 0 if it is neither. */
static int signal_number(const char *name)
{
	static const struct { const char *name; int number; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	};
	const char *bare = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(bare, names[i].name) == 0)
			return names[i].number;
	char *end;
	long number = strtol(name, &end, 10);
	sigset_t check;
	sigemptyset(&check);
	if (name[0] < '1' || name[0] > '9' || *end != '\0' || number > INT_MAX ||
	    sigaddset(&check, (int)number) == -1)
		return 0;
	return (int)number;
}

/* SECONDS, a fraction allowed, as milliseconds; -1 if it is not one. */
static long long milliseconds(const char *text)
{
	char *end;
	double seconds = strtod(text, &end);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || !(seconds <= MAX_SECONDS))
		return -1;
	double ms = seconds * 1000;
	return (long long)ms + ((double)(long long)ms < ms); /* rounded up: never early */
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

/* COMMAND's exit status, or death by its signal, so that the shell sees
 * the same end (without a core file of ours: COMMAND's is the one). */
static _Noreturn void end_like(int status)
{
	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	const struct rlimit no_core = { 0, 0 };
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, sig);
	(void)setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	(void)sigprocmask(SIG_UNBLOCK, &only, NULL);
	raise(sig);
	exit(128 + sig); /* not reached: the signal's default action ends us */
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: %s [-s SIGNAL] [-k SECONDS] SECONDS COMMAND [ARG...]"
		"   (SIGNAL: TERM by default, a name or a number; SECONDS: 0 to %d)\n",
		PROGRAM, MAX_SECONDS);
	exit(2);
}

/* A descriptor 0, 1 or 2 that was closed when we started is filled with
 * /dev/null opened the other way round: reading or writing it still fails
 * with EBADF as before, and no queue, FIFO or socket of ours can take its
 * number and receive our data or our error lines. */
static void hold_standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) == -1)
			exit(FAILED); /* nowhere to say why: stderr may be closed */
}

/* One line on stderr, "program: call object: reason (fix)", then exit
 * 125, as timeout(1) does (1 could be COMMAND's own status). The object
 * may come from the command line: a control byte in the line is shown as
 * \ooo, so that no name can forge a second line. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s%s%s%s", PROGRAM, call,
		       object, reason, fix ? " (" : "", fix ? fix : "", fix ? ")" : "");
	for (const char *c = line; *c != '\0'; c++) {
		if ((unsigned char)*c < ' ' || *c == '\177')
			fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr);
	}
	(void)putc('\n', stderr);
	exit(FAILED);
}
