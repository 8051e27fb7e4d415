/*
 * 02-consumer: print what 02-producer left in a POSIX shared memory
 * object, then remove the object.
 *
 *   echo hello | ./02-producer /demo
 *   ./02-consumer /demo                   # default NAME: /ipc-02-<uid>
 *
 * Watch for: the object's size and header come from another process and
 * are checked before they are trusted; the length is never used to read
 * past the end of the mapping.
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
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "02-consumer"

/* The region both programs agree on (see 02-producer.c). */
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

/* write() may take only part of the buffer (pipes, signals): loop. */
static int write_all(int fd, const unsigned char *buf, size_t len)
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

int main(int argc, char *argv[])
{
	char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-02-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') ||
	    strlen(name) > NAME_MAX) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* Step 1: open the existing object, read-only: we only consume.
	 * O_NONBLOCK: /dev/shm is writable by everyone, and opening a FIFO
	 * planted at our name would otherwise wait forever (Linux passes the
	 * flag on to open; POSIX leaves it unspecified for shm_open). */
	int fd = shm_open(name, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1)
		die("shm_open", name, strerror(errno),
		    errno == ENOENT ? "run ./02-producer first" : NULL);

	/* Step 2: check before trusting. Anyone can create a name in /dev/shm,
	 * so refuse an object that is not ours. Mapping more than the object
	 * holds would raise SIGBUS on the first touch beyond its end, so its
	 * real size must be the region's size. */
	struct stat info;
	if (fstat(fd, &info) == -1)
		die("fstat", name, strerror(errno), NULL);
	if (!S_ISREG(info.st_mode))
		die("shm_open", name, "not a shared memory object", "pass another NAME");
	if (info.st_uid != geteuid())
		die("shm_open", name, "belongs to another user", "pass another NAME");
	if (info.st_size != (off_t)sizeof(struct region)) {
		char reason[96];
		(void)snprintf(reason, sizeof reason, "%lld bytes, not the %zu of a 02-producer region",
			 (long long)info.st_size, sizeof(struct region));
		die("fstat", name, reason, NULL);
	}

	/* Step 3: map it, read-only like the descriptor. */
	const struct region *region = mmap(NULL, sizeof *region, PROT_READ, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		die("mmap", name, strerror(errno), NULL);
	if (close(fd) == -1)
		die("close", name, strerror(errno), NULL);

	/* Step 4: the header is data from another process: read each field
	 * once, check it, and use only the checked copy. */
	uint32_t magic = region->magic, length = region->length;
	if (magic != REGION_MAGIC)
		die("mmap", name, "no 02-producer header (wrong magic number)", NULL);
	if (length > CAPACITY) {
		char reason[96];
		(void)snprintf(reason, sizeof reason, "header claims %lu bytes, more than the capacity of %d",
			 (unsigned long)length, CAPACITY);
		die("mmap", name, reason, NULL);
	}

	/* Step 5: exactly the stored bytes, NUL bytes included. */
	if (write_all(STDOUT_FILENO, region->data, length) == -1)
		die("write", "standard output", strerror(errno), NULL);

	/* Step 6: consumed: unmap and remove the object. */
	if (munmap((void *)region, sizeof *region) == -1)
		die("munmap", name, strerror(errno), NULL);
	if (shm_unlink(name) == -1)
		die("shm_unlink", name, strerror(errno), NULL);
	return 0;
}
