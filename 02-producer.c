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
#include <signal.h>
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

static int valid_name(const char *name);
static void hold_standard_descriptors(void);
static void catch_stop_signals(void);
static void clean_up(void);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

/* The object to remove if we stop before it is complete (clean_up). */
static const char *region_name;
static volatile sig_atomic_t must_remove;

int main(int argc, char *argv[])
{
	hold_standard_descriptors();
	catch_stop_signals();
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);

	/* static: clean_up may use it after main has returned. */
	static char default_name[32]; /* "/ipc-NN-" and a uid always fit */
	(void)snprintf(default_name, sizeof default_name, "/ipc-02-%ld", (long)getuid());
	const char *name = argc == 2 ? argv[1] : default_name;
	if (argc > 2 || !valid_name(name)) {
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
	region_name = name;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd == -1)
		die("shm_open", name, strerror(errno),
		    errno == EEXIST ? "run ./02-consumer to empty it, or ./01-shm-unlink it" : NULL);
	must_remove = 1; /* half a region is no use to anyone */

	/* Step 2: a new object is empty; give it the region's size. On tmpfs
	 * (Linux's /dev/shm) that reserves nothing, and a store to a missing
	 * page raises SIGBUS: reserve them, so a full /dev/shm is one line. */
	const off_t size = (off_t)sizeof(struct region);
	if (ftruncate(fd, size) == -1)
		die("ftruncate", name, strerror(errno), NULL);
	int error = posix_fallocate(fd, 0, size);
	if (error != 0)
		die("posix_fallocate", name, strerror(error), NULL);

	/* Step 3: map it. MAP_SHARED: our stores reach the consumer. */
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
	must_remove = 0; /* complete: from now on it is the consumer's */
	return 0;
}

/* Below: what removes a half-made object when we fail or are stopped
 * early, and the checks and error line every example shares. */

/* Remove the object unless it is complete. shm_unlink is not on POSIX's
 * list of async-signal-safe calls; with musl, and glibc since 2.34, it is
 * an unlink of a name built on the stack, which is. */
static void clean_up(void)
{
	if (must_remove) {
		must_remove = 0;
		/* NOLINTNEXTLINE(bugprone-signal-handler,cert-sig30-c): safe on Linux, see above */
		(void)shm_unlink(region_name); /* best effort: we are failing anyway */
	}
}

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

/* A stop signal: clean up, then die of the same signal, so that the shell
 * sees how we ended. signal and raise are async-signal-safe. */
static void on_stop_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch every signal whose default action ends the process, but those that stop,
 * continue or are ignored (SIGWINCH: beyond POSIX.1-2008, but everywhere), those
 * sigaction refuses (EINVAL: SIGKILL, SIGSTOP, the C library's or valgrind's), and
 * SIGHUP, SIGINT or SIGQUIT ignored at our start (nohup, a script's background job):
 * they stay ignored. SIGPIPE and SIGXFSZ are ignored instead. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal }, old;
	sigfillset(&sa.sa_mask); /* no second signal interrupts clean_up */
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sig != SIGCHLD && sig != SIGCONT && sig != SIGTSTP && sig != SIGTTIN &&
		    sig != SIGTTOU && sig != SIGURG && sig != SIGWINCH &&
		    (sigaction(sig, NULL, &old) == -1 || old.sa_handler != SIG_IGN ||
		     (sig != SIGHUP && sig != SIGINT && sig != SIGQUIT)) &&
		    sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			die("sigaction", "stop signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
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
