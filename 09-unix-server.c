/*
 * 09-unix-server: an echo server on a Unix domain stream socket. It serves
 * clients one after another and sends back every byte each one sends.
 *
 *   ./09-unix-server demo.sock &
 *   ./09-unix-client demo.sock < file > copy
 *
 * PATH defaults to /tmp/ipc-09-<uid>.sock. A socket left by a dead server is
 * replaced; anything else at PATH is refused. Ctrl-C, SIGTERM or SIGHUP
 * removes the socket and exits 0; any other fatal signal removes it and
 * kills us. Watch for: the socket file appears at bind(), but connections
 * are accepted only after listen(); a client that comes in between is
 * refused. Not tested elsewhere: the BSDs and macOS answer a full backlog
 * with ECONNREFUSED, not Linux's EAGAIN, so there a live server whose
 * backlog is full looks dead, and its socket would be replaced.
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

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void wake_up_poll_on_stop_request(void);
static void clean_up(void);
static void remove_stale_socket(const struct sockaddr_un *address);
static int wait_for(int fd, short events);
static int accept_error_is_transient(int error);
static int serve(int client);
static void report(const char *call, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

/* The socket file to remove however we end, once it is ours. */
static const char *socket_path;
static volatile sig_atomic_t must_remove;
static int wake_pipe[2]; /* see wake_up_poll_on_stop_request */

int main(int argc, char *argv[])
{
	/* static: clean_up, run by exit, may use it after main has returned.
	 * 64 bytes hold the longest uid, so snprintf cannot truncate. */
	static char default_path[64];
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-09-%ld.sock", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = socket_path = argc == 2 ? argv[1] : default_path;
	hold_standard_descriptors();

	/* A socket address holds a short path (108 bytes on Linux, 104 on
	 * the BSDs), and bind would not say which one it cut. */
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		die("bind", path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, path, strlen(path) + 1);

	catch_stop_signals();
	wake_up_poll_on_stop_request();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: a socket, not yet anywhere in the file system. */
	int listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listener == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);

	/* Step 2: bind creates the socket file, so a stale one left by a
	 * killed server goes first. Connecting takes write permission on it
	 * (on Linux), so umask makes it 0600: ours alone. Some older systems
	 * ignore that mode; a private directory is the portable protection.
	 * Signals wait until must_remove says the file is ours. */
	remove_stale_socket(&address);
	sigset_t all, old_mask;
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	mode_t old_umask = umask(0177);
	if (bind(listener, (struct sockaddr *)&address, sizeof address) == -1)
		die("bind", path, strerror(errno),
		    errno == EADDRINUSE ? "another server got there first" : NULL);
	umask(old_umask);
	must_remove = 1;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);

	/* Step 3: listen; from now on clients wait in the backlog. The
	 * listener is non-blocking so a client that gave up between poll
	 * and accept cannot leave us stuck in accept. */
	if (listen(listener, BACKLOG) == -1)
		die("listen", path, strerror(errno), NULL);
	if (fcntl(listener, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);

	/* Step 4: accept clients one after another until told to stop. */
	while (wait_for(listener, POLLIN) == 0) {
		int client = accept(listener, NULL, NULL);
		if (client == -1 && accept_error_is_transient(errno))
			continue;
		if (client == -1)
			die("accept", path, strerror(errno), NULL);
		if (fcntl(client, F_SETFL, O_NONBLOCK) == -1)
			die("fcntl", path, strerror(errno), NULL);

		/* Step 5: recv and send, until the client half-closes. */
		int told_to_stop = serve(client) == -1;
		if (close(client) == -1)
			die("close", path, strerror(errno), NULL);
		if (told_to_stop)
			break;
	}

	/* Step 6: told to stop is our normal end: remove the socket, exit 0. */
	if (close(listener) == -1)
		die("close", path, strerror(errno), NULL);
	if (close(wake_pipe[0]) == -1 || close(wake_pipe[1]) == -1)
		die("close", "pipe for signals", strerror(errno), NULL);
	must_remove = 0;
	if (unlink(path) == -1)
		die("unlink", path, strerror(errno), NULL);
	return 0;
}

/* Echo one client until it half-closes. Every wait is a poll that a stop
 * request cuts short, so a client that stops reading cannot keep us from
 * stopping. Returns -1 when we must stop. */
static int serve(int client)
{
	static char buf[CHUNK];
	for (;;) {
		if (wait_for(client, POLLIN) == -1)
			return -1;
		ssize_t got = recv(client, buf, sizeof buf, 0);
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (got == -1) { /* the client vanished: its problem, not ours */
			report("recv", strerror(errno), "client gone; serving the next one");
			return 0;
		}
		if (got == 0)
			return 0; /* the client's shutdown(SHUT_WR): all echoed */

		for (ssize_t sent = 0; sent < got;) {
			if (wait_for(client, POLLOUT) == -1)
				return -1;
			ssize_t n = send(client, buf + sent, (size_t)(got - sent), 0);
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				continue;
			if (n == -1) {
				report("send", strerror(errno), "client gone; serving the next one");
				return 0;
			}
			sent += n;
		}
	}
}

/* Below: what keeps a stop signal from being missed or leaving the socket
 * behind, what tells a stale socket from a live server, and the error line. */

/* Something already at PATH? Only a socket of ours that no server answers
 * on (left by one that was killed) may be removed. lstat: a symlink is
 * refused, never followed. The probe does not block: a live server with a
 * full backlog would keep a blocking connect waiting until it accepted
 * someone, while Linux's EAGAIN tells us at once that a server is there.
 * Any answer but ECONNREFUSED leaves the file alone. */
