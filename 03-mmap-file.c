/*
 * 03-mmap-file: change a file by writing to memory, with MAP_SHARED, or
 * change only our own copy of it, with MAP_PRIVATE (-p).
 *
 *   ./03-mmap-file notes.txt 'Hello'      # notes.txt now starts with Hello
 *   ./03-mmap-file -p notes.txt 'HELLO'   # our view changes, the file not
 *
 * Without MESSAGE, it writes "hello, mapped file\n".
 * Watch for: a mapping cannot make a file longer; ftruncate must give it
 * room first, or touching the mapping past the end raises SIGBUS.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "03-mmap-file"
#define DEFAULT_MESSAGE "hello, mapped file\n"

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

/* SIGBUS: the file shrank under our mapping (another process truncated
 * it after our fstat), and we touched a page that no longer exists.
 * Report it as an error, not a crash; write and _exit are
 * async-signal-safe, so the message is made beforehand. */
static char bus_message[512];
static size_t bus_length;
static void on_bus(int sig)
{
	(void)sig;
	ssize_t ignored = write(STDERR_FILENO, bus_message, bus_length);
	(void)ignored; /* nothing more can be done in a handler */
	_exit(1);
}

/* Print "label" and then the first len bytes of buf on standard output. */
static void show(const char *label, const char *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, label, strlen(label)) == -1 ||
	    write_all(STDOUT_FILENO, buf, len) == -1 || write_all(STDOUT_FILENO, "\n", 1) == -1)
		die("write", "standard output", strerror(errno), NULL);
}

int main(int argc, char *argv[])
{
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

	/* Step 1: refuse anything but a regular file before opening it:
	 * opening a FIFO can block, opening a device can do things. */
	struct stat info;
	int exists = stat(path, &info) == 0;
	if (!exists && errno != ENOENT)
		die("stat", path, strerror(errno), NULL);
	if (exists && !S_ISREG(info.st_mode))
		die("open", path, "not a regular file", NULL);
	const char *private_fix = "-p never creates or extends FILE; give it one at least as long as MESSAGE";
	if (private && !exists)
		die("open", path, strerror(ENOENT), private_fix);
	if (private && info.st_size < (off_t)length)
		die("open", path, "shorter than MESSAGE", private_fix);

	/* Step 2: open it. For -p, read-only is enough, which also proves
	 * the point: a private mapping never writes to the file. O_NONBLOCK
	 * guards against a FIFO swapped in since the stat above. */
	int fd = open(path, (private ? O_RDONLY : O_RDWR | O_CREAT) | O_NONBLOCK, 0600);
	if (fd == -1)
		die("open", path, strerror(errno), NULL);
	if (fstat(fd, &info) == -1)
		die("fstat", path, strerror(errno), NULL);
	if (!S_ISREG(info.st_mode))
		die("open", path, "not a regular file", NULL);
	if (private && info.st_size < (off_t)length)
		die("open", path, "shorter than MESSAGE", private_fix);

	/* Step 3: a mapping only covers bytes the file has, so grow a file
	 * shorter than MESSAGE; a longer one keeps its remaining bytes. */
	if (!private && info.st_size < (off_t)length && ftruncate(fd, (off_t)length) == -1)
		die("ftruncate", path, strerror(errno), NULL);
	if (length == 0) { /* nothing to write, and mmap cannot map 0 bytes */
		if (close(fd) == -1)
			die("close", path, strerror(errno), NULL);
		return 0;
	}

	/* Another process may shrink the file after our fstat: be ready to
	 * report the SIGBUS that touching the lost pages raises (on_bus). A
	 * very long path cuts the message short; it still says what happened. */
	(void)snprintf(bus_message, sizeof bus_message,
		       "%s: memcpy %s: file truncated while mapped (SIGBUS)\n", PROGRAM, path);
	bus_length = strlen(bus_message);
	struct sigaction sa = { .sa_handler = on_bus };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == -1)
		die("sigaction", "SIGBUS", strerror(errno), NULL);

	/* Step 4: map it. MAP_SHARED writes through to the file;
	 * MAP_PRIVATE gives us a copy-on-write view of our own. */
	char *view = mmap(NULL, length, PROT_READ | PROT_WRITE,
			  private ? MAP_PRIVATE : MAP_SHARED, fd, 0);
	if (view == MAP_FAILED)
		die("mmap", path, strerror(errno), NULL);

	/* Step 5: write MESSAGE at offset 0 with an ordinary memcpy. */
	/* The bytes of MESSAGE without its NUL: the file gets no terminator. */
	memcpy(view, message, length); // NOLINT(bugprone-not-null-terminated-result): bytes, not a string

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
		/* Step 6: msync makes the change durable in the file now,
		 * rather than whenever the kernel writes dirty pages back. */
		if (msync(view, length, MS_SYNC) == -1)
			die("msync", path, strerror(errno), NULL);
	}

	/* Step 7: unmap and close. */
	if (munmap(view, length) == -1)
		die("munmap", path, strerror(errno), NULL);
	if (close(fd) == -1)
		die("close", path, strerror(errno), NULL);
	return 0;
}
