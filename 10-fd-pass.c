/*
 * 10-fd-pass: hand an open file to another process. The parent opens FILE
 * and sends the descriptor through a socket pair as SCM_RIGHTS ancillary
 * data; the child, which never opens FILE by name, copies it to standard
 * output.
 *
 *   ./10-fd-pass FILE > copy
 *
 * FILE is required; nothing is created, so nothing has a default name.
 * Watch for: the parent opens FILE only after fork(), so the child cannot
 * have inherited it; what it reads arrives under a descriptor number of its
 * own, chosen by the kernel when the message is received.
 */
/* CMSG_SPACE and CMSG_LEN joined POSIX only in 2024; glibc and musl define
 * them under this macro, other systems may want their own feature macro. */
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

#define PROGRAM "10-fd-pass"
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

/* The child to stop if the parent ends early; 0 in the child itself and
 * once the child is reaped. Set with the stop signals blocked. */
static volatile sig_atomic_t child_pid;

/* The child has nothing to clean up, so SIGKILL: unlike SIGTERM it also
 * ends a stopped child, so the wait that reaps it always returns. */
static void stop_child(void)
{
	pid_t pid = (pid_t)child_pid;
	if (pid > 0) {
		child_pid = 0;
		(void)kill(pid, SIGKILL); /* it can only be gone already */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
	}
}

/* Ctrl-C, SIGTERM, SIGHUP: stop the child, then die of the same signal so
 * the shell sees how we ended. kill, waitpid, signal and raise are all
 * async-signal-safe. */
static void on_signal(int sig)
{
	stop_child();
	signal(sig, SIG_DFL);
	raise(sig);
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

/* Room for one descriptor's control message, aligned as a cmsghdr. */
union control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* The descriptor rides beside one ordinary byte: a stream socket sends no
 * ancillary data on its own. The kernel takes a reference to the open
 * file, so the sender may close its copy at once. */
static void send_descriptor(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union control control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	ssize_t n;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("sendmsg", "socket", strerror(errno),
		    errno == EPIPE ? "the child went away" : NULL);
}

/* What the peer sent is untrusted: accept exactly one whole SCM_RIGHTS
 * message carrying one descriptor. (Dying here closes anything else that
 * came; a long-lived server would close it by hand.) */
static int receive_descriptor(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union control control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, 0)) == -1 && errno == EINTR)
		continue;
	if (n == -1)
		die("recvmsg", "socket", strerror(errno), NULL);
	if (n == 0)
		die("recvmsg", "socket", "closed before a descriptor came", NULL);
	if (msg.msg_flags & MSG_CTRUNC)
		die("recvmsg", "socket", "control data truncated", "sent more than one descriptor?");
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		die("recvmsg", "socket", "no descriptor in the message", NULL);
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof fd); /* CMSG_DATA may be unaligned */
	return fd;
}

/* The child: wait for a descriptor, copy what it reads to standard output. */
static void copy_what_arrives(int sock)
{
	int fd = receive_descriptor(sock);
	if (close(sock) == -1)
		die("close", "socket", strerror(errno), NULL);
	static char buf[CHUNK];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "passed descriptor", strerror(errno), NULL);
		if (n == 0)
			break;
		if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1) {
			if (errno == EPIPE)
				on_signal(SIGPIPE); /* end quietly, as cat does */
			die("write", "standard output", strerror(errno), NULL);
		}
	}
	if (close(fd) == -1)
		die("close", "passed descriptor", strerror(errno), NULL);
}

int main(int argc, char *argv[])
{
	if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
		fprintf(stderr, "usage: %s FILE\n", PROGRAM);
		return 2;
	}
	const char *path = argv[1];

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
	sigset_t stop_set;
	sigemptyset(&stop_set);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "SIGHUP/SIGINT/SIGTERM", strerror(errno), NULL);
		sigaddset(&stop_set, stop_signals[i]);
	}
	/* A closed standard output must be an EPIPE we handle, not a death
	 * the parent cannot tell from a crash. The child inherits this. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction", "SIGPIPE", strerror(errno), NULL);
	if (atexit(stop_child) != 0)
		die("atexit", "stop_child", "failed", NULL);

	/* Step 1: a connected pair of Unix sockets, one end for each process. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair", "AF_UNIX", strerror(errno), NULL);

	/* Step 2: fork, with the stop signals held back until child_pid is
	 * set, so a Ctrl-C can never leave the child running on its own. */
	sigset_t old_mask;
	if (sigprocmask(SIG_BLOCK, &stop_set, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);
	child_pid = pid;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
	if (pid == 0) {
		/* Each side closes the end it does not use. */
		if (close(sv[0]) == -1)
			die("close", "socket", strerror(errno), NULL);
		copy_what_arrives(sv[1]);
		return 0;
	}
	if (close(sv[1]) == -1)
		die("close", "socket", strerror(errno), NULL);

	/* Step 3: only now open FILE, in the parent alone. A directory opens
	 * but cannot be read: refuse it here, with its name. */
	int fd;
	while ((fd = open(path, O_RDONLY)) == -1 && errno == EINTR)
		continue;
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	struct stat st;
	if (fstat(fd, &st) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (S_ISDIR(st.st_mode))
		die("open", path, strerror(EISDIR), "pass a file");

	/* Step 4: send the descriptor, then close our copies; the open file
	 * lives on in the message, then in the child. */
	send_descriptor(sv[0], fd);
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	if (close(sv[0]) == -1)
		die("close", "socket", strerror(errno), NULL);

	/* Step 5: wait for the child and end the way it ended. */
	int status;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	child_pid = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL); /* standard output was closed: be as quiet */
		raise(SIGPIPE);
	}
	if (WIFSIGNALED(status)) {
		char reason[32];
		(void)snprintf(reason, sizeof reason, "killed by signal %d", WTERMSIG(status));
		die("waitpid", "child", reason, NULL);
	}
	return WEXITSTATUS(status) == 0 ? 0 : 1; /* the child said why */
}
