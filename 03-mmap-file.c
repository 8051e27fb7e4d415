/*
 * 03-mmap-file: change a file by writing to memory, with MAP_SHARED, or
 * change only our own copy of it, with MAP_PRIVATE (-p).
 *
 *   ./03-mmap-file notes.txt 'Hello'      # notes.txt now starts with Hello
 *   ./03-mmap-file -p notes.txt 'HELLO'   # our view changes, the file not
 *
 * MESSAGE defaults to "hello, mapped file\n". Watch for: a mapping cannot
 * make a file longer; ftruncate must give it room first, or touching the
 * mapping past the end raises SIGBUS. With musl, posix_fallocate fails
 * (EOPNOTSUPP) on a file system without fallocate; glibc writes the blocks.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "03-mmap-file"
#define DEFAULT_MESSAGE "hello, mapped file\n"

static void show(const char *label, const char *buf, size_t len);
static void on_bus(int sig);
static void hold_standard_descriptors(void);
static void clean_up(void);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

/* A file we created, to remove if we fail before it holds MESSAGE. */
static const char *created;
/* Where on_bus takes us back to when a page of the mapping is gone. */
static sigjmp_buf lost_pages;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	/* Past ulimit -f, FILE or standard output gives EFBIG, not SIGXFSZ. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGXFSZ", strerror(errno), NULL);
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	int private = argc > 1 && strcmp(argv[1], "-p") == 0;
	int first = 1 + private; /* index of FILE */
	if (argc < first + 1 || argc > first + 2 || argv[first][0] == '-' ||
	    argv[first][0] == '\0') {
		fprintf(stderr, "usage: %s [-p] FILE [MESSAGE]\n", PROGRAM);
		return 2;
	}
	const char *path = argv[first];
	const char *message = argc == first + 2 ? argv[first + 1] : DEFAULT_MESSAGE;
	size_t length = strlen(message);

	/* Step 1: only a regular file: opening a FIFO blocks, a device acts. */
	struct stat info;
	int exists = stat(path, &info) == 0;
	if (!exists && errno != ENOENT)
		die("stat", path, strerror(errno), NULL);
	if (exists && !S_ISREG(info.st_mode))
		die("open", path, "not a regular file", NULL);
	const char *private_fix =
		"-p never creates or extends FILE; give it one at least as long as MESSAGE";
	if (private && !exists)
		die("open", path, strerror(ENOENT), private_fix);

	/* Step 2: open it; for -p read-only, which proves that a private mapping
	 * never writes the file. A new file gets O_EXCL, so clean_up removes only
	 * a file we made; O_NONBLOCK: a FIFO swapped in since stat cannot block. */
	int flags = private ? O_RDONLY : exists ? O_RDWR : O_RDWR | O_CREAT | O_EXCL;
	int fd = open(path, flags | O_NONBLOCK, 0600);
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	if (!exists)
		created = path;
	if (fstat(fd, &info) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (!S_ISREG(info.st_mode))
		die("open", path, "not a regular file", NULL);
	if (private && info.st_size < (off_t)length)
		die("open", path, "shorter than MESSAGE", private_fix);

	if (length == 0) { /* nothing to write, and mmap cannot map 0 bytes */
		if (close(fd) == -1)
			die("close", path, strerror(errno), NULL);
		created = NULL;
		return 0;
	}

	/* Step 3: a mapping covers only bytes the file has: grow a shorter file
	 * (a longer one keeps its other bytes). Then reserve the blocks: a store
	 * the file system cannot back (full disk, sparse hole) raises SIGBUS. */
	if (!private && info.st_size < (off_t)length && ftruncate(fd, (off_t)length) == -1)
		die("ftruncate", path, strerror(errno), NULL);
	int error = private ? 0 : posix_fallocate(fd, 0, (off_t)length);
	if (error != 0)
		die("posix_fallocate", path, strerror(error), NULL);

	/* Step 4: map it: MAP_SHARED writes through, MAP_PRIVATE copies on write. */
	char *view = mmap(NULL, length, PROT_READ | PROT_WRITE,
			  private ? MAP_PRIVATE : MAP_SHARED, fd, 0);
	if (view == MAP_FAILED)
		die("mmap", path, strerror(errno), NULL);

	/* Step 5: write MESSAGE with a plain memcpy. A file shrunk since fstat
	 * raises SIGBUS at the lost pages, and on_bus brings us back here. */
	struct sigaction sa = { .sa_handler = on_bus };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == -1)
		die("sigaction", "SIGBUS", strerror(errno), NULL);
	if (sigsetjmp(lost_pages, 1) != 0)
		die("memcpy", path, "file truncated while mapped (SIGBUS)", NULL);
	memcpy(view, message, length); // NOLINT(bugprone-not-null-terminated-result): no NUL in FILE

	if (private) {
		/* Step 6 (-p): show both: our copy changed, the file did not. */
		char *on_disk = malloc(length);
		if (on_disk == NULL)
			die("malloc", path, strerror(errno), NULL);
		ssize_t n = pread(fd, on_disk, length, 0);
		if (n == -1)
			die("pread", path, strerror(errno), NULL);
		show("our private view: ", view, length);
		show("the file itself:  ", on_disk, (size_t)n);
		free(on_disk);
	} else {
		/* Step 6: msync writes the change to the file now, and waits. */
		if (msync(view, length, MS_SYNC) == -1)
			die("msync", path, strerror(errno), NULL);
	}

	/* Step 7: unmap and close. */
	if (munmap(view, length) == -1)
		die("munmap", path, strerror(errno), NULL);
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	created = NULL; /* it holds MESSAGE: the file is yours */
	return 0;
}

/* Print "label" and then the first len bytes of buf on standard output. */
static void show(const char *label, const char *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, label, strlen(label)) == -1 ||
	    write_all(STDOUT_FILENO, buf, len) == -1 || write_all(STDOUT_FILENO, "\n", 1) == -1)
		die("write", "standard output", strerror(errno), NULL);
}

/* Below: what turns a lost page into an error line, and what removes a
 * file we created when we fail. */

/* SIGBUS: a page of the mapping is gone. Jump back to main's sigsetjmp,
 * out of the memcpy (async-signal-safe) it interrupted, to report it. */
static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(lost_pages, 1);
}

/* At exit: a file we created but could not fill is removed. */
static void clean_up(void)
{
	if (created != NULL)
		(void)unlink(created); /* best effort: we are failing anyway */
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
