/*
 * 13-memfd-recv: take a memfd from 13-memfd-send over a Unix socket
 * (SCM_RIGHTS), check its seals and size, map it read-only and write it to
 * standard output: memory shared safely with a less trusted peer.
 *
 *   ./13-memfd-recv demo.sock > copy &     # PATH: /tmp/ipc-13-<uid>.sock
 *   ./13-memfd-send demo.sock < file
 *
 * Watch for: no SIGBUS handler, on purpose: sealed, it cannot shrink under
 * us. Linux only (memfd_create and seals: 3.17); tested with glibc and musl.
 */
#define _POSIX_C_SOURCE 200809L
/* F_GET_SEALS and the F_SEAL_ flags are Linux's: declared for _GNU_SOURCE. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROGRAM "13-memfd-recv"

static int listen_at(void);
static int receive_memfd(int sock, uint64_t *size);
static int write_all(int fd, const void *buf, size_t len);
static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *socket_path;
static volatile sig_atomic_t must_remove, answered, peer = -1;
static struct stat bound; /* the socket file bind made, as lstat saw it */

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	static char default_path[64]; /* static: clean_up may use it after main */
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-13-%ld.sock", (long)getuid());
	if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
		fprintf(stderr, "usage: %s [PATH]   (default PATH: %s)\n", PROGRAM, default_path);
		return 2;
	}
	socket_path = argc == 2 ? argv[1] : default_path;
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: listen, accept one sender, and remove the name: nobody else is to come. */
	int listener = listen_at();
	while ((peer = accept(listener, NULL, NULL)) == -1)
		if (errno != EINTR && errno != ECONNABORTED)
			die("accept", socket_path, strerror(errno), NULL);
	struct stat now; /* the name goes only while it is still our socket (README) */
	if (lstat(socket_path, &now) == 0 && now.st_dev == bound.st_dev &&
	    now.st_ino == bound.st_ino && unlink(socket_path) == -1)
		die("unlink", socket_path, strerror(errno), NULL);
	must_remove = 0;
	if (close(listener) == -1)
		die("close", socket_path, strerror(errno), NULL);

	/* Step 5: the announced size and exactly one descriptor. */
	uint64_t size;
	int memfd = receive_memfd(peer, &size);

	/* Step 6: trust nothing before the seals and the size are checked. */
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals == -1 && errno != EINVAL) /* EINVAL: a file system without seals */
		die("fcntl", "the passed descriptor", strerror(errno), NULL);
	if (seals == -1 || !(seals & F_SEAL_SHRINK) || !(seals & F_SEAL_WRITE))
		die("fcntl", "the passed descriptor", seals == -1 ? "F_GET_SEALS: not a memfd" :
		    "F_GET_SEALS: not sealed against shrinking and writing", "refusing to map it");
	struct stat st;
	if (fstat(memfd, &st) == -1)
		die("fstat", "the passed descriptor", strerror(errno), NULL);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size || size > SIZE_MAX)
		die("fstat", "the passed descriptor", "not of the announced size",
		    "refusing to map it");

	/* Step 7: map it read-only and write it out; length 0 cannot be mapped (EINVAL). */
	if (size > 0) {
		void *data = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, memfd, 0);
		if (data == MAP_FAILED)
			die("mmap", "the passed descriptor", strerror(errno), NULL);
		if (write_all(STDOUT_FILENO, data, (size_t)size) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
		if (munmap(data, (size_t)size) == -1)
			die("munmap", "the passed descriptor", strerror(errno), NULL);
	}
	if (close(memfd) == -1)
		die("close", "the passed descriptor", strerror(errno), NULL);

	/* Step 8: answer 'Y', delivered (clean_up answers 'N' on every other
	 * way out, after our error line). The sender may be gone. */
	answered = 1;
	if (send(peer, "Y", 1, MSG_NOSIGNAL) == -1 && errno != EPIPE && errno != ECONNRESET)
		die("send", socket_path, strerror(errno), NULL);
	if (close(peer) == -1)
		die("close", socket_path, strerror(errno), NULL);
	return 0;
}

