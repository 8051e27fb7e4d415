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
 * On Linux the open passes O_NONBLOCK, against a FIFO planted at the name
 * in /dev/shm; elsewhere it does not (FreeBSD refuses it; not tested).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

/* Linux keeps the objects in /dev/shm, writable by everyone: opening a
 * FIFO planted at our name would wait forever, and O_NONBLOCK makes that
 * open return at once (POSIX leaves the flag unspecified for shm_open,
 * which on Linux passes it on to open). FreeBSD refuses the flag with
 * EINVAL; its objects are not files, so nothing can be planted there. */
#ifdef __linux__
#define OPEN_WITHOUT_WAITING O_NONBLOCK
#else
#define OPEN_WITHOUT_WAITING 0
#endif

static int valid_name(const char *name);
static void hold_standard_descriptors(void);
static int write_all(int fd, const void *buf, size_t len);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	/* Standard output may be a file under ulimit -f: get EFBIG and say
	 * so. SIGPIPE and the stop signals keep their default action: we end
	 * of them with nothing to undo, and the object stays, with its data,
	 * for another try; closed output (| head) ends us quietly, as cat. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGXFSZ", strerror(errno), NULL);

	char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-02-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
		fprintf(stderr, "usage: %s [NAME]   (default NAME: %s)\n", PROGRAM, default_name);
		return 2;
	}

	/* Step 1: open the existing object, read-only: we only consume. */
	int fd = shm_open(name, O_RDONLY | OPEN_WITHOUT_WAITING, 0);
	if (fd == -1)
		die("shm_open", name, strerror(errno),
		    errno == ENOENT ? "run ./02-producer first" : NULL);

	/* Step 2: check before trusting. Anyone may create a name, so refuse
	 * an object that is not ours. Mapping more than the object holds
	 * would raise SIGBUS on the first touch beyond its end, so its real
	 * size must be the region's size. */
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

/* Below: the checks, the writing loop and the error line every example
 * shares. */

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
