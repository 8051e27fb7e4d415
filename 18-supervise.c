/*
 * 18-supervise: run a command with a time limit, like timeout(1), and never
 * signal the wrong process (Linux only: signalfd, pidfds, PR_SET_PDEATHSIG).
 *
 *   ./18-supervise -s INT -k 1 0.5 ./server   # SIGINT at 0.5 s, SIGKILL 1 s on
 *
 * Watch for: one poll waits for our signals (a signalfd), COMMAND's end (a
 * pidfd) and the time; if we are killed, COMMAND is too. Without pidfds,
 * SIGCHLD and kill stand in. Tested with glibc and musl, both ways.
 */
#define _DEFAULT_SOURCE /* syscall(2): no pidfd_open wrapper in musl, nor glibc before 2.36 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
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
enum { TIMED_OUT = 124, FAILED = 125, KILLED = 128 + SIGKILL, MAX_SECONDS = 1000000 };

static void hold_standard_descriptors(void);
static int signal_number(const char *name);
static long long milliseconds(const char *text);
static int supervise(pid_t child, int pidfd, int sigfd, const char *command);
static _Noreturn void end_like(int status);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static int timeout_signal = SIGTERM, timed_out;
static long long limit_ms, grace_ms; /* -k 0, as no -k: no SIGKILL (timeout(1) too) */
static const char *limit_text, *grace_text;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	int option, bad = 0;
	opterr = 0;
	while ((option = getopt(argc, argv, "+s:k:")) != -1)
		bad |= option == 's' ? (timeout_signal = signal_number(optarg)) == 0
		       : option != 'k' || (grace_ms = milliseconds(grace_text = optarg)) < 0;
	if (bad || argc - optind < 2 || (limit_ms = milliseconds(limit_text = argv[optind])) < 0) {
		fprintf(stderr, "usage: %s [-s SIGNAL] [-k SECONDS] SECONDS COMMAND [ARG...]   "
			"(SIGNAL: TERM by default, a name or a number; SECONDS: 0 to %d)\n",
			PROGRAM, MAX_SECONDS);
		return 2;
	}
	char **command = argv + optind + 1;

	/* Step 1: a signalfd for the signals we pass on, and SIGCHLD (COMMAND's end without
	 * pidfds). Blocked first, they wait for it to read them. */
	static const int passed_on[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction old, old_chld, default_action = { .sa_handler = SIG_DFL };
	sigset_t taken, old_mask;
	sigemptyset(&taken);
	sigaddset(&taken, SIGCHLD);
	for (int i = 0; i < 3; i++)
		if (sigaction(passed_on[i], NULL, &old) == -1)
			die("sigaction", "SIGINT/SIGTERM/SIGHUP", strerror(errno), NULL);
		else if (old.sa_handler != SIG_IGN) /* one ignored (nohup) stays so, as in 15 */
			sigaddset(&taken, passed_on[i]);
	/* An ignored SIGCHLD would have the kernel reap COMMAND, and waitpid
	 * fail; COMMAND gets it back as it ran alone (timeout(1): default). */
	if (sigaction(SIGCHLD, &default_action, &old_chld) == -1)
		die("sigaction", "SIGCHLD", strerror(errno), NULL);
	if (sigprocmask(SIG_BLOCK, &taken, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	int sigfd = signalfd(-1, &taken, SFD_CLOEXEC);
	if (sigfd == -1)
		die("signalfd", "SIGINT/SIGTERM/SIGHUP/SIGCHLD", strerror(errno), NULL);

	/* Step 2: fork. The child asks for SIGKILL at our death, checks that we
	 * had not died already, gives back the mask (exec keeps it) and SIGCHLD,
	 * and ends with _exit: exit would flush stdio buffers that are ours too. */
	pid_t parent = getpid(), child = fork();
	if (child == -1)
		die("fork", command[0], strerror(errno), NULL);
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL) == -1 || getppid() != parent)
			_exit(FAILED); /* prctl cannot fail for SIGKILL; the supervisor died */
		(void)sigprocmask(SIG_SETMASK, &old_mask, NULL); /* a valid mask: cannot fail */
		(void)sigaction(SIGCHLD, &old_chld, NULL); /* valid: cannot fail */
		execvp(command[0], command);
		int error = errno;
		say("exec", command[0], strerror(error), NULL);
		_exit(error == ENOENT || error == ENOTDIR ? 127 : 126);
	}

	/* Step 3: a pidfd, which no recycled pid can match, opened by pid: our
	 * unreaped child keeps its pid. -1 where pidfds are missing. */
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd == -1 && errno != ENOSYS && errno != EPERM)
		die("pidfd_open", command[0], strerror(errno), NULL);

	/* Step 4: wait for COMMAND's end, a signal to pass on, or the time.
	 * Step 5: end as COMMAND ended, or as the time ran out. */
	int status = supervise(child, pidfd, sigfd, command[0]);
	if (close(sigfd) == -1 || (pidfd != -1 && close(pidfd) == -1))
		die("close", "signalfd or pidfd", strerror(errno), NULL);
	if (timed_out)
		exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? KILLED : TIMED_OUT);
	end_like(status);
}

