/*
 * 16-seqpacket-server: reverse each line a client sends, over a Unix socket
 * that keeps message boundaries (SOCK_SEQPACKET) and tells who calls (SO_PEERCRED).
 *
 *   ./16-seqpacket-server demo.sock &           # -a demo: an abstract name, no file
 *   ./16-seqpacket-client demo.sock < file      # the same as rev < file
 *
 * Watch for: a message over 4096 bytes is refused, never cut short. Linux only
 * (SO_PEERCRED, abstract names, MSG_TRUNC); tested with glibc and musl.
 */
#define _GNU_SOURCE /* struct ucred for SO_PEERCRED: glibc declares it only here */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "16-seqpacket-server"
#define PASS_ANOTHER "pass another NAME" /* the advice when NAME is taken */
enum { LIMIT = 4096, BACKLOG = 8 };

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static void remove_stale_socket(const struct sockaddr_un *address, int type);
static void survive_accept_error(int error);
static const char *serve(int client);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static char socket_name[128]; /* in our lines (@name when abstract); clean_up removes it */
static volatile sig_atomic_t must_remove;
static struct stat bound; /* the socket file bind made, as lstat saw it */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	int abstract = argc > 1 && strcmp(argv[1], "-a") == 0;
	char default_name[64];
	(void)snprintf(default_name, sizeof default_name,
		       abstract ? "ipc-16-%ld" : "/tmp/ipc-16-%ld.sock", (long)getuid());
	const char *name = argc > 1 + abstract ? argv[1 + abstract] : default_name;
	if (argc > 2 + abstract || name[0] == '-' || name[0] == '\0') {
		fprintf(stderr, "usage: %s [-a] [NAME]   (default NAME: /tmp/ipc-16-%ld.sock, "
			"with -a: ipc-16-%ld)\n", PROGRAM, (long)getuid(), (long)getuid());
		return 2;
	}
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: bind and listen at a path, or at an abstract name: a NUL byte,
	 * then the name, no file. The length is exactly that (README). */
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	size_t size = strlen(name);
	if (size + 1 > sizeof address.sun_path)
		die("bind", name, strerror(ENAMETOOLONG), abstract ?
		    "an abstract name has at most 107 bytes" : "a socket path must be shorter");
	memcpy(address.sun_path + abstract, name, size);
	socklen_t length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + size);
	(void)snprintf(socket_name, sizeof socket_name, "%s%s", abstract ? "@" : "", name);
	int listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (listener == -1)
		die("socket", "AF_UNIX SOCK_SEQPACKET", strerror(errno), NULL);
	if (!abstract)
		remove_stale_socket(&address, SOCK_SEQPACKET);
	umask(0177); /* a path's file 0600: connecting takes write permission on it (Linux) */
	if (bind(listener, (struct sockaddr *)&address, length) == -1)
		die("bind", socket_name, strerror(errno),
		    errno == EADDRINUSE ? "another server is listening on it" : NULL);
	if (!abstract && lstat(name, &bound) == -1)
		die("lstat", socket_name, strerror(errno), NULL);
	must_remove = !abstract;
	if (listen(listener, BACKLOG) == -1)
		die("listen", socket_name, strerror(errno), NULL);

	/* Steps 2 to 4, one client after another. */
	for (;;) {
		int client;
		while ((client = accept(listener, NULL, NULL)) == -1)
			if (errno != EINTR)
				survive_accept_error(errno);
		const char *failed = serve(client);
		if (failed != NULL)
			say(failed, socket_name, strerror(errno),
			    "client gone; serving the next one");
		if (close(client) == -1)
			die("close", socket_name, strerror(errno), NULL);
	}
}

/* Step 2: who calls? The kernel took its credentials at connect. Steps 3
 * and 4: '=' and each line reversed until the client closes, or '!' and why
 * we close. Returns NULL, or the call that failed, with errno set. */
static const char *serve(int client)
{
	static char message[LIMIT], reply[1 + LIMIT];
	struct ucred peer;
	socklen_t size = sizeof peer;
	if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &size) == -1)
		die("getsockopt", "SO_PEERCRED", strerror(errno), NULL);
	fprintf(stderr, "%s: client pid %ld uid %ld connected\n", PROGRAM, (long)peer.pid,
		(long)peer.uid);
	int refusal = 0; /* the length of a refusal in reply, once there is one */
	if (peer.uid != geteuid())
		refusal = snprintf(reply, sizeof reply, "!refused: uid %ld is not %ld",
				   (long)peer.uid, (long)geteuid());
	while (refusal == 0) {
		/* MSG_TRUNC (Linux): recv returns the whole length of the message. */
		ssize_t n = recv(client, message, sizeof message, MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) /* 0 is the end: clients never send an empty message */
			return n == 0 ? NULL : "recv";
		if (n > LIMIT) {
			refusal = snprintf(reply, sizeof reply, "!message of %ld bytes is over the "
					   "%d-byte limit", (long)n, LIMIT);
			break;
		}

		/* '=' and the line reversed, its newline (if any) kept at the end. */
		size_t length = (size_t)n, line = length - (message[length - 1] == '\n');
		reply[0] = '=';
		for (size_t i = 0; i < line; i++)
			reply[1 + i] = message[line - 1 - i];
		if (line < length)
			reply[length] = '\n';
		while (send(client, reply, 1 + length, 0) == -1)
			if (errno != EINTR)
				return "send";
	}
	fprintf(stderr, "%s: client pid %ld: %s\n", PROGRAM, (long)peer.pid, reply + 1);
	if (send(client, reply, (size_t)refusal, 0) == -1 && errno != EPIPE && errno != ECONNRESET)
		return "send"; /* EPIPE, ECONNRESET: the client has left, no error */
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
