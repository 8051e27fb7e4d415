/*
 * 16-seqpacket-server: a Unix socket that keeps message boundaries
 * (SOCK_SEQPACKET) and knows who is calling (SO_PEERCRED). Each message a
 * client sends is one line; the reply is that line reversed.
 *
 *   ./16-seqpacket-server demo.sock &
 *   ./16-seqpacket-client demo.sock < file      # the same as rev < file
 *
 * NAME defaults to /tmp/ipc-16-<uid>.sock, handled as in 09; with -a it is
 * an abstract name (ipc-16-<uid>, shown as @ipc-16-<uid>): no file, so no
 * permissions, and only the caller's uid keeps other users out. Watch for:
 * a message over 4096 bytes is refused, never cut short in silence. Linux
 * only (SO_PEERCRED, abstract names, MSG_TRUNC's length); tested with glibc
 * and musl.
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
#include <time.h>
#include <unistd.h>

#define PROGRAM "16-seqpacket-server"
enum { LIMIT = 4096, BACKLOG = 8 };

static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static socklen_t address_of(const char *name, int abstract, struct sockaddr_un *address);
static void remove_stale_socket(const struct sockaddr_un *address, int type);
static int accept_error_is_transient(int error);
static void serve(int client, pid_t pid);
static void refuse(int client, pid_t pid, const char *reason);
static void say(const char *call, const char *object, const char *reason, const char *fix);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

static const char *socket_path; /* removed by clean_up once it is ours */
static volatile sig_atomic_t must_remove;
static struct stat bound; /* the socket file bind made, as lstat saw it */
static char shown[128]; /* the name in our lines: @name when abstract */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	int abstract = argc > 1 && strcmp(argv[1], "-a") == 0, first = 1 + abstract;
	static char default_name[64]; /* static: clean_up may need it after main */
	(void)snprintf(default_name, sizeof default_name,
		       abstract ? "ipc-16-%ld" : "/tmp/ipc-16-%ld.sock", (long)getuid());
	if (argc > first + 1 ||
	    (argc == first + 1 && (argv[first][0] == '-' || argv[first][0] == '\0'))) {
		fprintf(stderr, "usage: %s [-a] [NAME]   (default NAME: /tmp/ipc-16-%ld.sock, "
			"with -a: ipc-16-%ld)\n", PROGRAM, (long)getuid(), (long)getuid());
		return 2;
	}
	const char *name = socket_path = argc == first + 1 ? argv[first] : default_name;
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: bind and listen, at a path (a stale socket goes first, as
	 * in 09) or at an abstract name, which starts with a NUL byte and has
	 * no file: nothing to remove, and no permission protects it. */
	struct sockaddr_un address;
	socklen_t length = address_of(name, abstract, &address);
	(void)snprintf(shown, sizeof shown, "%s%s", abstract ? "@" : "", name);
	int listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (listener == -1)
		die("socket", "AF_UNIX SOCK_SEQPACKET", strerror(errno), NULL);
	if (!abstract)
		remove_stale_socket(&address, SOCK_SEQPACKET);
	mode_t old_umask = umask(0177);
	if (bind(listener, (struct sockaddr *)&address, length) == -1)
		die("bind", shown, strerror(errno),
		    errno == EADDRINUSE ? "another server is listening on it" : NULL);
	umask(old_umask);
	if (!abstract && lstat(name, &bound) == -1)
		die("lstat", shown, strerror(errno), NULL);
	must_remove = !abstract;
	if (listen(listener, BACKLOG) == -1)
		die("listen", shown, strerror(errno), NULL);

	/* Step 2: one client after another; who is it? The kernel took its
	 * credentials at connect. Steps 3 and 4: serve its messages. */
	for (;;) {
		int client = accept(listener, NULL, NULL);
		if (client == -1 && accept_error_is_transient(errno))
			continue;
		if (client == -1)
			die("accept", shown, strerror(errno), NULL);
		struct ucred peer;
		socklen_t size = sizeof peer;
		if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &size) == -1)
			die("getsockopt", "SO_PEERCRED", strerror(errno), NULL);
		fprintf(stderr, "%s: client pid %ld uid %ld connected\n", PROGRAM, (long)peer.pid,
			(long)peer.uid);
		char reason[64];
		(void)snprintf(reason, sizeof reason, "refused: uid %ld is not %ld", (long)peer.uid,
			       (long)geteuid());
		if (peer.uid != geteuid())
			refuse(client, peer.pid, reason);
		else
			serve(client, peer.pid);
		if (close(client) == -1)
			die("close", shown, strerror(errno), NULL);
	}
}

/* Reply to each message with its line reversed, until the client closes.
 * MSG_TRUNC (Linux) makes recv return a message's whole length even when
 * our buffer took only its start (the rest is lost): so we know to refuse
 * it. recv's 0 is the end, or an empty message, which clients never send. */
