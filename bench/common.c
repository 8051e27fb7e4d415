/*
 * common.c: what every part of the benchmark leans on. The error line;
 * the cleanup of named and System V objects, on every exit and on every
 * catchable fatal signal; the partner process and the check that it really
 * ended; time, pinning, and the pattern every message carries.
 *
 * Names are removed as soon as both ends are open, so only a short window
 * holds a named object; System V queues, segments and semaphore sets have
 * no name to unlink and live until the pair is done. Only A removes.
 */
#include "ipc-bench.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void let_partner_speak_first(void);
static void clean_up(void);

/* One line on stderr, "program: call object: reason (fix)", then exit 1.
 * A control byte (a name may hold one) is shown as \ooo: no forged line. */
_Noreturn void die(const char *call, const char *object,
		   const char *reason, const char *fix)
{
	let_partner_speak_first();
	char line[4096];
	(void)snprintf(line, sizeof line, "%s: %s %s: %s%s%s%s", PROGRAM, call, object, reason,
		       fix ? " (" : "", fix ? fix : "", fix ? ")" : "");
	for (const char *c = line; *c != '\0'; c++) {
		if ((unsigned char)*c < ' ' || *c == '\177')
			fprintf(stderr, "\\%03o", (unsigned)(unsigned char)*c);
		else
			(void)putc(*c, stderr); /* stderr: nowhere to report a failure */
	}
	(void)putc('\n', stderr);
	exit(1);
}

/* A descriptor 0, 1 or 2 closed at our start is filled with /dev/null, opened
 * the other way round (using it still fails with EBADF): no queue, FIFO or
 * socket of ours can take its number and get our data or error lines. */
void hold_standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) == -1)
			exit(1); /* nowhere to say why: stderr may be closed */
}

/* --- cleanup ---------------------------------------------------------- */
static pid_t owner_pid;
static volatile pid_t child_pid;
static volatile sig_atomic_t child_may_exit = 1;
int sysv_queue[2] = { -1, -1 };
int sysv_shm = -1, sysv_sem = -1;
static char pending_name[2][64];
static volatile sig_atomic_t pending_kind[2];

/* Called on exit and from signal handlers: every call in it is
 * async-signal-safe except shm_unlink, mq_unlink, msgctl, shmctl and
 * semctl, which on Linux are each a single system call that takes no
 * user-space lock and allocates nothing. Each is best effort: there is
 * nobody left to tell of a failure. B ends too (PR_SET_PDEATHSIG), and may
 * end first, when its queue goes: that is no failure to report. */
static void clean_up(void)
{
	if (getpid() != owner_pid)
		return;
	child_may_exit = 1;
	for (int i = 0; i < 2; i++) {
		if (sysv_queue[i] != -1)
			(void)msgctl(sysv_queue[i], IPC_RMID, NULL); // NOLINT(bugprone-signal-handler,cert-sig30-c)
		sysv_queue[i] = -1;
		int kind = pending_kind[i];
		pending_kind[i] = NAME_NONE;
		if (kind == NAME_PATH)
			(void)unlink(pending_name[i]);
		else if (kind == NAME_SHM)
			(void)shm_unlink(pending_name[i]); // NOLINT(bugprone-signal-handler,cert-sig30-c)
		else if (kind == NAME_MQ)
			(void)mq_unlink(pending_name[i]); // NOLINT(bugprone-signal-handler,cert-sig30-c)
	}
	if (sysv_shm != -1)
		(void)shmctl(sysv_shm, IPC_RMID, NULL); // NOLINT(bugprone-signal-handler,cert-sig30-c)
	sysv_shm = -1;
	if (sysv_sem != -1)
		(void)semctl(sysv_sem, 0, IPC_RMID); // NOLINT(bugprone-signal-handler,cert-sig30-c)
	sysv_sem = -1;
}

/* 64 bytes hold the prefix, the longest pid and every what: no cut. */
const char *name_for(int slot, int kind, const char *what)
{
	const char *prefix = kind == NAME_PATH ? "/tmp/" : "/";
	(void)snprintf(pending_name[slot], sizeof pending_name[slot], "%sipc-bench-%ld-%s",
		       prefix, (long)getpid(), what);
	return pending_name[slot];
}

/* The name in slot exists now (kind), or no longer (NAME_NONE). */
void name_pending(int slot, int kind)
{
	pending_kind[slot] = kind;
}

/* A descriptor that fails to close was wrong to begin with: say so. */
void close_checked(int fd, const char *what)
{
	if (close(fd) == -1)
		die("close", what, strerror(errno), NULL);
}

/* --- the partner ------------------------------------------------------ */

/* A SIGCHLD says that some child changed state, or only that someone
 * sent one: the partner has ended only if waitpid says so. Then B has
 * said why on stderr already. waitpid is async-signal-safe; errno is
 * kept for the code the signal interrupted. */
static void on_partner_exit(int sig)
{
	(void)sig;
	int saved = errno, status;
	pid_t child = child_pid;
	if (child_may_exit || child == 0 || waitpid(child, &status, WNOHANG) != child) {
		errno = saved;
		return;
	}
	clean_up();
	static const char msg[] = PROGRAM ": the partner process ended during a measurement\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) == -1) {
		/* nothing more to try */
	}
	_exit(1);
}

