/*
 * 02-producer: copy standard input into a new POSIX shared memory object,
 * behind a small header that says how many bytes follow.
 *
 *   echo hello | ./02-producer /demo     # default NAME: /ipc-02-<uid>
 *   ./02-consumer /demo                   # prints hello, removes /demo
 *
 * Watch for: nothing here synchronizes the two programs; it works because
 * you run the consumer after the producer has finished (07 fixes that).
 * The object stays until 02-consumer removes it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROGRAM "02-producer"

/* The region both programs agree on: the header, then up to CAPACITY
 * bytes. The magic number lets the consumer recognize a region that
 * 02-producer made; it is not a lock. */
enum { CAPACITY = 64 * 1024 };
#define REGION_MAGIC 0x49504332u /* "IPC2" */
struct region {
	uint32_t magic;
	uint32_t length;
	unsigned char data[CAPACITY];
};

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

/* If we fail after creating the object, remove it: half a region is no
 * use to anyone. */
static const char *region_name;
static void remove_region(void)
{
	if (region_name)
		(void)shm_unlink(region_name); /* best effort: we are failing anyway */
}

int main(int argc, char *argv[])
{
	/* static: remove_region may use it after main has returned. */
	static char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-02-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') ||
	    strlen(name) > NAME_MAX) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* Step 0: read all the input first, so that input too large for the
	 * region is refused before anything is created. One byte of room
	 * beyond CAPACITY tells "exactly full" from "too much". */
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: reading standard input; end it with Ctrl-D\n", PROGRAM);
	static unsigned char input[CAPACITY + 1];
	size_t length = 0;
	while (length < sizeof input) {
		ssize_t n = read(STDIN_FILENO, input + length, sizeof input - length);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", "standard input", strerror(errno), NULL);
		if (n == 0)
			break;
		length += (size_t)n;
	}
	if (length > CAPACITY)
		die("read", "standard input", "more than the region's 65536 bytes",
		    "split the input, or stream it with 07-ring-producer");

	/* Step 1: create the object. O_EXCL: never reuse an existing one,
	 * which may be a consumer's unread data or someone else's trap. */
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd == -1)
		die("shm_open", name, strerror(errno),
		    errno == EEXIST ? "run ./02-consumer to empty it, or ./01-shm-unlink it" : NULL);
	region_name = name;
	if (atexit(remove_region) != 0)
		die("atexit", "remove_region", "failed", NULL);

	/* Step 2: a new object is empty; give it the region's size. */
	if (ftruncate(fd, sizeof(struct region)) == -1)
		die("ftruncate", name, strerror(errno), NULL);

	/* Step 3: map it. MAP_SHARED: our stores go to the object itself,
	 * where the consumer will see them. */
	struct region *region = mmap(NULL, sizeof *region, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);
	if (close(fd) == -1) /* the mapping keeps the object alive */
		die("close", name, strerror(errno), NULL);

	/* Step 4: the data, then the header that describes it. */
	memcpy(region->data, input, length);
	region->length = (uint32_t)length;
	region->magic = REGION_MAGIC;

	/* Step 5: unmap; the data stays in the object for the consumer. */
	if (munmap(region, sizeof *region) == -1)
		die("munmap", name, strerror(errno), NULL);
	region_name = NULL; /* complete: from now on it is the consumer's */
	return 0;
}
