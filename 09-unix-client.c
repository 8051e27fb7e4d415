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
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "09-unix-client"
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
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-09-%ld.sock", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = argc == 2 ? argv[1] : default_path;

	/* We own nothing that outlives us, so Ctrl-C keeps its default
	 * action. A server that goes away must be an error we report, not a
	 * silent death by SIGPIPE: ignoring it makes send() fail with EPIPE. */
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);

	/* Step 1: connect. No server means ENOENT (no socket file) or
	 * ECONNREFUSED (a file nobody listens on). */
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		die("connect", path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, path, strlen(path) + 1);
	int first = socket(AF_UNIX, SOCK_STREAM, 0);
	if (first == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	/* socket() takes the lowest free descriptor: started with standard
	 * input or output closed (<&-, >&-), we would get 0 or 1 and read
	 * from or write to our own socket in their place. Moved to 3 or
	 * above, a closed standard stream fails with EBADF, as it should. */
	int sock = fcntl(first, F_DUPFD, 3);
	if (sock == -1)
		die("fcntl", "AF_UNIX", strerror(errno), NULL);
	if (close(first) == -1)
		die("close", "AF_UNIX", strerror(errno), NULL);
	if (connect(sock, (struct sockaddr *)&address, sizeof address) == -1)
		die("connect", path, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ? "is 09-unix-server running?" : NULL);
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