/* What the peer sent is untrusted (10's rules): the 8-byte size, whole,
 * and one SCM_RIGHTS message of exactly one descriptor. */
static int receive_memfd(int sock, uint64_t *size)
{
	struct iovec iov = { .iov_base = size, .iov_len = sizeof *size };
	union { /* room for one descriptor, aligned as a cmsghdr */
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_WAITALL)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("recvmsg", socket_path, strerror(errno), NULL);
	if (n == 0)
		die("recvmsg", socket_path, "peer closed without sending a descriptor", NULL);
	if (msg.msg_flags & MSG_CTRUNC)
		die("recvmsg", socket_path, "control data truncated",
		    "sent more than one descriptor?");
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		die("recvmsg", socket_path, "not exactly one descriptor in the message", NULL);
	if ((size_t)n != sizeof *size)
		die("recvmsg", socket_path, "the size was cut short", NULL);
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof fd); /* CMSG_DATA may be unaligned */
	return fd;
}

/* Below: the socket path, guarded as in 09 (a stale socket is replaced; a
 * live one, another user's or a non-socket is refused); what removes it and
 * answers 'N' when we fail or are stopped; the error line; descriptors 0-2. */
static int listen_at(void)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof address.sun_path)
		die("bind", socket_path, strerror(ENAMETOOLONG), "a socket path must be shorter");
	memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
	struct stat existing;
	if (lstat(socket_path, &existing) == 0) { /* else nothing there, or bind fails as well */
		if (S_ISDIR(existing.st_mode))
			die("bind", socket_path, strerror(EISDIR), "pass a socket path");
		if (!S_ISSOCK(existing.st_mode))
			die("bind", socket_path, "File exists and is not a socket",
			    "remove it or pass another PATH");
		if (existing.st_uid != geteuid())
			die("bind", socket_path, "Socket exists and belongs to another user",
			    "pass another PATH");
		/* Non-blocking: a full backlog must not keep us waiting. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (probe == -1)
			die("socket", "AF_UNIX", strerror(errno), NULL);
		if (connect(probe, (struct sockaddr *)&address, sizeof address) == 0 ||
		    errno == EAGAIN)
			die("bind", socket_path, "another receiver is listening on it",
			    "stop it or pass another PATH");
		if (errno != ECONNREFUSED)
			die("connect", socket_path, strerror(errno), NULL);
		if (close(probe) == -1)
			die("close", socket_path, strerror(errno), NULL);
		if (unlink(socket_path) == -1) /* stale: nobody listens */
			die("unlink", socket_path, strerror(errno), NULL);
	}
	int sock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sock == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	umask(0177); /* a 0600 socket: only we may connect */
	if (bind(sock, (struct sockaddr *)&address, sizeof address) == -1)
		die("bind", socket_path, strerror(errno), NULL);
	if (lstat(socket_path, &bound) == -1)
		die("lstat", socket_path, strerror(errno), NULL);
	must_remove = 1;
	if (listen(sock, 1) == -1)
		die("listen", socket_path, strerror(errno), NULL);
	return sock;
}

/* At exit and on every stop signal: the socket file, while it is the one we
 * bound (README, 09), and 'N' to an unanswered sender. lstat, unlink and
 * send are async-signal-safe. */
static void clean_up(void)
{
	struct stat now;
	if (must_remove && lstat(socket_path, &now) == 0 && now.st_dev == bound.st_dev &&
	    now.st_ino == bound.st_ino)
		(void)unlink(socket_path); /* best effort: nobody is left to tell */
	must_remove = 0;
	if (peer != -1 && !answered) {
		answered = 1;
		(void)send(peer, "N", 1, MSG_NOSIGNAL); /* the sender may be gone */
	}
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
