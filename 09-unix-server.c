/*
 * 09-unix-server: an echo server on a Unix domain stream socket. It serves
 * clients one after another and sends back every byte each one sends.
 *
 *   ./09-unix-server demo.sock &
 *   ./09-unix-client demo.sock < file > copy
 *
 * PATH defaults to /tmp/ipc-09-<uid>.sock. A socket left by a dead server is
 * replaced; anything else at PATH is refused. Ctrl-C or SIGTERM removes the
 * socket and exits 0. Watch for: the socket file appears at bind(), but
 * connections are accepted only after listen(); a client that comes in
 * between is refused.
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
#include <time.h>
#include <unistd.h>

#define PROGRAM "09-unix-server"
enum { CHUNK = 64 * 1024, BACKLOG = 8 };

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

/* The socket file to remove however we end, once it is ours. */
static const char *socket_path;
static int must_remove;

static void remove_socket(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)unlink(socket_path); /* best effort: nobody is left to tell */
	}
}

/* Stop signals set this flag and write a byte into this pipe, which every
 * wait polls beside the socket: a signal that lands between our look at
 * the flag and the call to poll has left its byte, so poll returns at once
 * (the self-pipe trick). pselect, the other race-free way, cannot watch a
 * descriptor at or past FD_SETSIZE (1024), which a server started with
 * many files open gets; poll has no such limit. */
static volatile sig_atomic_t stop_requested;
static int wake_pipe[2];

static void on_signal(int sig)
{
	int saved_errno = errno;
	stop_requested = sig;
	/* write is async-signal-safe. The write end is non-blocking: when the
	 * pipe is full, a wake-up is already waiting. */
	ssize_t ignored = write(wake_pipe[1], "x", 1);
	(void)ignored;
	errno = saved_errno;
}

/* Wait until fd is readable (or writable), or a stop signal arrives.
 * Returns 0 when fd is ready, -1 when we must stop. */
static int wait_for(int fd, int want_write)
{
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = fd, .events = want_write ? POLLOUT : POLLIN },
			{ .fd = wake_pipe[0], .events = POLLIN },
		};
		int n = poll(fds, 2, -1);
		if (n == -1 && errno != EINTR)
			die("poll", socket_path, strerror(errno), NULL);
		if (stop_requested)
			return -1;
		if (n > 0 && fds[0].revents != 0)
			return 0;
	}
}

/* Echo one client until it half-closes. The socket is non-blocking, so a
 * client that stops reading cannot keep us from hearing a stop signal.
 * Returns -1 when we must stop. */
