/*
 * 14-robust-mutex: a lock whose holder dies. Workers forked over one
 * anonymous shared mapping move money between two accounts under one
 * process-shared robust mutex, writing an undo journal before each
 * transfer. When a worker dies holding the lock, the next one to lock it
 * gets EOWNERDEAD, rolls the half-done transfer back from the journal,
 * calls pthread_mutex_consistent and carries on.
 *
 *   ./14-robust-mutex -k 5       # worker 1 dies inside its 5th transfer
 *   ./14-robust-mutex -s -k 5    # a default mutex: the others are stuck
 *
 * Watch for: the parent's last line, the count of transfers and the sum of
 * the accounts, is exact however the workers die. POSIX.1-2008; not on
 * macOS, which has no robust mutexes. Tested on Linux, glibc and musl.
 */
#define _POSIX_C_SOURCE 200809L
/* MAP_ANONYMOUS joined POSIX only in 2024: glibc and musl declare it for
 * _DEFAULT_SOURCE. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "14-robust-mutex"
#define USAGE "usage: 14-robust-mutex [-w WORKERS] [-n TRANSFERS] [-k K] [-r] [-s] [-u]   (default: 4 workers, 10000 transfers each)"
enum { MAX_WORKERS = 64, MAX_TRANSFERS = 1000000, TOTAL = 1000000, STALL_SECONDS = 1 };

/* All the workers share this, and the parent reads it at the end. */
struct bank {
	pthread_mutex_t lock;
	long account[2];          /* their sum is TOTAL, except inside a transfer */
	long done[MAX_WORKERS];   /* transfers each worker completed */
	struct {                  /* the transfer in progress: what to undo */
		atomic_int holder;    /* pid of the process holding the lock */
		atomic_int active;    /* 1 from before the first change to after the last */
		long account[2], done;
		int worker;
	} journal;
	atomic_int recoveries;
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

static int parse(const char *text, long low, long high);
static void work(struct bank *bank, int worker, long transfers);
static void lock(struct bank *bank);
static void recover(struct bank *bank, int dead);
static long amount(long transfer);
static _Noreturn void die(const char *call, const char *object, const char *reason, const char *fix);
static int reap(pid_t child);
static void catch_stop_signals(void);

static int workers = 4, kill_at, kill_recoverer, stalled, skip_consistent, in_worker;
static volatile sig_atomic_t started; /* how many of pids[] are running */
static pid_t pids[MAX_WORKERS];

int main(int argc, char *argv[])
{
	long transfers = 10000;
	int option;
	while ((option = getopt(argc, argv, ":w:n:k:rsu")) != -1) {
		if (option == 'w' && (workers = parse(optarg, 1, MAX_WORKERS)) == 0)
			option = '?';
		if (option == 'n' && (transfers = parse(optarg, 1, MAX_TRANSFERS)) == 0)
			option = '?';
		if (option == 'k' && (kill_at = parse(optarg, 1, MAX_TRANSFERS)) == 0)
			option = '?';
		kill_recoverer |= option == 'r';
		stalled |= option == 's';
		skip_consistent |= option == 'u';
		if (option == '?' || option == ':')
			break;
	}
	if (option != -1 || optind != argc || kill_at > transfers) {
		fprintf(stderr, "%s\n", USAGE);
		return 2;
	}
	/* Workers die at the same moment: a line each, written whole (stderr
	 * is unbuffered, and die writes it a character at a time). */
	static char line_buffer[8192];
	if (setvbuf(stderr, line_buffer, _IOLBF, sizeof line_buffer) != 0)
		die("setvbuf", "standard error", "failed", NULL);
	catch_stop_signals();

	/* Step 1: memory that fork shares: MAP_SHARED | MAP_ANONYMOUS has no
	 * name, so nothing can leak, and it goes with the last process. */
	int flags = MAP_SHARED | MAP_ANONYMOUS;
	/* cppcheck-suppress invalidFunctionArg ; no file: fd -1, which some systems require (mmap(2)) */
	struct bank *bank = mmap(NULL, sizeof *bank, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (bank == MAP_FAILED)
		die("mmap", "MAP_SHARED | MAP_ANONYMOUS", strerror(errno), NULL);
	bank->account[0] = bank->account[1] = TOTAL / 2;

	/* Step 2: one mutex for all processes (PTHREAD_PROCESS_SHARED), robust
	 * unless -s. PTHREAD_MUTEX_ROBUST may be an enum constant, so never
	 * test it with #ifdef: that would compile the robustness away. */
	pthread_mutexattr_t attributes;
	int error = pthread_mutexattr_init(&attributes);
	if (error == 0)
		error = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
	if (error == 0 && !stalled)
		error = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
	if (error == 0)
		error = pthread_mutex_init(&bank->lock, &attributes);
	if (error != 0)
		die("pthread_mutex_init", "the accounts' lock", strerror(error), NULL);
	(void)pthread_mutexattr_destroy(&attributes); /* the mutex keeps what it needs */

	/* Step 3: fork the workers, the stop signals held back meanwhile so
	 * that a handler always knows every worker's pid. */
	sigset_t all, old;
	sigfillset(&all);
	for (int w = 0; w < workers; w++) {
		if (sigprocmask(SIG_BLOCK, &all, &old) == -1)
			die("sigprocmask", "SIG_BLOCK", strerror(errno), NULL);
		pid_t pid = fork();
		if (pid == -1)
			die("fork", "worker", strerror(errno), NULL);
		if (pid == 0) {
			started = 0; /* a worker's stop signal kills only itself */
			in_worker = 1;
			if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
				die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
			work(bank, w, transfers);
			exit(0);
		}
		pids[started++] = pid;
		if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
			die("sigprocmask", "SIG_SETMASK", strerror(errno), NULL);
	}

	/* Step 4: reap them all. A killed worker is part of the lesson; one
	 * that failed has said why. */
	int killed = 0, failed = 0;
	for (int w = 0; w < workers; w++) {
		int status = reap(pids[w]);
		killed += WIFSIGNALED(status);
		failed += WIFEXITED(status) && WEXITSTATUS(status) != 0;
	}
	started = 0;
	if (failed)
		return 1;

	/* Step 5: check what the lock protected, under the lock: the last
	 * worker may have died holding it, with nobody left to repair. Every
	 * counted transfer is in the accounts and no other: replay and compare. */
	lock(bank);
	long expected = TOTAL / 2, count = 0;
	for (int w = 0; w < workers; w++) {
		for (long i = 1; i <= bank->done[w]; i++)
			expected += i % 2 ? amount(i) : -amount(i);
		count += bank->done[w];
	}
	if (bank->account[0] != expected || bank->account[0] + bank->account[1] != TOTAL)
		die("check", "accounts", "they do not match the transfers counted", "a transfer was lost");
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

/* One worker: TRANSFERS transfers, each entirely under the lock. The
 * journal is written before the first change and closed after the last,
 * so whoever finds it open knows exactly what to undo. */
static void work(struct bank *bank, int worker, long transfers)
{
	for (long i = 1; i <= transfers; i++) {
		int from = i % 2 ? 1 : 0; /* odd transfers move money to account 0 */
		lock(bank);
		bank->journal.account[0] = bank->account[0];
		bank->journal.account[1] = bank->account[1];
		bank->journal.done = bank->done[worker];
		bank->journal.worker = worker;
		atomic_store(&bank->journal.active, 1);
		bank->account[from] -= amount(i);
		if (worker == 0 && i == kill_at)
			raise(SIGKILL); /* -k: die between debit and credit */
		bank->account[!from] += amount(i);
		bank->done[worker]++;
		atomic_store(&bank->journal.active, 0);
		int error = pthread_mutex_unlock(&bank->lock);
		if (error != 0)
			die("pthread_mutex_unlock", "the accounts' lock", strerror(error), NULL);
	}
}

/* Lock, and if the holder died, repair before going on. A default mutex
 * (-s) whose holder died stays locked for ever: wait a bounded time. */
static void lock(struct bank *bank)
{
	int error;
	/* -u: musl does not always wake the waiters when a mutex becomes
	 * unrecoverable (2 runs in 40 hung here), so wait in 1 s slices. */
	if (stalled || skip_consistent) {
		do {
			struct timespec deadline;
			if (clock_gettime(CLOCK_REALTIME, &deadline) == -1)
				die("clock_gettime", "CLOCK_REALTIME", strerror(errno), NULL);
			deadline.tv_sec += STALL_SECONDS;
			error = pthread_mutex_timedlock(&bank->lock, &deadline);
		} while (error == ETIMEDOUT && skip_consistent);
		if (error == ETIMEDOUT)
			die("pthread_mutex_timedlock", "the accounts' lock", "still held after 1 s",
			    "its holder died: a default mutex never recovers");
	} else {
		error = pthread_mutex_lock(&bank->lock);
	}
	if (error == ENOTRECOVERABLE)
		die("pthread_mutex_lock", "the accounts' lock", strerror(error),
		    "an owner died and nobody called pthread_mutex_consistent");
	if (error != 0 && error != EOWNERDEAD)
		die("pthread_mutex_lock", "the accounts' lock", strerror(error), NULL);
	int dead = atomic_exchange(&bank->journal.holder, (int)getpid());
	if (error == EOWNERDEAD)
		recover(bank, dead);
}

/* EOWNERDEAD: we hold the lock, and the data may be half-updated. Undo
 * from the journal (undoing twice is harmless, so a recoverer that dies
 * here leaves a job the next one can do), then declare the data repaired:
 * pthread_mutex_consistent repairs nothing itself. Without it, the next
 * unlock makes the mutex ENOTRECOVERABLE for everyone (-u shows it). */
static void recover(struct bank *bank, int dead)
{
	int active = atomic_load(&bank->journal.active);
	if (active) {
		bank->account[0] = bank->journal.account[0];
		bank->account[1] = bank->journal.account[1];
		bank->done[bank->journal.worker] = bank->journal.done;
	}
	if (kill_recoverer && in_worker && atomic_fetch_add(&bank->recoveries, 1) == 0)
		raise(SIGKILL); /* -r: the first recoverer dies before it is done */
	atomic_store(&bank->journal.active, 0);
	fprintf(stderr, "%s: worker %d died holding the lock %s\n", PROGRAM, dead,
		active ? "in mid-transfer; rolled it back" : "between transfers; nothing to repair");
	if (skip_consistent) {
		int error = pthread_mutex_unlock(&bank->lock);
		if (error != 0)
			die("pthread_mutex_unlock", "the accounts' lock", strerror(error), NULL);
		lock(bank); /* ENOTRECOVERABLE, now and for everyone */
	}
	int error = pthread_mutex_consistent(&bank->lock);
	if (error != 0)
		die("pthread_mutex_consistent", "the accounts' lock", strerror(error), NULL);
}

/* The amount of a worker's transfer number i: the same in every worker,
 * so the parent can replay the counts. */
static long amount(long transfer)
{
	return 1 + transfer * 37 % 100;
}

/* Below: the options, the error line, and what stops the workers when the
 * parent is stopped. */

/* A whole decimal number from low to high, or 0. */
static int parse(const char *text, long low, long high)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < low || value > high)
		return 0;
	return (int)value;
}

/* One line on stderr, "program: call object: reason (fix)", then exit 1.
 * The object may come from the command line: a control byte in the line
 * is shown as \ooo, so that no name can forge a second line. */
static _Noreturn void die(const char *call, const char *object,
			  const char *reason, const char *fix)
{
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s%s%s%s", PROGRAM, call,
		       object, reason, fix ? " (" : "", fix ? fix : "", fix ? ")" : "");
	for (const char *c = line; *c != '\0'; c++) {
		if ((unsigned char)*c < ' ' || *c == '\177')
			(void)fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr);
	}
	(void)putc('\n', stderr);
	exit(1);
}