static void serve(int client, pid_t pid)
{
	static char message[LIMIT], reply[1 + LIMIT];
	for (;;) {
		ssize_t n = recv(client, message, sizeof message, MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fprintf(stderr, "%s: recv from pid %ld: %s (serving the next client)\n",
				PROGRAM, (long)pid, strerror(errno));
		if (n <= 0)
			return;
		if (n > LIMIT) {
			char reason[80];
			(void)snprintf(reason, sizeof reason,
				       "message of %ld bytes is over the %d-byte limit", (long)n,
				       LIMIT);
			refuse(client, pid, reason);
			return;
		}

		/* '=' and the line reversed, its newline kept at the end. */
		size_t length = (size_t)n, line = length;
		if (message[length - 1] == '\n')
			line--;
		reply[0] = '=';
		for (size_t i = 0; i < line; i++)
			reply[1 + i] = message[line - 1 - i];
		if (line < length)
			reply[length] = '\n';
		ssize_t sent;
		while ((sent = send(client, reply, 1 + length, 0)) == -1 && errno == EINTR)
			continue;
		if (sent == -1) {
			fprintf(stderr, "%s: send to pid %ld: %s (serving the next client)\n",
				PROGRAM, (long)pid, strerror(errno));
			return;
		}
	}
}

/* '!' and the reason, which we log too; the caller then closes. */
static void refuse(int client, pid_t pid, const char *reason)
{
	char message[128];
	int length = snprintf(message, sizeof message, "!%s", reason);
	fprintf(stderr, "%s: client pid %ld: %s\n", PROGRAM, (long)pid, reason);
	if (send(client, message, (size_t)length, 0) == -1 && errno != EPIPE && errno != ECONNRESET)
		fprintf(stderr, "%s: send to pid %ld: %s\n", PROGRAM, (long)pid, strerror(errno));
}

/* ======================================================================
 * Below: the address, a stale socket told from a live server, accept's
 * passing errors, what removes the socket file when we are stopped, and
 * the error lines. */

/* A path and its NUL must fit in sun_path (108 bytes on Linux, 104 on the
 * BSDs). An abstract name follows a leading NUL, and the length we pass is
 * exactly the NUL and the name: sizeof address would make the trailing
 * zeros part of the name, another socket. A path's NUL is the same 1. */
static socklen_t address_of(const char *name, int abstract, struct sockaddr_un *address)
{
	size_t length = strlen(name);
	memset(address, 0, sizeof *address);
	address->sun_family = AF_UNIX;
	if (length + 1 > sizeof address->sun_path)
		die("bind", name, strerror(ENAMETOOLONG), abstract ?
		    "an abstract name has at most 107 bytes" : "a socket path must be shorter");
	memcpy(address->sun_path + abstract, name, length);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
}

/* Only our own socket that nobody answers on (its server was killed) is
 * removed. lstat: a symlink is refused, never followed. The probe is of the
 * server's type (another would be refused) and does not block: a live
 * server with a full backlog answers EAGAIN at once. */
static void remove_stale_socket(const struct sockaddr_un *address, int type)
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
		die("bind", path, "File exists and is not a socket",
		    "remove it or pass another NAME");
	if (existing.st_uid != geteuid())
		die("bind", path, "Socket exists and belongs to another user", "pass another NAME");
	int probe = socket(AF_UNIX, type, 0);
	if (probe == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	if (fcntl(probe, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl", path, strerror(errno), NULL);
	if (connect(probe, (const struct sockaddr *)address, sizeof *address) == 0 ||
	    errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS)
		die("bind", path, "another server is listening on it",
		    "stop it or pass another NAME");
	if (errno != ECONNREFUSED)
		die("connect", path, strerror(errno), NULL);
	if (close(probe) == -1)
		die("close", path, strerror(errno), NULL);
	if (unlink(path) == -1) /* stale: nobody listens */
		die("unlink", path, strerror(errno), NULL);
}

/* Out of descriptors or memory for now, or a client that gave up: say so,
 * and pause a second rather than spin (the waiting client keeps accept
 * failing). Returns 0 for an error that ends the server. */
static int accept_error_is_transient(int error)
{
	if (error != EINTR && error != EMFILE && error != ENFILE && error != ENOBUFS &&
	    error != ENOMEM && error != EPROTO && error != ECONNABORTED)
		return 0;
	if (error != EINTR) {
		say("accept", shown, strerror(error), "trying again in a second");
		const struct timespec pause = { .tv_sec = 1 };
		(void)nanosleep(&pause, NULL); /* cut short: we retry sooner */
	}
	return 1;
}

/* The socket file, if we made one and it is still the one we bound: two
 * servers that found the same stale socket can both bind, the second over
 * the first's new file, which is then the second's to remove. lstat and
 * unlink are async-signal-safe. */
static void clean_up(void)
{
	struct stat now;
	if (must_remove && lstat(socket_path, &now) == 0 && now.st_dev == bound.st_dev &&
	    now.st_ino == bound.st_ino)
		(void)unlink(socket_path); /* best effort: nobody is left to tell */
	must_remove = 0;
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

/* One line on stderr, "program: call object: reason (fix)". The object may
 * come from the command line: a control byte in the line is shown as \ooo,
 * so that no name can forge a second line. */
static void say(const char *call, const char *object, const char *reason, const char *fix)
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
}

/* say's line, then exit 1. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	say(call, object, reason, fix);
	exit(1);
}
