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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROGRAM "01-shm-unlink"

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

int main(int argc, char *argv[])
{
	char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-01-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') ||
	    strlen(name) > NAME_MAX) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* /dev/shm is sticky, like /tmp: the kernel lets us remove only our
	 * own objects (root excepted). */
	if (shm_unlink(name) == -1)
		die("shm_unlink", name, strerror(errno),
		    errno == ENOENT ? "nothing to remove; check the name with ls /dev/shm" : NULL);

	printf("removed shared memory object %s\n", name);
	return 0;
}
