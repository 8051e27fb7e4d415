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
enum kind { OFD, POSIX, FLOCK, NO_KIND };
enum { MAX_WAIT = 86400 };

static void hold_standard_descriptors(void);
static void on_alarm(int sig);
static int run(char *command[]);
static _Noreturn void end_like(int status);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	char default_path[64]; /* holds the longest uid: no truncation */
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-15-%ld.lock", (long)getuid());
	const char *path = default_path;
	enum kind kind = OFD;
	int shared = 0, no_wait = 0, reopen = 0, bad = 0, option;
	long seconds = 0; /* 0: wait as long as it takes */
	char *end;

	/* "+": COMMAND's options are its own (glibc's getopt would take them). */
	opterr = 0;
	while ((option = getopt(argc, argv, "+m:snw:f:r")) != -1) {
		if (option == 'm')
			kind = strcmp(optarg, "ofd") == 0     ? OFD
			       : strcmp(optarg, "posix") == 0 ? POSIX
			       : strcmp(optarg, "flock") == 0 ? FLOCK : NO_KIND;
		if (option == 'w')
			bad |= (seconds = strtol(optarg, &end, 10)) > MAX_WAIT || optarg[0] < '1' ||
			       optarg[0] > '9' || *end != '\0';
		if (option == 'f')
			path = optarg;
		shared |= option == 's';
		no_wait |= option == 'n';
		reopen |= option == 'r';
		bad |= option == '?' || kind == NO_KIND;
	}
	if (bad || optind == argc || path[0] == '\0' || (no_wait && seconds > 0)) {
		fprintf(stderr, "usage: %s [-m ofd|posix|flock] [-s] [-n | -w SECONDS] [-f FILE] "
			"[-r] COMMAND [ARG...]   (default FILE: %s, SECONDS: 1 to %d)\n",
			PROGRAM, default_path, MAX_WAIT);
		return 2;
	}
	const char *call = kind == FLOCK ? "flock" : "fcntl";

	/* Step 1: open or create FILE; no symlink (O_NOFOLLOW), no wait for a
	 * FIFO's writer (O_NONBLOCK), nothing for COMMAND (O_CLOEXEC). */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd == -1)
		die("open", path, strerror(errno), errno == ELOOP ?
		    "a symbolic link is not followed; pass the file itself" : NULL);
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

	/* Step 2: lock the whole file (l_len 0); an OFD lock needs l_pid 0.
	 * With -w, SIGALRM (no SA_RESTART) ends the wait with EINTR. */
	struct flock whole = { .l_type = (short)(shared ? F_RDLCK : F_WRLCK),
			       .l_whence = SEEK_SET };
	int set = kind == OFD ? (no_wait ? F_OFD_SETLK : F_OFD_SETLKW)
			      : (no_wait ? F_SETLK : F_SETLKW);
	int how = (shared ? LOCK_SH : LOCK_EX) | (no_wait ? LOCK_NB : 0);
	struct sigaction on_time = { .sa_handler = on_alarm };
	sigemptyset(&on_time.sa_mask);
	if (seconds > 0 && sigaction(SIGALRM, &on_time, NULL) == -1)
		die("sigaction", "SIGALRM", strerror(errno), NULL);
	(void)alarm((unsigned)seconds);
	int got = kind == FLOCK ? flock(fd, how) : fcntl(fd, set, &whole);
	if (got == -1 && errno == EINTR) /* SIGALRM is the only signal we handle */
		die(call, path, "still locked when the -w time was up", NULL);
	if (got == -1 && errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK)
		die(call, path, strerror(errno), NULL);
	if (got == -1) { /* -n: F_GETLK names a POSIX lock's holder, never an OFD one's */
		char reason[64] = "already locked (this kind of lock does not name its holder)";
		if (kind != FLOCK && fcntl(fd, kind == OFD ? F_OFD_GETLK : F_GETLK, &whole) == 0 &&
		    whole.l_type != F_UNLCK && whole.l_pid > 0)
			(void)snprintf(reason, sizeof reason, "already locked by pid %ld",
				       (long)whole.l_pid);
		die(call, path, reason, NULL);
	}
	(void)alarm(0); /* exec gives COMMAND SIGALRM's default action back */

	/* Step 3 (-r), the trap: as a library might, open FILE and close it,
	 * which drops our POSIX lock (an OFD or flock one stays). */
	if (reopen) {
		int other = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (other == -1)
			die("open", path, strerror(errno), NULL);
		if (close(other) == -1)
			die("close", path, strerror(errno), NULL);
	}

	/* Step 4: run COMMAND and wait; we hold the lock meanwhile. */
	int status = run(argv + optind);

	/* Step 5: unlock by closing (the file stays: see the README), and end as COMMAND ended. */
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	end_like(status);
}

/* An alarm just before the lock call enters the kernel interrupts
 * nothing, so ring again a second later. alarm is async-signal-safe. */
static void on_alarm(int sig)
{
	(void)sig;
	(void)alarm(1);
}

/* Below: running COMMAND so that it ends as it would alone, and the error line. */

/* fork and exec COMMAND, passing on what we are sent until it ends. The signals are blocked
 * before fork and taken with sigwaitinfo: no handler races fork, none goes to a reaped pid. */
static int run(char *command[])
{
	static const int forwarded[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };
	struct sigaction old, old_chld, default_action = { .sa_handler = SIG_DFL };
	sigset_t taken, old_mask;
	sigemptyset(&taken);
	sigaddset(&taken, SIGCHLD);
	for (int i = 0; i < 4; i++)
		if (sigaction(forwarded[i], NULL, &old) == -1)
			die("sigaction", "SIGTERM/SIGHUP/SIGINT/SIGQUIT", strerror(errno), NULL);
		else if (old.sa_handler != SIG_IGN) /* one ignored (nohup) stays ignored */
			sigaddset(&taken, forwarded[i]);
	/* An ignored SIGCHLD would reap COMMAND for us, and never come; COMMAND
	 * gets back the action we inherited (old_chld). */
	if (sigaction(SIGCHLD, &default_action, &old_chld) == -1)
		die("sigaction", "SIGCHLD", strerror(errno), NULL);
	if (sigprocmask(SIG_BLOCK, &taken, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t pid = fork();
	if (pid == -1)
		die("fork", command[0], strerror(errno), NULL);
	if (pid == 0) {
		(void)sigaction(SIGCHLD, &old_chld, NULL); /* from sigaction: cannot fail */
		(void)sigprocmask(SIG_SETMASK, &old_mask, NULL);
		execvp(command[0], command);
		int error = errno;
		say("exec", command[0], strerror(error), NULL);
		_exit(error == ENOENT || error == ENOTDIR ? 127 : 126); /* as the shell does */
	}
	for (;;) {
		siginfo_t info;
		int status = 0, sig = sigwaitinfo(&taken, &info);
		if (sig == -1 && errno != EINTR) /* EINTR: Linux, after a stop and a continue */
			die("sigwaitinfo", "SIGCHLD", strerror(errno), NULL);
		/* Only from kill (SI_USER, SI_QUEUE): the terminal signals COMMAND's group too. */
		if (sig > 0 && sig != SIGCHLD &&
		    (info.si_code == SI_USER || info.si_code == SI_QUEUE))
			(void)kill(pid, sig); /* not reaped yet: the pid is COMMAND's */
		pid_t ended = sig == SIGCHLD ? waitpid(pid, &status, WNOHANG) : 0;
		if (ended == -1)
			die("waitpid", "child", strerror(errno), NULL);
		if (ended == pid) /* not merely stopped */
			return status;
	}
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

/* say's line, then exit 1. */
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(1);
}
