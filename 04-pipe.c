/*
 * 04-pipe: a parent sends its standard input to its child through a pipe;
 * the child copies the pipe to standard output.
 *
 *   echo hello | ./04-pipe
 *   ./04-pipe < big.iso | cmp - big.iso
 *
 * Watch for: each side closes the end it does not use. A reader waits for
 * end of file until every write end is closed, its own copy included.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "04-pipe"
enum { CHUNK = 64 * 1024 };

static int copy(int from, int to, const char **failed);
static int reap(pid_t child);
static int child_result(int status);
static void hold_standard_descriptors(void);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	(void)argv;
	hold_standard_descriptors();
	if (argc != 1) {
		fprintf(stderr, "usage: %s   (copies standard input to standard output)\n", PROGRAM);
		return 2;
	}
	/* Both sides: standard output beyond ulimit -f must give EFBIG to
	 * report, not a kill by SIGXFSZ (the child inherits this). SIGCHLD at
	 * its default: inherited ignored, the kernel would reap the child for us. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		die("signal", "SIGXFSZ/SIGCHLD", strerror(errno), NULL);

	/* Step 1: the pipe: fds[0] is the read end, fds[1] the write end. */
	int fds[2];
	if (pipe(fds) == -1)
		die("pipe", "to the child", strerror(errno), NULL);

	/* Step 2: fork. The child gets copies of both ends. */
	pid_t child = fork();
	if (child == -1)
		die("fork", "child", strerror(errno), NULL);

	if (child == 0) {
		/* Child: read the pipe until every write end is closed. */
		const char *failed;
		if (close(fds[1]) == -1)
			die("close", "pipe write end", strerror(errno), NULL);
		if (copy(fds[0], STDOUT_FILENO, &failed) == -1)
			die(failed, *failed == 'r' ? "pipe" : "standard output", strerror(errno), NULL);
		if (close(fds[0]) == -1)
			die("close", "pipe read end", strerror(errno), NULL);
		_exit(0);
	}

	/* Parent: a child that stops reading must be an error we report,
	 * not a silent death by SIGPIPE, so the parent ignores SIGPIPE and
	 * gets EPIPE from write() instead. (The child keeps the default.) */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE", strerror(errno), NULL);
	if (close(fds[0]) == -1)
		die("close", "pipe read end", strerror(errno), NULL);

	/* Step 3: copy standard input into the pipe, then close our write
	 * end: that is the end of file the child waits for. */
	const char *failed;
	int copied = copy(STDIN_FILENO, fds[1], &failed);
	int saved = errno;
	if (close(fds[1]) == -1 && copied == 0)
		die("close", "pipe write end", strerror(errno), NULL);

	/* Step 4: wait for the child, and fail if it failed. A child dead of
	 * SIGPIPE found standard output closed (| head): we then end the
	 * same quiet way, as a filter does. */
	int status = reap(child);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	int child_failed = child_result(status);

	/* A child that failed has said why; our EPIPE is only its echo. */
	if (copied == -1 && !(saved == EPIPE && child_failed))
		die(failed, *failed == 'r' ? "standard input" : "pipe", strerror(saved),
		    saved == EPIPE ? "the child stopped reading" : NULL);
	return child_failed || copied == -1 ? 1 : 0;
}

/* Copy from one descriptor to another until end of file. Returns 0, or -1
 * with errno set and *failed naming the side ("read" or "write"). */
static int copy(int from, int to, const char **failed)
{
	static char buf[CHUNK];
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return 0;
		if (n == -1) {
			*failed = "read";
			return -1;
		}
		if (write_all(to, buf, (size_t)n) == -1) {
			*failed = "write";
			return -1;
		}
	}
}

/* Below: reaping the child and saying how it ended, and the helpers every
 * example shares. */

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
