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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROGRAM "01-shm-open"

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
	/* A portable name is "/" and then a name with no further "/". */
	if (argc > 2 || name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') ||
	    strlen(name) > NAME_MAX) {
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
	/* The descriptor is only our handle; the object stays after close. */
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);

	printf("created shared memory object %s (0 bytes, mode 0600)\n", name);
	printf("on Linux it is the file /dev/shm%s; remove it with ./01-shm-unlink %s\n",
	       name, name);
	return 0;
}
