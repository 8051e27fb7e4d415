/*
 * 13-memfd-send: put standard input into an anonymous memfd_create object,
 * seal it against shrinking, growing and writing, and pass the descriptor
 * to 13-memfd-recv over a Unix socket (SCM_RIGHTS).
 *
 *   ./13-memfd-recv demo.sock > copy &
 *   ./13-memfd-send demo.sock < file        # -u: send it unsealed
 *
 * PATH defaults to /tmp/ipc-13-<uid>.sock. Exit 0 only once the receiver
 * says it has written everything out. Watch for: the object has no name
 * (nothing in /dev/shm, nothing to remove); it lives as long as a
 * descriptor or a mapping refers to it. Linux only (memfd_create: 3.17,
 * MFD_NOEXEC_SEAL: 6.3, with a fallback below); tested with glibc and musl.
 */
#define _POSIX_C_SOURCE 200809L
/* memfd_create, F_ADD_SEALS and the F_SEAL_ flags are Linux's: declared
 * for _GNU_SOURCE. */
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

#define PROGRAM "13-memfd-send"
/* Linux 6.3: no exec permission, ever (F_SEAL_EXEC). glibc before 2.38 and
 * musl do not define it yet; the kernel's value. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
enum { CHUNK = 64 * 1024 };

static int fill_memfd(void);
static void send_memfd(int sock, int memfd, uint64_t size);
static int write_all(int fd, const void *buf, size_t len);
static void hold_standard_descriptors(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static const char *socket_path;

int main(int argc, char *argv[])
{
	static char default_path[64];
	(void)snprintf(default_path, sizeof default_path, "/tmp/ipc-13-%ld.sock", (long)getuid());
	int unsealed = argc > 1 && strcmp(argv[1], "-u") == 0;
	if (argc > 2 + unsealed || (argc == 2 + unsealed && (argv[1 + unsealed][0] == '-' ||
							      argv[1 + unsealed][0] == '\0'))) {
		fprintf(stderr, "usage: %s [-u] [PATH]   (default PATH: %s)\n", PROGRAM,
			default_path);
		return 2;
	}
	socket_path = argc == 2 + unsealed ? argv[1 + unsealed] : default_path;
	hold_standard_descriptors();
	/* A receiver that went away must be an EPIPE we report, not a death;
	 * a write past ulimit -f an EFBIG. Nothing to clean up on a signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof address.sun_path)
		die("connect", socket_path, strerror(ENAMETOOLONG),
		    "a socket path must be shorter");
	memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);

	/* Step 2: an anonymous object, filled with write(): no mapping of
	 * ours exists, so F_SEAL_WRITE below cannot fail with EBUSY. */
	int memfd = fill_memfd();
	struct stat st;
	if (fstat(memfd, &st) == -1)
		die("fstat", "memfd", strerror(errno), NULL);

	/* Step 3: seal it. Seals belong to the object, not to a descriptor,
	 * and can never be removed: F_SEAL_SEAL forbids adding more. */
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
	if (!unsealed && fcntl(memfd, F_ADD_SEALS, seals) == -1)
		die("fcntl", "F_ADD_SEALS", strerror(errno), errno != EBUSY ? NULL :
		    "a writable shared mapping exists: "
		    "unmap it, or seal with F_SEAL_FUTURE_WRITE");

	/* Step 4: connect and send the size with the descriptor. */
	int sock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sock == -1)
		die("socket", "AF_UNIX", strerror(errno), NULL);
	if (connect(sock, (struct sockaddr *)&address, sizeof address) == -1)
		die("connect", socket_path, strerror(errno), errno == ENOENT ||
		    errno == ECONNREFUSED ? "start ./13-memfd-recv first" : NULL);
	send_memfd(sock, memfd, (uint64_t)st.st_size);
	if (close(memfd) == -1) /* the object lives on in the receiver */
		die("close", "memfd", strerror(errno), NULL);

	/* Step 8: wait for the verdict: 'Y' once all is written out. */
	char answer;
	ssize_t n;
	while ((n = recv(sock, &answer, 1, 0)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("recv", socket_path, strerror(errno), "the receiver went away");
	if (n == 0)
		die("recv", socket_path, "the receiver ended without a verdict", "see its message");
	if (answer != 'Y')
		die("recv", socket_path, "the receiver refused the descriptor",
		    unsealed ? "it was sent unsealed, with -u" : "see its message");
	if (close(sock) == -1)
		die("close", socket_path, strerror(errno), NULL);
	return 0;
}

/* MFD_ALLOW_SEALING, or the object starts sealed with F_SEAL_SEAL.
 * MFD_NOEXEC_SEAL (Linux 6.3) is refused with EINVAL by older kernels:
 * try again without it. The name is only a label in /proc/PID/fd. */
static int fill_memfd(void)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int memfd = memfd_create("13-memfd", flags | MFD_NOEXEC_SEAL);
	if (memfd == -1 && errno == EINVAL)
		memfd = memfd_create("13-memfd", flags);
	if (memfd == -1)
		die("memfd_create", "13-memfd", strerror(errno), NULL);
	static char buf[CHUNK];
	ssize_t n;
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		if (write_all(memfd, buf, (size_t)n) == -1)
			die("write", "memfd", strerror(errno),
			    errno == ENOSPC ? "no memory left for it" : NULL);
	}
	return memfd;
}

/* Room for one descriptor's control message, aligned as a cmsghdr. */
union control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* The descriptor rides beside the 8-byte size, in one sendmsg (as in 10):
 * the kernel passes the open object itself, not a number. */
static void send_memfd(int sock, int memfd, uint64_t size)
{
	struct iovec iov = { .iov_base = &size, .iov_len = sizeof size };
	union control control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &memfd, sizeof memfd);
	ssize_t n;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("sendmsg", socket_path, strerror(errno), NULL);
	if ((size_t)n != sizeof size) /* 8 bytes into an empty socket: all or nothing */
		die("sendmsg", socket_path, "sent only part of the size", NULL);
}

/* Below: the error line, write_all and the descriptors 0 to 2. */

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
