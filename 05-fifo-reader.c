/*
 * 05-fifo-reader: copy what arrives through a named pipe (FIFO) to standard
 * output, then remove the FIFO.
 *
 *   ./05-fifo-reader demo.fifo > copy &     # either side may start first
 *   ./05-fifo-writer demo.fifo < file
 *
 * PATH defaults to /tmp/ipc-05-<uid>.fifo. Whichever side starts first
 * creates the FIFO; the reader removes it, whether it succeeds or not.
 * Watch for: end of file only means every writer closed the FIFO; a writer
 * that crashed looks exactly like one that finished (see README).
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

#define PROGRAM "05-fifo-reader"
enum { CHUNK = 64 * 1024 };

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

/* The FIFO to remove if we stop early; set before any signal can use it. */
static const char *fifo_path;
static volatile sig_atomic_t must_remove;

static void remove_fifo(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)unlink(fifo_path); /* best effort: nobody is left to tell */
	}
}

/* Ctrl-C, SIGTERM, SIGHUP (and SIGPIPE from standard output, called by
 * hand): clean up, then die of the same signal so the shell sees how we
 * ended. unlink, signal and raise are async-signal-safe. */
static void on_signal(int sig)
{
	remove_fifo();
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

int main(int argc, char *argv[])
{
	/* static: the atexit handler may use it after main has returned.
	 * 64 bytes hold the longest uid, so snprintf cannot truncate. */
	static char default_path[64];
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-05-%ld.fifo", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = argc == 2 ? argv[1] : default_path;

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
	/* A closed standard output (| head) must still let us remove the
	 * FIFO before we go, so SIGPIPE is ignored and EPIPE handled below. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);

	/* Step 1: make the FIFO, unless the writer already did. */
	if (mkfifo(path, 0600) == -1 && errno != EEXIST)
		die("mkfifo", path, strerror(errno), NULL);

	/* Step 2: whatever exists there must be a FIFO of ours. lstat does not
	 * follow symlinks; checking before open means we never block on, read
	 * from or remove something another user planted at PATH. */
	struct stat before;
	if (lstat(path, &before) == -1)
		die("lstat", path, strerror(errno), NULL);
	if (!S_ISFIFO(before.st_mode))
		die("mkfifo", path, "File exists and is not a FIFO", "remove it or pass another PATH");
	if (before.st_uid != geteuid())
		die("mkfifo", path, "File exists and belongs to another user", "pass another PATH");
	fifo_path = path;
	must_remove = 1; /* from here on, every way out removes it */
	if (atexit(remove_fifo) != 0)
		die("atexit", "remove_fifo", "failed", NULL);

	/* Step 3: open for reading; this waits until a writer opens it too.
	 * O_NOFOLLOW and the fstat below catch a swap since the lstat. */
	int fd;
	while ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1 && errno == EINTR)
		continue;
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	struct stat after;
	if (fstat(fd, &after) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (after.st_dev != before.st_dev || after.st_ino != before.st_ino)
		die("open", path, "replaced while being opened", "try again");

	/* Step 4: copy to standard output until end of file, which comes when
	 * the writer closes its end, however it ended. */
	static char buf[CHUNK];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", path, strerror(errno), NULL);
		if (n == 0)
			break;
		if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
	}

	/* Step 5: the stream is complete; remove the FIFO and report failure. */
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	must_remove = 0;
	if (unlink(path) == -1 && errno != ENOENT)
		die("unlink", path, strerror(errno), NULL);
	return 0;
}
