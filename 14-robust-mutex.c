/*
 * 14-robust-mutex: a lock whose holder dies. Forked workers move money between
 * two accounts in anonymous shared memory under one robust, process-shared
 * mutex, journalling each transfer; the next locker after a holder's death gets
 * EOWNERDEAD, rolls the books back and calls pthread_mutex_consistent.
 *
 *   ./14-robust-mutex -k 5       # worker 1 dies inside its 5th transfer
 *   ./14-robust-mutex -s -k 5    # a default mutex: the others are stuck
 * Watch for: count and sum stay exact. Linux only (PR_SET_PDEATHSIG); glibc, musl.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS: in POSIX only since 2024 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "14-robust-mutex"
enum { MAX_WORKERS = 64, MAX_TRANSFERS = 1000000, TOTAL = 1000000 };

/* The workers share it and the parent checks it: outside a transfer, sum TOTAL. */
struct books {
	long account[2], done; /* done: transfers completed */
};
struct bank {
	pthread_mutex_t lock;
	struct books books, journal;           /* journal: the books before this transfer */
	atomic_int active, holder, recoveries; /* 1 inside a transfer; its pid; for -r */
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

static void work(struct bank *bank, int worker);
static void lock(struct bank *bank);
static int parse(const char *text);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);

static int workers = 4, transfers = 10000, kill_at, kill_recoverer, stalled, skip_consistent;

int main(int argc, char *argv[])
{
	int option, value = 1; /* a number, 1 for a flag, 0 once an option is bad */
	while (value != 0 && (option = getopt(argc, argv, ":w:n:k:rsu")) != -1) {
		value = strchr("wnk", option) ? parse(optarg) : strchr("rsu", option) != NULL;
		workers = option == 'w' ? value : workers;
		transfers = option == 'n' ? value : transfers;
		kill_at = option == 'k' ? value : kill_at;
		kill_recoverer |= option == 'r';
		stalled |= option == 's';
		skip_consistent |= option == 'u';
	}
	if (value == 0 || optind != argc || workers > MAX_WORKERS || kill_at > transfers) {
		fprintf(stderr, "usage: %s [-w WORKERS] [-n TRANSFERS] [-k K] [-r] [-s] [-u]"
			"   (default: 4 workers, 10000 transfers each)\n", PROGRAM);
		return 2;
	}
	static char line_buffer[8192]; /* workers die together: each line whole, at once */
	(void)setvbuf(stderr, line_buffer, _IOLBF, sizeof line_buffer); /* valid: cannot fail */
	(void)signal(SIGCHLD, SIG_DFL); /* inherited ignored, the kernel would reap the workers */
	(void)signal(SIGPIPE, SIG_IGN); /* a closed or full output: an error line (fflush) */
	(void)signal(SIGXFSZ, SIG_IGN); /* valid signals: signal cannot fail */

	/* Step 1: memory that fork shares, with no name that could leak. */
	int flags = MAP_SHARED | MAP_ANONYMOUS;
	/* cppcheck-suppress invalidFunctionArg ; no file: fd -1, as some systems require */
	struct bank *bank = mmap(NULL, sizeof *bank, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (bank == MAP_FAILED)
		die("mmap", "MAP_SHARED | MAP_ANONYMOUS", strerror(errno), NULL);
	bank->books.account[0] = bank->books.account[1] = TOTAL / 2;

	/* Step 2: one mutex for all processes, robust unless -s (no #ifdef: glibc's is an enum). */
	pthread_mutexattr_t attributes;
	int error = pthread_mutexattr_init(&attributes);
	if (error != 0)
		die("pthread_mutexattr_init", "the accounts' lock", strerror(error), NULL);
	error = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
	if (error != 0)
		die("pthread_mutexattr_setpshared", "the accounts' lock", strerror(error), NULL);
	error = stalled ? 0 : pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
	if (error != 0)
		die("pthread_mutexattr_setrobust", "the accounts' lock", strerror(error), NULL);
	error = pthread_mutex_init(&bank->lock, &attributes);
	if (error != 0)
		die("pthread_mutex_init", "the accounts' lock", strerror(error), NULL);
	(void)pthread_mutexattr_destroy(&attributes); /* the mutex keeps what it needs */

	/* Step 3: fork the workers. Each asks for SIGKILL at our death, however we die. */
	pid_t parent = getpid(), pids[MAX_WORKERS];
	for (int w = 0; w < workers; w++) {
		pids[w] = fork();
		if (pids[w] == -1)
			die("fork", "worker", strerror(errno), NULL);
		if (pids[w] == 0) {
			if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL) == -1)
				die("prctl", "PR_SET_PDEATHSIG", strerror(errno), NULL);
			if (getppid() != parent)
				_exit(1); /* the parent died before prctl: nobody waits for us */
			work(bank, w);
			exit(0);
		}
	}

	/* Step 4: reap them. A killed worker is the lesson; a failed one said why. */
	int killed = 0, failed = 0, status;
	for (int w = 0; w < workers; w++) {
		if (waitpid(pids[w], &status, 0) == -1) /* no handlers: no EINTR */
			die("waitpid", "worker", strerror(errno), NULL);
		killed += WIFSIGNALED(status);
		failed += WIFEXITED(status) && WEXITSTATUS(status) != 0;
	}
	if (failed)
		return 1;

	/* Step 5: lock (if the last holder died, we repair), then check: each transfer moved 1. */
	kill_recoverer = 0; /* -r kills a worker, never the parent */
	lock(bank);
	long count = bank->books.done, *account = bank->books.account;
	if (account[0] != TOTAL / 2 + count || account[0] + account[1] != TOTAL)
		die("check", "accounts", "they do not match the transfers counted",
		    "a transfer was lost");
	printf("%d worker%s", workers, workers == 1 ? "" : "s");
	if (killed)
		printf(" (%d killed)", killed);
	printf(", %ld transfers, accounts sum to %d (as they should)\n", count, TOTAL);
	/* printf only fills a buffer: the output is written (or fails, on a
	 * full disk or /dev/full) when it is flushed, or earlier, at a
	 * newline, and then only the stream's error flag remembers it (musl). */
	if (fflush(stdout) == EOF || ferror(stdout))
		die("fflush", "standard output", strerror(errno), NULL);
	return 0;
}

