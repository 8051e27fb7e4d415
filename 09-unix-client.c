/*
 * 09-unix-client: send standard input to the echo server over a Unix domain
 * stream socket and print what comes back: the output equals the input.
 *
 *   ./09-unix-server demo.sock &
 *   ./09-unix-client demo.sock < file > copy
 *
 * PATH defaults to /tmp/ipc-09-<uid>.sock. Watch for: sending everything
 * before reading anything deadlocks once the input outgrows both socket
 * buffers (the server blocks sending to us, we block sending to it), so we
 * poll() and move data both ways as each side is ready.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "09-unix-client"
enum { CHUNK = 64 * 1024 };

static void hold_standard_descriptors(void);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	/* 64 bytes hold the longest uid, so snprintf cannot truncate. */
	char default_path[64];
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-09-%ld.sock", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = argc == 2 ? argv[1] : default_path;
	hold_standard_descriptors();

	/* We own nothing that outlives us, so Ctrl-C keeps its default
	 * action. A server that goes away must be an error we report, not a
	 * silent death by SIGPIPE: ignored, send() fails with EPIPE. So must
	 * an output past ulimit -f: SIGXFSZ ignored, write fails with EFBIG. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);

	/* Step 1: connect. No server means ENOENT (no socket file) or
	 * ECONNREFUSED (a file nobody listens on). */
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		die("connect", path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, path, strlen(path) + 1);
	int sock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sock == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	if (connect(sock, (struct sockaddr *)&address, sizeof address) == -1) {
		int error = errno;
		struct stat target; /* Linux refuses a directory like a dead socket */
		if (error == ECONNREFUSED && stat(path, &target) == 0 && S_ISDIR(target.st_mode))
			die("connect", path, strerror(EISDIR), "pass the path of a socket");
		die("connect", path, strerror(error),
		    error == ENOENT || error == ECONNREFUSED ? "is 09-unix-server running?" : NULL);
	}
	/* Non-blocking, so a send can never stall while replies pile up. Not
	 * standard input: its file description is shared with the shell. */
	if (fcntl(sock, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);

	/* Step 2: move bytes both ways until the server closes. Read stdin
	 * only when the last chunk is fully sent; always read the socket. */
	static char up[CHUNK], down[CHUNK];
	size_t pending = 0, offset = 0;
	int input_open = 1;
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = input_open && pending == 0 ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = sock, .events = POLLIN | (pending > 0 ? POLLOUT : 0) },
		};
		if (poll(fds, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll", path, strerror(errno), NULL);
		}
		if (fds[0].revents != 0) {
			ssize_t n = read(STDIN_FILENO, up, sizeof up);
			if (n == -1 && errno != EINTR)
				die("read", "standard input", strerror(errno), NULL);
			if (n == 0) {
				/* Step 3: half-close. The server sees end of file
				 * and we can still read the rest of its echo. */
				input_open = 0;
				if (shutdown(sock, SHUT_WR) == -1)
					die("shutdown", path, strerror(errno), NULL);
			} else if (n > 0) {
				pending = (size_t)n;
				offset = 0;
			}
		}
		if (pending > 0 && (fds[1].revents & (POLLOUT | POLLERR))) {
			ssize_t n = send(sock, up + offset, pending, 0);
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				die("send", path, strerror(errno), NULL);
			if (n > 0) {
				pending -= (size_t)n;
				offset += (size_t)n;
			}
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(sock, down, sizeof down, 0);
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				die("recv", path, strerror(errno), NULL);
			if (n == 0 && (input_open || pending > 0))
				die("recv", path, "the server closed the connection before the end", NULL);
			if (n == 0)
				break; /* Step 4: everything came back */
			if (n > 0 && write_all(STDOUT_FILENO, down, (size_t)n) == -1) {
				if (errno == EPIPE) { /* end quietly, as cat does */
					signal(SIGPIPE, SIG_DFL);
					raise(SIGPIPE);
				}
				die("write", "standard output", strerror(errno), NULL);
			}
		}
	}
	if (close(sock) == -1)
		die("close", path, strerror(errno), NULL);
	return 0;
}

/* Below: the descriptors, the writing and the error line every example shares. */

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
