/*
 * 10-fd-pass: hand an open file to another process. The parent opens FILE
 * (a regular file) only after fork() and sends the descriptor through a
 * socket pair as SCM_RIGHTS data; the child, which never opens FILE, copies
 * what it reads to standard output.
 *
 *   ./10-fd-pass FILE > copy
 *
 * Watch for: the file arrives under a descriptor number of the child's own.
 * Tested: Linux, glibc and musl. CMSG_SPACE and CMSG_LEN are POSIX only since
 * 2024: where they are hidden (FreeBSD, macOS), the build stops and says so.
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

static void send_descriptor(int sock, int fd);
static void copy_what_arrives(int sock);
static pid_t fork_child(void);
static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static int reap(pid_t child);
static int child_result(int status);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix);

/* The child that clean_up stops; 0 in the child and once it is reaped. */
static volatile sig_atomic_t child_pid;

int main(int argc, char *argv[])
{
	if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
		fprintf(stderr, "usage: %s FILE\n", PROGRAM);
		return 2;
	}
	const char *path = argv[1];
	hold_standard_descriptors();
	catch_stop_signals(); /* the child inherits them: SIGPIPE ignored too */
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* Step 1: a connected pair of Unix sockets, one end for each process. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair", "AF_UNIX", strerror(errno), NULL);

	/* Step 2: fork; each side closes the end it does not use. */
	pid_t pid = fork_child();
	if (close(sv[pid == 0 ? 0 : 1]) == -1)
		die("close", "socket", strerror(errno), NULL);
	if (pid == 0) {
		copy_what_arrives(sv[1]);
		return 0;
	}

	/* Step 3: only now open FILE, in the parent alone. O_NONBLOCK: a FIFO
	 * opens at once instead of waiting for a writer, and fstat refuses it. */
	int fd;
	while ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1 && errno == EINTR)
		continue;
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	struct stat st;
	if (fstat(fd, &st) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (!S_ISREG(st.st_mode)) /* a directory opens too, but cannot be read */
		die("open", path, S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file",
		    "pass a file");

	/* Step 4: send the descriptor, then close our copies; the open file
	 * lives on in the message, then in the child. */
	send_descriptor(sv[0], fd);
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	if (close(sv[0]) == -1)
		die("close", "socket", strerror(errno), NULL);

	/* Step 5: wait for the child and end the way it ended: quietly of
	 * SIGPIPE when standard output was closed, as cat does. */
	int status = reap(pid);
	child_pid = 0; /* reaped: nothing left for clean_up to stop */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return child_result(status);
}

/* The descriptor rides beside one ordinary byte: a stream socket sends no
 * ancillary data alone. The message holds the open file, not the number. */
static void send_descriptor(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union control control = { .buf = { 0 } };
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

/* The child: wait for the descriptor, copy what it reads to standard output.
 * The peer is untrusted: accept exactly one SCM_RIGHTS message carrying one
 * descriptor. (Dying here closes anything else that came.) */
static void copy_what_arrives(int sock)
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
		die("recvmsg", "socket", "control data truncated",
		    "sent more than one descriptor?");
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		die("recvmsg", "socket", "no descriptor in the message", NULL);
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof fd); /* CMSG_DATA may be unaligned */
	if (close(sock) == -1)
		die("close", "socket", strerror(errno), NULL);

	static char buf[CHUNK];
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "passed descriptor", strerror(errno), NULL);
		if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1) {
			if (errno == EPIPE) { /* end quietly, as cat does */
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			die("write", "standard output", strerror(errno), NULL);
		}
	}
	if (close(fd) == -1)
		die("close", "passed descriptor", strerror(errno), NULL);
}

/* Below: what stops the child when the parent ends early, for a child
 * blocked writing to an output nobody reads, which would outlive us. */

/* fork, with every signal held until child_pid is set, so that clean_up
 * always knows the child. */
static pid_t fork_child(void)
{
	sigset_t all, old_mask;
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old_mask) == -1)
		die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "child", strerror(errno), NULL);
	child_pid = pid;
	if (sigprocmask(SIG_SETMASK, &old_mask, NULL) == -1)
		die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
	return pid;
}

/* Run at exit and by a stop signal. The child has nothing to clean up, so
 * SIGKILL: unlike SIGTERM it also ends a stopped child, so the wait that
 * reaps it returns. kill and waitpid are async-signal-safe. */
static void clean_up(void)
{
	pid_t pid = (pid_t)child_pid;
	if (pid > 0) {
		child_pid = 0;
		(void)kill(pid, SIGKILL); /* it can only be gone already */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
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