/* Wait for the child, retrying after a signal; its status as waitpid
 * gives it. */
static int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	return status;
}

/* The workers have nothing to clean up, so SIGKILL: it also ends a
 * stopped one, so the wait that reaps it always returns. kill and
 * waitpid are async-signal-safe. */
static void clean_up(void)
{
	for (int w = 0; w < started; w++)
		(void)kill(pids[w], SIGKILL); /* it can only be gone already */
	for (int w = 0; w < started; w++)
		while (waitpid(pids[w], NULL, 0) == -1 && errno == EINTR)
			continue;
	started = 0;
}

/* Every signal whose default action ends the process and that can be
 * caught: each runs clean_up, then kills us as it would have. */
static const int stop_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
	SIGUSR1, SIGSEGV, SIGUSR2, SIGALRM, SIGTERM, SIGXCPU, SIGVTALRM,
	SIGPROF, SIGSYS, SIGPOLL,
#ifdef SIGSTKFLT
	SIGSTKFLT, /* Linux */
#endif
#ifdef SIGPWR
	SIGPWR, /* Linux */
#endif
};

/* A stop signal: clean up, then die of the same signal, so that the shell
 * sees how we ended. signal and raise are async-signal-safe. */
static void on_stop_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch every stop signal, the real-time ones included (their default
 * action ends the process too); ignore SIGPIPE and SIGXFSZ. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigfillset(&sa.sa_mask); /* no second signal interrupts clean_up */
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		if (sigaction(stop_signals[i], &sa, NULL) == -1)
			die("sigaction", "stop signals", strerror(errno), NULL);
	/* EINVAL: a signal that a tool keeps for itself (valgrind: SIGRTMAX). */
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			die("sigaction", "real-time signals", strerror(errno), NULL);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		die("signal", "SIGPIPE/SIGXFSZ", strerror(errno), NULL);
}
