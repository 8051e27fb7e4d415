/*
 * 16-seqpacket-client: send each line of standard input to the
 * SOCK_SEQPACKET server as one message and print each reply, the line
 * reversed: the output is what rev would print.
 *
 *   ./16-seqpacket-server demo.sock &
 *   ./16-seqpacket-client demo.sock < file
 *
 * NAME defaults to /tmp/ipc-16-<uid>.sock; with -a it is an abstract name
 * (default ipc-16-<uid>). Watch for: a line is one message, so nobody has
 * to search the byte stream for where it ends; a last line without a
 * newline is a message too, and an empty message is never sent (it would
 * look like the end of the connection). We check the server as it checks
 * us: anyone may bind an abstract name first. Linux only, as the server.
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
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "16-seqpacket-client"
/* The server's limit on a message (ours may be longer: it refuses those),
 * and ours, far below what a Unix socket's send buffer takes in one. */
enum { LIMIT = 4096, LINE_LIMIT = 64 * 1024 };

static void hold_standard_descriptors(void);
static socklen_t address_of(const char *name, int abstract, struct sockaddr_un *address);
static void exchange(int sock, const char *line, size_t length, const char *shown);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	int abstract = argc > 1 && strcmp(argv[1], "-a") == 0;
	char default_name[64], shown[128]; /* long enough: see address_of */
	(void)snprintf(default_name, sizeof default_name,
		       abstract ? "ipc-16-%ld" : "/tmp/ipc-16-%ld.sock", (long)getuid());
	const char *name = argc > 1 + abstract ? argv[1 + abstract] : default_name;
	if (argc > 2 + abstract || name[0] == '-' || name[0] == '\0') {
		fprintf(stderr, "usage: %s [-a] [NAME]   (default NAME: /tmp/ipc-16-%ld.sock, "
			"with -a: ipc-16-%ld)\n", PROGRAM, (long)getuid(), (long)getuid());
		return 2;
	}
	/* A server that goes away is an error we report, not a silent death
	 * by SIGPIPE; a full disk under standard output is EFBIG, reported. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);

	/* Step 1: connect. No server: ENOENT (no file) or ECONNREFUSED. */
	struct sockaddr_un address;
	socklen_t length = address_of(name, abstract, &address);
	(void)snprintf(shown, sizeof shown, "%s%s", abstract ? "@" : "", name);
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock == -1)
		die("socket", "AF_UNIX SOCK_SEQPACKET", strerror(errno), NULL);
	if (connect(sock, (struct sockaddr *)&address, length) == -1)
		die("connect", shown, strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    "is 16-seqpacket-server running?" : NULL);

	/* Step 2: who listens? The kernel took the credentials of the process
	 * that called listen; a server of another user is not ours to use. */
	struct ucred peer;
	socklen_t size = sizeof peer;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &size) == -1)
		die("getsockopt", "SO_PEERCRED", strerror(errno), NULL);
	char reason[64];
	(void)snprintf(reason, sizeof reason, "the server is uid %ld, not %ld", (long)peer.uid,
		       (long)geteuid());
	if (peer.uid != geteuid())
		die("connect", shown, reason, "another user holds the name");

	/* Steps 3 and 4: each line one message, each reply one message. */
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);
	char *line = NULL;
	size_t capacity = 0;
	ssize_t n;
	while ((n = getline(&line, &capacity, stdin)) > 0) {
		if (n > LINE_LIMIT)
			die("read", "standard input", "a line over 64 KiB", "split it");
		exchange(sock, line, (size_t)n, shown);
	}
	if (ferror(stdin))
		die("read", "standard input", strerror(errno), NULL);
	free(line);

	/* Closing is our end of file; the server serves the next client. */
	if (close(sock) == -1)
		die("close", shown, strerror(errno), NULL);
	return 0;
}

/* Send one line, take one reply: '=' and the line reversed (so exactly as
 * long), or '!' and the server's reason for closing on us. The reply is
 * untrusted: anything else is refused. A send that fails because the
 * server closed still leaves its last message for us to read. */
static void exchange(int sock, const char *line, size_t length, const char *shown)
{
	static char reply[2 + LIMIT];
	ssize_t sent;
	while ((sent = send(sock, line, length, 0)) == -1 && errno == EINTR)
		continue;
	if (sent == -1 && errno != EPIPE && errno != ECONNRESET)
		die("send", shown, strerror(errno), errno == EMSGSIZE ? "a shorter line" : NULL);
	ssize_t n;
	while ((n = recv(sock, reply, sizeof reply - 1, MSG_TRUNC)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("recv", shown, strerror(errno), NULL);
	if (n == 0)
		die("recv", shown, "the server closed the connection", NULL);
	if (reply[0] == '!' && n < (ssize_t)sizeof reply) {
		reply[n] = '\0';
		die("server", shown, reply + 1, NULL);
	}
	if (reply[0] != '=' || (size_t)n != 1 + length)
		die("recv", shown, "a reply that is not the line reversed", NULL);
	if (write_all(STDOUT_FILENO, reply + 1, length) == -1) {
		if (errno == EPIPE) { /* end quietly, as a filter does */
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
		}
		die("write", "standard output", strerror(errno), NULL);
	}
}

/* ======================================================================
 * Below: the address, writing everything, and the error line. */

/* A path must fit in sun_path with its NUL (108 bytes on Linux, 104 on
 * the BSDs); an abstract name takes the byte after the leading NUL, and
 * its length is exactly what we pass: sizeof address would make the
 * trailing zeros part of the name, a different socket. */
static socklen_t address_of(const char *name, int abstract, struct sockaddr_un *address)
{
	size_t length = strlen(name);
	memset(address, 0, sizeof *address);
	address->sun_family = AF_UNIX;
	if (length + 1 > sizeof address->sun_path)
		die("connect", name, strerror(ENAMETOOLONG), abstract ?
		    "an abstract name has at most 107 bytes" : "a socket path must be shorter");
	memcpy(address->sun_path + abstract, name, length);
	/* A path and its NUL, or the NUL and the name: one byte more either way. */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
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
