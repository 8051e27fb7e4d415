/*
 * 10-fd-pass: hand an open file to another process. The child opens FILE and
 * sends the descriptor through a socket pair as SCM_RIGHTS data; the parent,
 * which never opens FILE, copies what it reads to standard output.
 *
 *   ./10-fd-pass FILE > copy
 *
 * Watch for: the file arrives under a descriptor number of the parent's own.
 * Tested: Linux, glibc and musl; where CMSG_SPACE is hidden, the build says so.
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
#include <sys/wait.h>
#include <unistd.h>

#if !defined(CMSG_SPACE) || !defined(CMSG_LEN)
#error "CMSG_SPACE and CMSG_LEN are hidden under _POSIX_C_SOURCE here; remove that #define"
#endif

#define PROGRAM "10-fd-pass"
enum { CHUNK = 64 * 1024 };

/* Room for one descriptor's control message, aligned as a cmsghdr. */
union control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

static void pass_file(const char *path, int sock);
static void copy_what_arrives(int sock);
static void hold_standard_descriptors(void);
static int reap(pid_t child);
static int child_result(int status);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
		fprintf(stderr, "usage: %s FILE\n", PROGRAM);
		return 2;
	}
	hold_standard_descriptors();
	/* EFBIG past ulimit -f; SIGPIPE at its default even if inherited ignored (| head);
	 * SIGCHLD at its default: inherited ignored, the kernel would reap the child for us. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
	    signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		die("signal", "SIGXFSZ/SIGPIPE/SIGCHLD", strerror(errno), NULL);

	/* Step 1: a connected pair of Unix sockets, one end for each process. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair", "AF_UNIX", strerror(errno), NULL);

	/* Step 2: fork; each side closes the end it does not use. */
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);
	if (close(sv[pid == 0 ? 1 : 0]) == -1)
		die("close", "socket", strerror(errno), NULL);

	/* Steps 3 and 4, in the child: only now open FILE, and send it. */
	if (pid == 0) {
		pass_file(argv[1], sv[0]);
		return 0;
	}

	/* Steps 4 and 5, in the parent: reap the child (a failed one said why), copy what came. */
	if (child_result(reap(pid)) != 0)
		return 1;
	copy_what_arrives(sv[1]);
	return 0;
}

/* Open PATH, a regular file, and send it. O_NONBLOCK: a FIFO opens at once
 * instead of waiting for a writer, and fstat refuses it. */
static void pass_file(const char *path, int sock)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	struct stat st;
	if (fstat(fd, &st) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (!S_ISREG(st.st_mode)) /* a directory opens too, but cannot be read */
		die("open", path, S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file",
		    "pass a file");
	struct stat out; /* the parent's output, ours too: FILE there would copy into itself */
	if (fstat(STDOUT_FILENO, &out) == -1)
		die("fstat", "standard output", strerror(errno), NULL);
	if (S_ISREG(out.st_mode) && out.st_dev == st.st_dev && out.st_ino == st.st_ino)
		die("open", path, "input file is output file", "write the copy to another file");

	/* The descriptor rides beside one byte: a stream socket sends no ancillary data alone. */
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union control control = { .buf = { 0 } };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	*cmsg = (struct cmsghdr){ .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS,
				  .cmsg_len = CMSG_LEN(sizeof(int)) };
	memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) == -1)
		die("sendmsg", "socket", strerror(errno),
		    errno == EPIPE ? "the parent went away" : NULL);
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	if (close(sock) == -1)
		die("close", "socket", strerror(errno), NULL);
}

/* Untrusted peer: exactly one SCM_RIGHTS message with one descriptor (dying closes the rest). */
static void copy_what_arrives(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union control control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t n = recvmsg(sock, &msg, 0);
	if (n == -1)
		die("recvmsg", "socket", strerror(errno), NULL);
	if (n == 0)
		die("recvmsg", "socket", "closed before a descriptor came", NULL);
	if (msg.msg_flags & MSG_CTRUNC)
		die("recvmsg", "socket", "control data truncated",
		    "sent more than one descriptor?");
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		die("recvmsg", "socket", "not exactly one descriptor in the message", NULL);
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof fd); /* CMSG_DATA may be unaligned */
	if (close(sock) == -1)
		die("close", "socket", strerror(errno), NULL);

	static char buf[CHUNK];
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n == -1)
			die("read", "passed descriptor", strerror(errno), NULL);
		if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1)
			die("write", "standard output", strerror(errno), NULL);
	}
	if (close(fd) == -1)
		die("close", "passed descriptor", strerror(errno), NULL);
}

/* Below: the error line and the waits. The child never blocks, so nothing has to stop it. */

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

/* Wait for the child, retrying after a signal; its status as waitpid
 * gives it. */
static int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	return status;
}

/* 0 if the child succeeded. A child that failed said why itself; one
 * killed by a signal could not, so we say it. */
static int child_result(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? 0 : 1;
	fprintf(stderr, "%s: child killed by signal %d\n", PROGRAM, WTERMSIG(status));
	return 1;
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