/* When B fails (a wrong message, say), A's next call fails too (EPIPE,
 * end of file): B's message is the cause, A's only its echo. So before A
 * reports an error of its own, it gives B a moment to end; if B does,
 * on_partner_exit reports that instead, and the output says what happened. */
static void let_partner_speak_first(void)
{
	if (getpid() != owner_pid || child_pid == 0 || child_may_exit)
		return;
	struct timespec pause = { 0, 200L * 1000 * 1000 };
	(void)nanosleep(&pause, NULL); /* cut short by SIGCHLD: that is the point */
}

void watch_partner(void)
{
	owner_pid = getpid();
	struct sigaction sa = { .sa_handler = on_partner_exit, .sa_flags = SA_NOCLDSTOP };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		die("sigaction", "SIGCHLD", strerror(errno), NULL);
	if (atexit(clean_up) != 0)
		die("atexit", "clean_up", "failed", NULL);
}

/* fflush first, or both processes would flush what is buffered. In B, 0
 * is returned, pinned to cpu and bound to die with A; in A, B's pid. */
pid_t fork_partner(int cpu)
{
	if (fflush(NULL) == EOF)
		die("fflush", "standard output", strerror(errno), NULL);
	child_may_exit = 0;
	pid_t pid = fork();
	if (pid == -1)
		die("fork", "partner", strerror(errno), NULL);
	if (pid == 0) {
		/* B must not outlive A, whatever ends A. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			die("prctl", "PR_SET_PDEATHSIG", strerror(errno), NULL);
		if (getppid() != owner_pid)
			_exit(1);
		pin(cpu);
		return 0;
	}
	child_pid = pid;
	return pid;
}

/* B is told to end, or is about to: its end is no failure now. */
void partner_may_end(void)
{
	child_may_exit = 1;
}

/* Wait for the child, retrying after a signal; its status as waitpid
 * gives it. */
int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid", "child", strerror(errno), NULL);
	child_pid = 0;
	return status;
}

/* --- stop signals ----------------------------------------------------- */

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
void catch_stop_signals(void)
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

/* --- time, pinning, memory -------------------------------------------- */
uint64_t now_ns(void)
{
	struct timespec t;
	(void)clock_gettime(CLOCK_MONOTONIC, &t); /* fails only for an unknown clock */
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) == -1)
		die("sched_setaffinity", "CPU", strerror(errno), NULL);
}

void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

void *alloc_buffer(size_t bytes)
{
	void *p = aligned_alloc(LINE, round_line(bytes));
	if (p == NULL)
		die("aligned_alloc", "buffer", strerror(errno), NULL);
	memset(p, 0, bytes);
	return p;
}

/* ftruncate on tmpfs (/dev/shm) reserves nothing: the first store to a
 * page that cannot be had raises SIGBUS. Reserve the region's pages first,
 * so that a full file system is one error line. */
void reserve(int fd, const char *name, size_t bytes)
{
	int error = posix_fallocate(fd, 0, (off_t)bytes);
	if (error != 0)
		die("posix_fallocate", name, strerror(error), NULL);
}

/* --- the pattern ------------------------------------------------------
 * Word i of message seq holds seq * GOLDEN + i. Both loops work on two
 * words at a time in vector registers (GCC's vector extension, which clang
 * also has: SSE2 on x86-64, NEON on arm64), four vectors a cache line, so
 * that neither depends on the vectorizer, which -O2 runs only in its
 * cheapest form (gcc 12). bench/README.md says how that was checked. */
typedef uint64_t words __attribute__((vector_size(16)));

void fill(void *msg, size_t bytes, uint64_t seq)
{
	unsigned char *p = msg;
	uint64_t base = seq * GOLDEN;
	size_t n = bytes / 8, i = 0;
	words v = { base, base + 1 }, two = { 2, 2 };
	for (; i + 8 <= n; i += 8, p += 64) {
		words v1 = v + two, v2 = v1 + two, v3 = v2 + two;
		memcpy(p, &v, 16);
		memcpy(p + 16, &v1, 16);
		memcpy(p + 32, &v2, 16);
		memcpy(p + 48, &v3, 16);
		v = v3 + two;
	}
	for (; i < n; i++, p += 8) {
		uint64_t w = base + i;
		memcpy(p, &w, 8);
	}
}

void verify(const void *msg, size_t bytes, uint64_t seq)
{
	const unsigned char *p = msg;
	uint64_t base = seq * GOLDEN, rest = 0;
	size_t n = bytes / 8, i = 0;
	words v = { base, base + 1 }, two = { 2, 2 }, diff = { 0, 0 };
	for (; i + 8 <= n; i += 8, p += 64) {
		words w0, w1, w2, w3, v1 = v + two, v2 = v1 + two, v3 = v2 + two;
		memcpy(&w0, p, 16);
		memcpy(&w1, p + 16, 16);
		memcpy(&w2, p + 32, 16);
		memcpy(&w3, p + 48, 16);
		diff |= (w0 ^ v) | (w1 ^ v1) | (w2 ^ v2) | (w3 ^ v3);
		v = v3 + two;
	}
	for (; i < n; i++, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		rest |= w ^ (base + i);
	}
	if ((diff[0] | diff[1] | rest) != 0) {
		char what[64];
		(void)snprintf(what, sizeof what, "message %llu of %zu bytes", /* fits in 64 */
			       (unsigned long long)seq, bytes);
		die("verify", what, "wrong content on arrival", "the transport lost or corrupted data");
	}
}
