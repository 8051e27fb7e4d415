/*
 * 15-lock: run a command while holding a lock on a file, like flock(1),
 * with the three kinds of file lock side by side (Linux).
 *
 *   ./15-lock -f demo.lock sh -c 'n=$(cat count); echo $((n + 1)) > count'
 *   ./15-lock -n -f demo.lock true     # fails at once while someone holds it
 *
 * Watch for -r: closing any other descriptor of FILE drops a POSIX lock,
 * never an ofd or flock one. FreeBSD, macOS and older C libraries lack the
 * ofd kind: delete its lines there. Tested on Linux with glibc and musl.
 */
#define _GNU_SOURCE /* F_OFD_SETLK and F_OFD_GETLK: glibc declares them only here */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "15-lock"
enum kind { OFD, POSIX, FLOCK };
enum { MAX_WAIT = 86400 };

static void hold_standard_descriptors(void);
static _Noreturn void usage(void);
static int open_lock_file(const char *path);
static int lock(int fd, enum kind kind, int shared, int wait);
static _Noreturn void already_locked(int fd, enum kind kind, int shared, const char *path);
static void on_alarm(int sig);
static pid_t start(char *command[]);
static int reap(pid_t child);
static _Noreturn void end_like(int status);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

static char default_path[64]; /* holds the longest uid: no truncation */
static volatile sig_atomic_t timed_out;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-15-%ld.lock", (long)getuid());
	const char *path = default_path;
	enum kind kind = OFD;
	int shared = 0, no_wait = 0, reopen = 0, option;
	long seconds = 0; /* 0: wait as long as it takes */
	char *end;

	/* "+": COMMAND's own options are not ours (glibc's getopt would
	 * reorder argv and take them; POSIX's stops there). */
	opterr = 0;
	while ((option = getopt(argc, argv, "+m:snw:f:r")) != -1) {
		if (option == 'm' && strcmp(optarg, "posix") == 0)
			kind = POSIX;
		else if (option == 'm' && strcmp(optarg, "flock") == 0)
			kind = FLOCK;
		else if (option == 'm' && strcmp(optarg, "ofd") != 0)
			usage();
		if (option == 'w' && ((seconds = strtol(optarg, &end, 10)) > MAX_WAIT ||
				      optarg[0] < '1' || optarg[0] > '9' || *end != '\0'))
			usage();
		if (option == 'f')
			path = optarg;
		shared |= option == 's';
		no_wait |= option == 'n';
		reopen |= option == 'r';
		if (option == '?')
			usage();
	}
	if (optind == argc || path[0] == '\0' || (no_wait && seconds > 0))
		usage();
	const char *call = kind == FLOCK ? "flock" : "fcntl";

	/* Step 1: open the lock file, or create it, and check it is ours. */
	int fd = open_lock_file(path);

	/* Step 2: take the lock; with -w, SIGALRM (no SA_RESTART) cuts the
	 * wait short with EINTR. */
	struct sigaction on_time = { .sa_handler = on_alarm };
	sigemptyset(&on_time.sa_mask);
	if (seconds > 0 && sigaction(SIGALRM, &on_time, NULL) == -1)
		die("sigaction", "SIGALRM", strerror(errno), NULL);
	(void)alarm((unsigned)seconds);
	while (lock(fd, kind, shared, !no_wait) == -1) {
		if (errno == EINTR && timed_out)
			die(call, path, "still locked when the -w time was up", NULL);
		if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK)
			already_locked(fd, kind, shared, path);
		if (errno != EINTR)
			die(call, path, strerror(errno), NULL);
	}
	(void)alarm(0);
	if (signal(SIGALRM, SIG_DFL) == SIG_ERR)
		die("signal", "SIGALRM", strerror(errno), NULL);

	/* Step 3 (-r), the trap: a library opens and closes FILE. Closing ANY
	 * descriptor of a file drops every POSIX lock the process holds on it;
	 * OFD and flock locks belong to our open file description, and stay. */
	if (reopen) {
		int other = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (other == -1)
			die("open", path, strerror(errno), NULL);
		if (close(other) == -1)
			die("close", path, strerror(errno), NULL);
	}

	/* Step 4: run COMMAND and wait; we hold the lock meanwhile. */
	int status = reap(start(argv + optind));

	/* Step 5: unlock by closing, and end as COMMAND ended. The file
	 * stays: removing it would let two processes in (see the README). */
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	end_like(status);
}

/* O_NOFOLLOW refuses a symlink (ELOOP); O_NONBLOCK opens a planted FIFO
 * without waiting; O_CLOEXEC keeps the lock from COMMAND. Mode 0600 and
 * the checks: whoever can open the file can hold its lock for ever. */
