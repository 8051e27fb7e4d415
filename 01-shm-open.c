/*
 * 01-shm-open: create a POSIX shared memory object and show where it lives.
 *
 *   ./01-shm-open /demo        # creates it (default NAME: /ipc-01-<uid>)
 *   ls -l /dev/shm/demo        # on Linux, shared memory is a file there
 *   ./01-shm-unlink /demo      # removes it
 *
 * Watch for: the object outlives this program. Nothing removes it until
 * someone calls shm_unlink (or the machine reboots).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROGRAM "01-shm-open"

static int valid_name(const char *name);
static void hold_standard_descriptors(void);
static void clean_up(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

/* The object we made, until the message that announces it is written:
 * if that fails, clean_up removes the object again. */
static const char *created;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	/* Our output is a report, not a stream: a closed pipe or a full
	 * file is an error to report (EPIPE, EFBIG), not a silent death. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* static: clean_up may run after main has returned. */
	static char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-01-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* O_EXCL: an existing object is an error, never silently reused; it
	 * may hold someone else's data or have been planted by someone else.
	 * 0600: only we may read or write it. */
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd == -1) {
		char fix[NAME_MAX + 64];
		(void)snprintf(fix, sizeof fix, "remove it with ./01-shm-unlink %s", name);
		die("shm_open", name, strerror(errno), errno == EEXIST ? fix : NULL);
	}
	created = name;

	/* The descriptor is only our handle; the object stays after close. */
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);

	printf("created shared memory object %s (0 bytes, mode 0600)\n", name);
	printf("on Linux it is the file /dev/shm%s; remove it with ./01-shm-unlink %s\n",
	       name, name);

	/* printf only fills a buffer: the output is written (or fails, on a
	 * full disk or /dev/full) when it is flushed, or earlier, at a
	 * newline, and then only the stream's error flag remembers it (musl). */
	if (fflush(stdout) == EOF || ferror(stdout))
		die("fflush", "standard output", strerror(errno), NULL);
	created = NULL; /* announced: the object is yours now */
	return 0;
}

/* Below: the name check, and what keeps a failed run from leaving an
 * object nobody was told about. */

/* A portable name is "/" and then 1 to NAME_MAX bytes with no further
 * "/"; "/." and "/.." would name the directory that holds the objects. */
static int valid_name(const char *name)
{
	size_t length = strlen(name);
	return name[0] == '/' && length > 1 && length - 1 <= NAME_MAX &&
	       strchr(name + 1, '/') == NULL && strcmp(name, "/.") != 0 &&
	       strcmp(name, "/..") != 0;
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

/* At exit: an object made but never announced is removed. */
static void clean_up(void)
{
	if (created != NULL)
		(void)shm_unlink(created); /* best effort: we are failing anyway */
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