static int serve(int client)
{
	static char buf[CHUNK];
	size_t pending = 0, offset = 0;
	for (;;) {
		if (wait_for(client, pending > 0) == -1)
			return -1;
		ssize_t n = pending > 0 ? send(client, buf + offset, pending, 0)
					: recv(client, buf, sizeof buf, 0);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (n == -1) { /* the client vanished: its problem, not ours */
			fprintf(stderr, "%s: %s %s: %s (client gone; serving the next one)\n",
				PROGRAM, pending > 0 ? "send" : "recv", socket_path, strerror(errno));
			return 0;
		}
		if (pending == 0 && n == 0)
			return 0; /* the client's shutdown(SHUT_WR): all echoed */
		if (pending == 0) {
			pending = (size_t)n;
			offset = 0;
		} else {
			pending -= (size_t)n;
			offset += (size_t)n;
		}
	}
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
	socket_path = path;

	/* A socket address holds a short path (108 bytes on Linux, 104 on
	 * the BSDs), and bind would not say which one it cut. */
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		die("bind", path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, path, strlen(path) + 1);

	/* Stop signals: a flag and a byte in the wake-up pipe (see
	 * on_signal), which must exist before the handler can run. No
	 * SA_RESTART, so a blocked call is interrupted, not resumed. A client
	 * that vanishes must not kill us with SIGPIPE: ignored, send fails
	 * with EPIPE instead. */
	if (pipe(wake_pipe) == -1)
		die("pipe", "for signals", strerror(errno), NULL);
	if (fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", "pipe for signals", strerror(errno), NULL);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
	}
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);

	/* Step 1: something already at PATH? Only a socket of ours that no
	 * server answers on (left by one that was killed) may be removed.
	 * lstat: a symlink is refused, never followed. The probe does not
	 * block: a live server with a full backlog would keep a blocking
	 * connect waiting until it accepted someone, while EAGAIN tells us at
	 * once that a server is listening. */
	struct stat existing;
	if (lstat(path, &existing) == 0) {
		if (!S_ISSOCK(existing.st_mode))
			die("bind", path, "File exists and is not a socket", "remove it or pass another PATH");
		if (existing.st_uid != geteuid())
			die("bind", path, "Socket exists and belongs to another user", "pass another PATH");
		int probe = socket(AF_UNIX, SOCK_STREAM, 0);
		if (probe == -1)
			die("socket", "AF_UNIX", strerror(errno), NULL);
		if (fcntl(probe, F_SETFL, O_NONBLOCK) == -1)
			die("fcntl", path, strerror(errno), NULL);
		if (connect(probe, (struct sockaddr *)&address, sizeof address) == 0 ||
		    errno == EAGAIN || errno == EWOULDBLOCK)
			die("bind", path, "another server is listening on it", "stop it or pass another PATH");
		if (errno != ECONNREFUSED)
			die("connect", path, strerror(errno), NULL);
		if (close(probe) == -1)
			die("close", path, strerror(errno), NULL);
		if (unlink(path) == -1) /* stale: nobody listens */
			die("unlink", path, strerror(errno), NULL);
	} else if (errno != ENOENT) {
		die("lstat", path, strerror(errno), NULL);
	}

	/* Step 2: bind creates the socket file. Connecting takes write
	 * permission on it (on Linux), so umask makes it 0600: ours alone.
	 * Some older systems ignore that mode; a private directory is the
	 * portable protection. */
	int listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listener == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	mode_t old_umask = umask(0177);
	if (bind(listener, (struct sockaddr *)&address, sizeof address) == -1)
		die("bind", path, strerror(errno),
		    errno == EADDRINUSE ? "another server got there first" : NULL);
	umask(old_umask);
	must_remove = 1;
	if (atexit(remove_socket) != 0)
		die("atexit", "remove_socket", "failed", NULL);

	/* Step 3: listen; from now on clients wait in the backlog. The
	 * listener is non-blocking so a client that gave up between poll
	 * and accept cannot leave us stuck in accept. */
	if (listen(listener, BACKLOG) == -1)
		die("listen", path, strerror(errno), NULL);
	if (fcntl(listener, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);

	/* Step 4: serve clients one after another until a stop signal. */
	while (wait_for(listener, 0) == 0) {
		int client = accept(listener, NULL, NULL);
		if (client == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (client == -1 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				     errno == ENOMEM || errno == EPROTO || errno == ECONNABORTED)) {
			/* Out of descriptors or memory for now, or one client
			 * that gave up: no reason to stop serving. A waiting
			 * client keeps the listener readable, so pause rather
			 * than spin; a stop signal cuts the pause short. */
			fprintf(stderr, "%s: accept %s: %s (trying again in a second)\n",
				PROGRAM, path, strerror(errno));
			struct timespec pause = { .tv_sec = 1 };
			if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
				die("nanosleep", path, strerror(errno), NULL);
			continue;
		}
		if (client == -1)
			die("accept", path, strerror(errno), NULL);
		if (fcntl(client, F_SETFL, O_NONBLOCK) == -1)
			die("fcntl", path, strerror(errno), NULL);
		int stop = serve(client);
		if (close(client) == -1)
			die("close", path, strerror(errno), NULL);
		if (stop == -1)
			break;
	}

	/* Step 5: told to stop is our normal end: remove the socket, exit 0. */
	if (close(listener) == -1)
		die("close", path, strerror(errno), NULL);
	if (close(wake_pipe[0]) == -1 || close(wake_pipe[1]) == -1)
		die("close", "pipe for signals", strerror(errno), NULL);
	must_remove = 0;
	if (unlink(path) == -1)
		die("unlink", path, strerror(errno), NULL);
	return 0;
}