static long long now_ms(void)
{
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		die("clock_gettime", "CLOCK_MONOTONIC", strerror(errno), NULL);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* One poll watches the signalfd, the pidfd (readable once COMMAND has
 * ended; poll skips a -1) and the clock. Returns COMMAND's status. */
static int supervise(pid_t child, int pidfd, int sigfd, const char *command)
{
	const char *signaller = pidfd != -1 ? "pidfd_send_signal" : "kill";
	long long deadline = limit_ms > 0 ? now_ms() + limit_ms : -1;
	for (;;) {
		struct pollfd fds[2] = { { .fd = sigfd, .events = POLLIN },
					 { .fd = pidfd, .events = POLLIN } };
		long long left = deadline < 0 ? -1 : deadline - now_ms(); /* an int: MAX_SECONDS */
		int ready = poll(fds, 2, deadline >= 0 && left < 0 ? 0 : (int)left), sig = 0;
		struct signalfd_siginfo info;
		if (ready == -1 && errno != EINTR)
			die("poll", "signalfd and pidfd", strerror(errno), NULL);
		if (fds[0].revents != 0 && read(sigfd, &info, sizeof info) != (ssize_t)sizeof info)
			die("read", "signalfd", strerror(errno), NULL);

		/* Not from the terminal (SI_KERNEL): its Ctrl-C reached COMMAND's group already. */
		if (fds[0].revents != 0 && info.ssi_signo != SIGCHLD &&
		    (info.ssi_code == SI_USER || info.ssi_code == SI_QUEUE))
			sig = (int)info.ssi_signo;
		if (ready == 0) /* the time is up: SIGNAL, and SIGKILL after -k */
			sig = timed_out ? SIGKILL : timeout_signal;
		/* A pidfd reaches only its process; kill is safe too, as only we reap
		 * the child. ESRCH: it has just ended; its pidfd or SIGCHLD follows. */
		if (sig != 0 && (pidfd != -1 ? syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0)
					     : kill(child, sig)) == -1 && errno != ESRCH)
			die(signaller, command, strerror(errno), NULL);
		if (ready == 0) {
			const char *after = timed_out ? grace_text : limit_text;
			char when[4096], sent[32];
			(void)snprintf(when, sizeof when, timed_out ? "still running %s s after that"
				       : "still running after %s s", after);
			(void)snprintf(sent, sizeof sent, "sent signal %d", sig);
			say(command, when, sent, NULL);
			/* after a SIGKILL (-s KILL, or -k's) no further deadline */
			deadline = grace_ms > 0 && sig != SIGKILL ? now_ms() + grace_ms : -1;
			timed_out = 1;
		}

		/* A readable pidfd, or a SIGCHLD (which may be for a stop). */
		int status;
		pid_t ended = waitpid(child, &status, fds[1].revents != 0 ? 0 : WNOHANG);
		if (ended == -1)
			die("waitpid", command, strerror(errno), NULL);
		if (ended == child)
			return status;
	}
}

/* Below: reading the arguments, ending like COMMAND, and the error line. */

/* A name (TERM, SIGTERM) or any number the kernel has, 32 to 34 too (which
 * a C library keeps for itself below SIGRTMIN); 0 if it is neither. */
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
	return name[0] < '1' || name[0] > '9' || *end != '\0' || number > SIGRTMAX ? 0 : (int)number;
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

/* A descriptor 0, 1 or 2 closed at our start is filled with /dev/null, opened
 * the other way round (using it still fails with EBADF): no queue, FIFO or
 * socket of ours can take its number and get our data or error lines. */
static void hold_standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) == -1)
			exit(FAILED); /* nowhere to say why: stderr may be closed */
}

/* One line on stderr, "program: call object: reason (fix)". A control
 * byte (a name may hold one) is shown as \ooo: no forged line. */
static void say(const char *call, const char *object, const char *reason, const char *fix)
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
}

/* One line on stderr, "program: call object: reason (fix)", then exit
 * 125, as timeout(1) does (1 could be COMMAND's own status). */
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(FAILED);
}
