/*
 * What the C library under test says, for the tests: built with the same
 * compiler as the examples, so an expected error line is that library's.
 *
 *   libc strerror ENOENT     No such file or directory
 *   libc signal SIGRTMIN+1   35
 *
 * and what the system holds where no file system shows it (/dev/mqueue
 * may be unmounted, and only root can mount it):
 *
 *   libc mq-exists /NAME     exit 0 if a POSIX queue NAME exists, 1 if not
 *   libc mq-unlink /NAME     remove it (exit 0), or say why not (exit 1)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY(name) { #name, name }
static const struct { const char *name; int number; } errors[] = {
	ENTRY(E2BIG), ENTRY(EACCES), ENTRY(EADDRINUSE), ENTRY(EAGAIN), ENTRY(EBADF),
	ENTRY(EBUSY), ENTRY(ECONNREFUSED), ENTRY(ECONNRESET), ENTRY(EDEADLK),
	ENTRY(EEXIST), ENTRY(EFAULT), ENTRY(EFBIG), ENTRY(EIDRM), ENTRY(EINTR),
	ENTRY(EINVAL), ENTRY(EIO), ENTRY(EISDIR), ENTRY(ELOOP), ENTRY(EMFILE),
	ENTRY(EMSGSIZE), ENTRY(ENAMETOOLONG), ENTRY(ENFILE), ENTRY(ENODEV),
	ENTRY(ENOENT), ENTRY(ENOMEM), ENTRY(ENOSPC), ENTRY(ENOSYS), ENTRY(ENOTDIR),
	ENTRY(ENOTEMPTY), ENTRY(ENOTRECOVERABLE), ENTRY(ENOTSOCK), ENTRY(ENXIO),
	ENTRY(EOVERFLOW), ENTRY(EOWNERDEAD), ENTRY(EPERM), ENTRY(EPIPE), ENTRY(ERANGE),
	ENTRY(ESRCH), ENTRY(ETIMEDOUT), ENTRY(ETXTBSY),
};
static const struct { const char *name; int number; } signals[] = {
	ENTRY(SIGABRT), ENTRY(SIGALRM), ENTRY(SIGBUS), ENTRY(SIGCHLD), ENTRY(SIGCONT),
	ENTRY(SIGFPE), ENTRY(SIGHUP), ENTRY(SIGILL), ENTRY(SIGINT), ENTRY(SIGKILL),
	ENTRY(SIGPIPE), ENTRY(SIGPOLL), ENTRY(SIGPROF), ENTRY(SIGQUIT), ENTRY(SIGSEGV),
	ENTRY(SIGSTOP), ENTRY(SIGSYS), ENTRY(SIGTERM), ENTRY(SIGTRAP), ENTRY(SIGTSTP),
	ENTRY(SIGTTIN), ENTRY(SIGTTOU), ENTRY(SIGURG), ENTRY(SIGUSR1), ENTRY(SIGUSR2),
	ENTRY(SIGVTALRM), ENTRY(SIGXCPU), ENTRY(SIGXFSZ),
};

int main(int argc, char *argv[])
{
	if (argc == 3 && strcmp(argv[1], "strerror") == 0) {
		for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
			if (strcmp(argv[2], errors[i].name) == 0)
				return printf("%s\n", strerror(errors[i].number)) < 0;
	} else if (argc == 3 && strcmp(argv[1], "signal") == 0) {
		const char *name = argv[2];
		if (strncmp(name, "SIGRTMIN", 8) == 0 && (name[8] == '\0' || name[8] == '+'))
			return printf("%d\n", SIGRTMIN + atoi(name[8] ? name + 9 : "0")) < 0;
		if (strncmp(name, "SIGRTMAX", 8) == 0 && (name[8] == '\0' || name[8] == '-'))
			return printf("%d\n", SIGRTMAX - atoi(name[8] ? name + 9 : "0")) < 0;
		for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
			if (strcmp(name, signals[i].name) == 0)
				return printf("%d\n", signals[i].number) < 0;
	} else if (argc == 3 && strcmp(argv[1], "mq-exists") == 0) {
		/* Opening for reading needs no mount; a queue of another user
		 * that we may not open exists all the same. */
		mqd_t queue = mq_open(argv[2], O_RDONLY | O_NONBLOCK);
		if (queue != (mqd_t)-1) {
			(void)mq_close(queue);
			return 0;
		}
		if (errno == ENOENT || errno == ENAMETOOLONG || errno == EINVAL)
			return 1; /* no such queue, or a name that cannot be one */
		if (errno == EACCES)
			return 0;
		fprintf(stderr, "libc: mq_open %s: %s\n", argv[2], strerror(errno));
		return 2;
	} else if (argc == 3 && strcmp(argv[1], "mq-unlink") == 0) {
		if (mq_unlink(argv[2]) == 0)
			return 0;
		fprintf(stderr, "libc: mq_unlink %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	fprintf(stderr, "usage: libc strerror ENAME | libc signal SIGNAME[+N] | "
		"libc mq-exists|mq-unlink /NAME\n");
	return 2;
}
