/*
 * 05-fifo-writer: stream standard input into a named pipe (FIFO).
 *
 *   ./05-fifo-reader demo.fifo > copy &     # either side may start first
 *   ./05-fifo-writer demo.fifo < file
 *
 * PATH defaults to /tmp/ipc-05-<uid>.fifo. Watch for: open() on a FIFO
 * blocks until the other side opens it too. Tested on Linux (glibc, musl);
 * POSIX lets a system refuse record locks on a FIFO (EINVAL), and then we
 * stop with that error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_NOFOLLOW /* POSIX.1-2008, but some systems hide it from POSIX-only programs */
#define O_NOFOLLOW 0 /* there, open_fifo's identity check alone catches a swap */
#endif
#define PROGRAM "05-fifo-writer"
enum { CHUNK = 64 * 1024 };

static int open_fifo(const char *path, int flags);
static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *fifo_path;
static volatile sig_atomic_t must_remove; /* remove fifo_path if we stop early */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	catch_stop_signals(); /* SIGPIPE ignored: a reader gone is EPIPE */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	static char default_path[64]; /* static: clean_up may need it after main */
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-05-%ld.fifo", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = argc == 2 ? argv[1] : default_path;

	/* Step 1: make the FIFO, unless the reader already did. */
	fifo_path = path;
	if (mkfifo(path, 0600) == 0)
		must_remove = 1; /* ours until the stream is complete */
	else if (errno != EEXIST)
		die("mkfifo", path, strerror(errno), NULL);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 2: check that the FIFO is ours and open it: that waits for a reader. */
	int fd = open_fifo(path, O_WRONLY);

	/* Step 3: claim it, or a second writer's stream would mix with ours: a
	 * write lock on byte 1 (byte 0 is the readers'), which excludes others. */
	struct flock mine = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1 };
	if (fcntl(fd, F_SETLK, &mine) == -1) {
		if (errno != EACCES && errno != EAGAIN)
			die("fcntl", path, strerror(errno), NULL);
		must_remove = 0; /* the FIFO serves the other writer now */
		die("fcntl", path, "already has a writer", "wait for it to finish, or pass another PATH");
	}

	/* Step 4: copy standard input into the FIFO until end of file. */
	static char buf[CHUNK];
	ssize_t n;
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		if (write_all(fd, buf, (size_t)n) == -1)
			die("write", path, strerror(errno),
			    errno == EPIPE ? "the reader went away before the end" : NULL);
	}

	/* Step 5: closing our end is what the reader sees as end of file. */
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	must_remove = 0; /* complete: the reader removes the FIFO */
	return 0;
}

/* Open path only if it is our FIFO: lstat (no symlink followed) before we
 * block on it; O_NOFOLLOW and the same inode after open catch a swap. */
static int open_fifo(const char *path, int flags)
{
	struct stat before, after;
	if (lstat(path, &before) == -1)
		die("lstat", path, strerror(errno), NULL);
	if (S_ISDIR(before.st_mode))
		die("mkfifo", path, strerror(EISDIR), "pass another PATH");
	if (!S_ISFIFO(before.st_mode))
		die("mkfifo", path, "File exists and is not a FIFO", "remove it or pass another PATH");
	if (before.st_uid != geteuid())
		die("mkfifo", path, "File exists and belongs to another user", "pass another PATH");
	int fd;
	while ((fd = open(path, flags | O_NOFOLLOW)) == -1 && errno == EINTR)
		continue;
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	if (fstat(fd, &after) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (after.st_dev != before.st_dev || after.st_ino != before.st_ino)
		die("open", path, "replaced while being opened", "try again");
	return fd;
}

/* Below: what removes the FIFO when we are stopped early; shared helpers. */

/* Remove the FIFO if we made it and the stream did not complete (unlink
 * is async-signal-safe). */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)unlink(fifo_path); /* best effort: nobody is left to tell */
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
