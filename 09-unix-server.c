/*
 * 09-unix-server: an echo server on a Unix domain stream socket, for one
 * client after another. PATH defaults to /tmp/ipc-09-<uid>.sock.
 *
 *   ./09-unix-server demo.sock &
 *   ./09-unix-client demo.sock < file > copy
 *
 * Watch for: the file appears at bind(), clients get in at listen(). Tested
 * on Linux (glibc, musl); on the BSDs and macOS a busy server looks dead.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "09-unix-server"
#define PASS_ANOTHER "pass another PATH" /* the advice when PATH is taken */
enum { CHUNK = 64 * 1024, BACKLOG = 8 };

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static void remove_stale_socket(const struct sockaddr_un *address, int type);
static void survive_accept_error(int error);
static const char *serve(int client);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *socket_name; /* in our lines; clean_up removes it once ours */
static volatile sig_atomic_t must_remove;
static struct stat bound; /* the socket file bind made, as lstat saw it */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	static char default_path[64]; /* static: clean_up may need it after main */
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-09-%ld.sock", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	const char *path = socket_name = argc == 2 ? argv[1] : default_path;
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: a socket, and its address: the path, never cut to fit sun_path. */
	int listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listener == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		die("bind", path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, path, strlen(path) + 1);

	/* Step 2: bind makes the socket file, so a stale one goes first. */
	remove_stale_socket(&address, SOCK_STREAM);
	umask(0177); /* the file 0600: connecting takes write permission on it (Linux) */
	if (bind(listener, (struct sockaddr *)&address, sizeof address) == -1)
		die("bind", path, strerror(errno),
		    errno == EADDRINUSE ? "another server is listening on it" : NULL);
	if (lstat(path, &bound) == -1)
		die("lstat", path, strerror(errno), NULL);
	must_remove = 1;

	/* Step 3: from now on, clients wait in the backlog. */
	if (listen(listener, BACKLOG) == -1)
		die("listen", path, strerror(errno), NULL);

	/* Steps 4 and 5, one client after another, until step 6: a signal. */
	for (;;) {
		int client;
		while ((client = accept(listener, NULL, NULL)) == -1)
			if (errno != EINTR)
				survive_accept_error(errno);
		const char *failed = serve(client);
		if (failed != NULL)
			say(failed, path, strerror(errno), "client gone; serving the next one");
		if (close(client) == -1)
			die("close", path, strerror(errno), NULL);
	}
}

/* recv and send until the client half-closes (recv returns 0): NULL then,
 * or the call that failed (the client vanished), with errno set. */
static const char *serve(int client)
{
	static char buf[CHUNK];
	ssize_t got;
	while ((got = recv(client, buf, sizeof buf, 0)) != 0) {
		if (got == -1 && errno != EINTR)
			return "recv";
		for (ssize_t sent = 0, n; sent < got; sent += n) /* got is -1 after EINTR */
			while ((n = send(client, buf + sent, (size_t)(got - sent), 0)) == -1)
				if (errno != EINTR)
					return "send";
	}
	return NULL;
}

/* Below: a stale socket told from a live one, accept's passing errors, cleanup, error lines. */

/* Only our own socket that nobody answers on (its server was killed) goes:
 * lstat never follows a symlink, and the probe never blocks (README, 09). */
static void remove_stale_socket(const struct sockaddr_un *address, int type)
{
	const char *path = address->sun_path;
	struct stat existing;
	if (lstat(path, &existing) == -1)
		return; /* ENOENT: nothing there; a path we cannot look at, bind cannot use */
	if (S_ISDIR(existing.st_mode))
		die("bind", path, strerror(EISDIR), "pass the path of a socket");
	if (!S_ISSOCK(existing.st_mode))
		die("bind", path, "File exists and is not a socket", "remove it or " PASS_ANOTHER);
	if (existing.st_uid != geteuid())
		die("bind", path, "Socket exists and belongs to another user", PASS_ANOTHER);
	int probe = socket(AF_UNIX, type, 0);
	if (probe == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	if (fcntl(probe, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);
	if (connect(probe, (const struct sockaddr *)address, sizeof *address) == 0 ||
	    errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS)
		die("bind", path, "another server is listening on it", "stop it or " PASS_ANOTHER);
	if (errno != ECONNREFUSED)
		die("connect", path, strerror(errno), NULL);
	if (close(probe) == -1)
		die("close", path, strerror(errno), NULL);
	if (unlink(path) == -1) /* stale: nobody listens */
		die("unlink", path, strerror(errno), NULL);
}

/* Out of descriptors or memory for now, or a client that gave up: say so,
 * and pause a second rather than spin. Any other error ends the server. */
static void survive_accept_error(int error)
{
	if (error != EMFILE && error != ENFILE && error != ENOBUFS && error != ENOMEM &&
	    error != EPROTO && error != ECONNABORTED)
		die("accept", socket_name, strerror(error), NULL);
	say("accept", socket_name, strerror(error), "trying again in a second");
	(void)sleep(1); /* cut short: we retry sooner */
}

/* The socket file, while it is the one we bound (a second server may have
 * replaced it: README, 09). lstat and unlink are async-signal-safe. */
static void clean_up(void)
{
	struct stat now;
	if (must_remove && lstat(socket_name, &now) == 0 && now.st_dev == bound.st_dev &&
	    now.st_ino == bound.st_ino)
		(void)unlink(socket_name); /* best effort: nobody is left to tell */
	must_remove = 0;
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