static int open_lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd == -1)
		die("open", path, strerror(errno),
		    errno == ELOOP ? "a symbolic link is not followed; pass the file itself" : NULL);
	struct stat st;
	if (fstat(fd, &st) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (!S_ISREG(st.st_mode))
		die("open", path, "not a regular file", "pass a lock file");
	if (st.st_uid != geteuid())
		die("open", path, "belongs to another user, who could hold its lock for ever",
		    "pass a file of yours");
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		die("open", path, "others may open it, and hold its lock for ever", "chmod 600 it");
	return fd;
}

/* The whole file (l_len 0: to any length; an OFD lock needs l_pid 0),
 * waiting or failing at once. Returns 0, or -1 with errno set. */
static int lock(int fd, enum kind kind, int shared, int wait)
{
	if (kind == FLOCK)
		return flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB));
	struct flock whole = { .l_type = (short)(shared ? F_RDLCK : F_WRLCK), .l_whence = SEEK_SET };
	if (kind == OFD)
		return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &whole);
	return fcntl(fd, wait ? F_SETLKW : F_SETLK, &whole);
}

/* -n found the lock taken. F_GETLK names a POSIX lock's process; an OFD
 * lock has none (l_pid -1), and flock records no owner at all. */
static _Noreturn void already_locked(int fd, enum kind kind, int shared, const char *path)
{
	char reason[64] = "already locked (this kind of lock does not name its holder)";
	struct flock whole = { .l_type = (short)(shared ? F_RDLCK : F_WRLCK), .l_whence = SEEK_SET };
	if (kind != FLOCK && fcntl(fd, kind == OFD ? F_OFD_GETLK : F_GETLK, &whole) == 0 &&
	    whole.l_type != F_UNLCK && whole.l_pid > 0)
		(void)snprintf(reason, sizeof reason, "already locked by pid %ld", (long)whole.l_pid);
	die(kind == FLOCK ? "flock" : "fcntl", path, reason, NULL);
}

/* An alarm just before the lock call enters the kernel interrupts
 * nothing, so ring again a second later. alarm is async-signal-safe. */
static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	(void)alarm(1);
}

/* Below: running COMMAND so that it ends as it would alone, and the
 * error line. */

static volatile sig_atomic_t command_pid;

/* Pass a signal on to COMMAND, whose end is then ours; not one from the
 * terminal (si_code neither SI_USER nor SI_QUEUE): that reaches COMMAND's
 * group already. kill is async-signal-safe. */
static void forward(int sig, siginfo_t *info, void *context)
{
	(void)context;
	pid_t pid = (pid_t)command_pid;
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): SA_SIGINFO gives info */
	if (pid > 0 && (info->si_code == SI_USER || info->si_code == SI_QUEUE))
		(void)kill(pid, sig);
}

/* fork and exec COMMAND, every signal blocked around fork so that forward
 * knows the pid. One ignored when we started stays ignored (nohup); exec
 * resets the caught ones to their default. */
static pid_t start(char *command[])
{
	static const int forwarded[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO }, old;
	sigset_t all, old_mask;
	sigfillset(&all);
	sigfillset(&sa.sa_mask);
	if (sigprocmask(SIG_BLOCK, &all, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	for (int i = 0; i < 4; i++)
		if (sigaction(forwarded[i], NULL, &old) == -1 ||
		    (old.sa_handler != SIG_IGN && sigaction(forwarded[i], &sa, NULL) == -1))
			die("sigaction", "SIGTERM/SIGHUP/SIGINT/SIGQUIT", strerror(errno), NULL);
	pid_t pid = fork();
	if (pid == -1)
		die("fork", command[0], strerror(errno), NULL);
	if (pid == 0) {
		(void)sigprocmask(SIG_SETMASK, &old_mask, NULL); /* valid: cannot fail */
		execvp(command[0], command);
		int error = errno;
		say("exec", command[0], strerror(error), NULL);
		_exit(error == ENOENT || error == ENOTDIR ? 127 : 126); /* as the shell does */
	}
	command_pid = pid;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
	return pid;
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
	fprintf(stderr, "usage: %s [-m ofd|posix|flock] [-s] [-n | -w SECONDS] [-f FILE] [-r] "
		"COMMAND [ARG...]   (default FILE: %s, SECONDS: 1 to %d)\n",
		PROGRAM, default_path, MAX_WAIT);
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
			exit(1); /* nowhere to say why: stderr may be closed */
}

/* One line on stderr, "program: call object: reason (fix)". The object may
 * come from the command line: a control byte in the line is shown as \ooo,
 * so that no name can forge a second line. */
static void say(const char *call, const char *object, const char *reason, const char *fix)
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
}

/* say's line, then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(1);
}