/* A transfer moves 1 from account 1 to account 0 under the lock, journalled. */
static void work(struct bank *bank, int worker)
{
	for (long i = 1; i <= transfers; i++) {
		lock(bank);
		bank->journal = bank->books;
		atomic_store(&bank->active, 1); /* after the journal, before the first change */
		bank->books.account[1]--;
		if (worker == 0 && i == kill_at)
			raise(SIGKILL); /* -k: die between debit and credit */
		bank->books.account[0]++;
		bank->books.done++;
		atomic_store(&bank->active, 0);
		(void)pthread_mutex_unlock(&bank->lock); /* we hold it: cannot fail */
	}
}

/* Lock, in 1 s slices (README: a holder's death may leave a waiter asleep).
 * EOWNERDEAD: the lock is ours, the books maybe half-updated: restore them. */
static void lock(struct bank *bank)
{
	struct timespec deadline;
	int error;
	do {
		(void)clock_gettime(CLOCK_REALTIME, &deadline); /* a valid clock: cannot fail */
		deadline.tv_sec += 1;
		error = pthread_mutex_timedlock(&bank->lock, &deadline);
	} while (error == ETIMEDOUT && !stalled); /* -s: a dead holder's lock stays locked */
	const char *fix = error == ETIMEDOUT ? "its holder died: a default mutex never recovers"
	    : error == ENOTRECOVERABLE ? "an owner died and nobody called pthread_mutex_consistent"
	    : NULL;
	if (error != 0 && error != EOWNERDEAD)
		die("pthread_mutex_timedlock", "the accounts' lock",
		    error == ETIMEDOUT ? "still held after 1 s" : strerror(error), fix);
	int dead = atomic_exchange(&bank->holder, (int)getpid());
	if (error == 0)
		return;
	int active = atomic_load(&bank->active);
	if (active) /* twice is harmless: a recoverer that dies leaves it to the next */
		bank->books = bank->journal;
	if (kill_recoverer && atomic_fetch_add(&bank->recoveries, 1) == 0)
		raise(SIGKILL); /* -r: the first recoverer dies before it is done */
	atomic_store(&bank->active, 0);
	fprintf(stderr, "%s: worker %d died holding the lock %s\n", PROGRAM, dead, active
		? "in mid-transfer; rolled it back" : "between transfers; nothing to repair");
	/* consistent repairs nothing: it says we did. -u unlocks without it: later locks fail. */
	const char *call = skip_consistent ? "pthread_mutex_unlock" : "pthread_mutex_consistent";
	error = skip_consistent ? pthread_mutex_unlock(&bank->lock)
				: pthread_mutex_consistent(&bank->lock);
	if (error != 0)
		die(call, "the accounts' lock", strerror(error), NULL);
	if (skip_consistent)
		lock(bank);
}

/* Below: the options and the error line. */

/* A whole decimal number from 1 to MAX_TRANSFERS, or 0. */
static int parse(const char *text)
{
	char *end;
	long value = strtol(text, &end, 10); /* no digits: 0; too large: LONG_MAX */
	return *end != '\0' || value < 1 || value > MAX_TRANSFERS ? 0 : (int)value;
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
