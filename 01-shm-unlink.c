/*
 * 01-shm-unlink: remove a POSIX shared memory object by name.
 *
 *   ./01-shm-open /demo
 *   ./01-shm-unlink /demo      # default NAME: /ipc-01-<uid>
 *
 * Watch for: shm_unlink removes the name at once, but a process that still
 * has the object open or mapped keeps using it until it lets go.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROGRAM "01-shm-unlink"

static int valid_name(const char *name);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	/* Our output is a report, not a stream: a closed pipe or a full
	 * file is an error to report (EPIPE, EFBIG), not a silent death. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);

	char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-01-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* Only the owner may remove an object (root excepted): on Linux the
	 * objects are files in /dev/shm, which is sticky, like /tmp. */
	if (shm_unlink(name) == -1)
		die("shm_unlink", name, strerror(errno),
		    errno == ENOENT ? "nothing to remove; on Linux, check the name with ls /dev/shm" : NULL);

	printf("removed shared memory object %s\n", name);

	/* printf only fills a buffer: the output is written (or fails, on a
	 * full disk or /dev/full) when it is flushed, or earlier, at a
	 * newline, and then only the stream's error flag remembers it (musl). */
	if (fflush(stdout) == EOF || ferror(stdout))
		die("fflush", "standard output", strerror(errno), NULL);
	return 0;
}

/* Below: the name check and the error line. */

/* A portable name is "/" and then 1 to NAME_MAX bytes with no further
 * "/"; "/." and "/.." would name the directory that holds the objects. */
static int valid_name(const char *name)
{
	size_t length = strlen(name);
	return name[0] == '/' && length > 1 && length - 1 <= NAME_MAX &&
	       strchr(name + 1, '/') == NULL && strcmp(name, "/.") != 0 &&
	       strcmp(name, "/..") != 0;
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