static void remove_stale_socket(const struct sockaddr_un *address)
{
	const char *path = address->sun_path;
	struct stat existing;
	if (lstat(path, &existing) == -1) {
		if (errno == ENOENT)
			return;
		die("lstat", path, strerror(errno), NULL);
	}
	if (S_ISDIR(existing.st_mode))
		die("bind", path, strerror(EISDIR), "pass the path of a socket");
	if (!S_ISSOCK(existing.st_mode))
		die("bind", path, "File exists and is not a socket", "remove it or pass another PATH");
	if (existing.st_uid != geteuid())
		die("bind", path, "Socket exists and belongs to another user", "pass another PATH");
	int probe = socket(AF_UNIX, SOCK_STREAM, 0);
	if (probe == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	if (fcntl(probe, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);
	if (connect(probe, (const struct sockaddr *)address, sizeof *address) == 0 ||
	    errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS)
		die("bind", path, "another server is listening on it", "stop it or pass another PATH");
	if (errno != ECONNREFUSED)
		die("connect", path, strerror(errno), NULL);
	if (close(probe) == -1)
		die("close", path, strerror(errno), NULL);
	if (unlink(path) == -1) /* stale: nobody listens */
		die("unlink", path, strerror(errno), NULL);
}

/* accept failing for lack of descriptors or memory, or for one client
 * that gave up, is no reason to stop serving: say so, and since a waiting
 * client keeps the listener readable, pause rather than spin (a stop
 * request cuts the pause short). Returns 0 for an error that is fatal. */
static int accept_error_is_transient(int error)
{
	if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR)
		return 1;
	if (error != EMFILE && error != ENFILE && error != ENOBUFS && error != ENOMEM &&
	    error != EPROTO && error != ECONNABORTED)
		return 0;
	report("accept", strerror(error), "trying again in a second");
	struct timespec pause = { .tv_sec = 1 };
	if (nanosleep(&pause, NULL) == -1 && errno != EINTR)
		die("nanosleep", socket_path, strerror(errno), NULL);
	return 1;
}

/* Ctrl-C, SIGTERM and SIGHUP ask us to stop, which is our normal end: the
 * handler sets this flag and writes a byte into wake_pipe, which every
 * wait polls beside the socket. A signal that lands between our look at
 * the flag and the call to poll has left its byte, so poll returns at once
 * (the self-pipe trick). pselect, the other race-free way, cannot watch a
 * descriptor at or past FD_SETSIZE (1024), which a server started with
 * many files open gets; poll has no such limit. */
static volatile sig_atomic_t stop_requested;

static void on_stop_request(int sig)
{
	int saved_errno = errno;
	stop_requested = sig;
	/* write is async-signal-safe. The write end is non-blocking: when the
	 * pipe is full, a wake-up is already waiting. */
	ssize_t ignored = write(wake_pipe[1], "x", 1);
	(void)ignored;
	errno = saved_errno;
}

/* The pipe must exist before the handler can run. No SA_RESTART, so a
 * blocked call is interrupted, not resumed. */
static void wake_up_poll_on_stop_request(void)
{
	if (pipe(wake_pipe) == -1)
		die("pipe", "for signals", strerror(errno), NULL);
	if (fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", "pipe for signals", strerror(errno), NULL);
	struct sigaction sa = { .sa_handler = on_stop_request };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
}

/* Wait until fd is ready for EVENTS, or a stop request arrives.
 * Returns 0 when fd is ready, -1 when we must stop. */
static int wait_for(int fd, short events)
{
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = fd, .events = events },
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

/* unlink is async-signal-safe. */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		(void)unlink(socket_path); /* best effort: nobody is left to tell */
	}
}

/* Every signal whose default action ends the process and that can be
 * caught: each runs clean_up, then kills us as it would have. */
static const int stop_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
	SIGUSR1, SIGSEGV, SIGUSR2, SIGALRM, SIGTERM, SIGXCPU, SIGVTALRM,
	SIGPROF, SIGSYS, SIGPOLL,
#ifdef SIGSTKFLT
	SIGSTKFLT, /* Linux */
#endif
#ifdef SIGPWR
	SIGPWR, /* Linux */
#endif
};

/* A stop signal: clean up, then die of the same signal, so that the shell
 * sees how we ended. signal and raise are async-signal-safe. */
static void on_stop_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch every stop signal, the real-time ones included (their default
 * action ends the process too); ignore SIGPIPE and SIGXFSZ. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigfillset(&sa.sa_mask); /* no second signal interrupts clean_up */
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "stop signals", strerror(errno), NULL);
	/* EINVAL: a signal that a tool keeps for itself (valgrind: SIGRTMAX). */
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			die("sigaction", "real-time signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
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

/* die's line for an error the server survives, about the socket path. */
static void report(const char *call, const char *reason, const char *fix)
{
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s (%s)", PROGRAM, call,
		       socket_path, reason, fix);
	for (const char *c = line; *c != '\0'; c++) {
		if ((unsigned char)*c < ' ' || *c == '\177')
			fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr);
	}
	(void)putc('\n', stderr);
}

/* One line on stderr, "program: call object: reason (fix)", then exit 1.
 * The object may come from the command line: a control byte in the line
 * is shown as \ooo, so that no name can forge a second line. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
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
	exit(1);
}
