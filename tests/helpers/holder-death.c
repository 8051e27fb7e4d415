/*
 * What happens to a lock when its holder dies: for each kind of lock, a
 * child takes it and is then killed with SIGKILL, or exits without
 * unlocking; the parent, once the child is reaped, tries to take it
 * without waiting, and prints what it found as one row of a Markdown
 * table (tests/15-lock.sh compares the rows with README.md).
 *
 *   holder-death DIR      DIR: where the lock files are made (and removed)
 *
 * Built by the test with the compiler under test, so that the rows are
 * that C library's. Everything it makes is removed before it exits.
 */
#define _GNU_SOURCE /* F_OFD_SETLK; SysV semaphores; robust mutexes on older glibc */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

enum kind { FCNTL, OFD, FLOCK, SYSV_UNDO, SYSV, SEM_NAMED, SEM_UNNAMED, ROBUST, MUTEX, KINDS };
static const char *const names[KINDS] = {
	"fcntl record lock (`F_SETLK`)", "OFD lock (`F_OFD_SETLK`)", "`flock`",
	"System V semaphore with `SEM_UNDO`", "System V semaphore without `SEM_UNDO`",
	"POSIX named semaphore (`sem_open`)", "POSIX unnamed semaphore (`sem_init`, shared)",
	"robust mutex (`PTHREAD_MUTEX_ROBUST`)", "default mutex (process-shared)",
};

struct shared {
	sem_t unnamed;
	pthread_mutex_t mutex;
};

static const char *dir;
static char path[4096];
static int semid = -1;
static sem_t *named;
static struct shared *shared;

static void fail(const char *what)
{
	fprintf(stderr, "holder-death: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Make a fresh instance of the lock, before the fork. */
static void make(enum kind kind, int n)
{
	(void)snprintf(path, sizeof path, "%s/holder-death-%d", dir, n);
	shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		fail("mmap");
	if (kind <= FLOCK) {
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd == -1 || close(fd) == -1)
			fail(path);
	} else if (kind <= SYSV) {
		semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
		if (semid == -1 || semctl(semid, 0, SETVAL, 1) == -1)
			fail("semget");
	} else if (kind == SEM_NAMED) {
		char name[64];
		(void)snprintf(name, sizeof name, "/holder-death-%ld-%d", (long)getpid(), n);
		named = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
		if (named == SEM_FAILED || sem_unlink(name) == -1) /* the child inherits it */
			fail("sem_open");
	} else if (kind == SEM_UNNAMED) {
		if (sem_init(&shared->unnamed, 1, 1) == -1)
			fail("sem_init");
	} else {
		pthread_mutexattr_t attr;
		if (pthread_mutexattr_init(&attr) != 0 ||
		    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
		    (kind == ROBUST && pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) ||
		    pthread_mutex_init(&shared->mutex, &attr) != 0)
			fail("pthread_mutex_init");
	}
}

/* Take it, waiting (the child) or not (the parent): 0 when taken, else
 * the error. A file lock is taken through an open of one's own: an
 * inherited descriptor would share the lock with the parent. */
static int take(enum kind kind, int wait)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct sembuf down = { .sem_num = 0, .sem_op = -1,
			       .sem_flg = (short)((kind == SYSV_UNDO ? SEM_UNDO : 0) | (wait ? 0 : IPC_NOWAIT)) };
	int fd = kind <= FLOCK ? open(path, O_RDWR) : -1, result;
	if (kind <= FLOCK && fd == -1)
		fail(path);
	switch (kind) {
	case FCNTL: result = fcntl(fd, wait ? F_SETLKW : F_SETLK, &whole); break;
	case OFD: result = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &whole); break;
	case FLOCK: result = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)); break;
	case SYSV_UNDO: case SYSV: result = semop(semid, &down, 1); break;
	case SEM_NAMED: result = wait ? sem_wait(named) : sem_trywait(named); break;
	case SEM_UNNAMED: result = wait ? sem_wait(&shared->unnamed) : sem_trywait(&shared->unnamed); break;
	default: return wait ? pthread_mutex_lock(&shared->mutex) : pthread_mutex_trylock(&shared->mutex);
	}
	int error = result == 0 ? 0 : errno;
	if (fd != -1 && close(fd) == -1)
		fail("close");
	return error;
}

/* What the next process found, in words. */
static const char *outcome(enum kind kind, int error)
{
	if (error == 0)
		return kind == SYSV_UNDO ? "undone by the kernel: free" : "released by the kernel: free";
	if (error == EOWNERDEAD)
		return "the next locker gets `EOWNERDEAD` and repairs it";
	if (error == EAGAIN || error == EWOULDBLOCK || error == EACCES || error == EBUSY)
		return "still held, for ever";
	return strerror(error);
}

/* Remove what make made (the named semaphore is unlinked already). */
static void unmake(enum kind kind)
{
	if (kind <= FLOCK && unlink(path) == -1)
		fail(path);
	if ((kind == SYSV_UNDO || kind == SYSV) && semctl(semid, 0, IPC_RMID) == -1)
		fail("semctl IPC_RMID");
	if (kind == SEM_NAMED && sem_close(named) == -1)
		fail("sem_close");
	if (kind == SEM_UNNAMED && sem_destroy(&shared->unnamed) == -1)
		fail("sem_destroy");
	if (munmap(shared, sizeof *shared) == -1)
		fail("munmap");
}

/* One death: the child takes the lock, tells us through a pipe, then is
 * killed or exits; we reap it and try the lock. */
static const char *after_death(enum kind kind, int killed, int n)
{
	int ready[2];
	make(kind, n);
	if (pipe(ready) == -1)
		fail("pipe");
	pid_t child = fork();
	if (child == -1)
		fail("fork");
	if (child == 0) {
		if (take(kind, 1) != 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		if (killed)
			for (;;)
				pause();
		_exit(0); /* without unlocking */
	}
	char byte;
	if (read(ready[0], &byte, 1) != 1)
		fail("the child did not take the lock");
	if (killed && kill(child, SIGKILL) == -1)
		fail("kill");
	int status;
	if (waitpid(child, &status, 0) == -1)
		fail("waitpid");
	const char *found = outcome(kind, take(kind, 0));
	if (close(ready[0]) == -1 || close(ready[1]) == -1)
		fail("close");
	unmake(kind);
	return found;
}

int main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: holder-death DIR\n");
		return 2;
	}
	dir = argv[1];
	printf("| Lock | Holder killed with `SIGKILL` | Holder exits without unlocking |\n");
	printf("|---|---|---|\n");
	for (int kind = 0; kind < KINDS; kind++) {
		const char *killed = after_death((enum kind)kind, 1, 2 * kind);
		const char *exited = after_death((enum kind)kind, 0, 2 * kind + 1);
		printf("| %s | %s | %s |\n", names[kind], killed, exited);
	}
	return fflush(stdout) == EOF;
}
