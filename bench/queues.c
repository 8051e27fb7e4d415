/*
 * queues.c: System V and POSIX message queues. A message larger than the
 * queue allows travels as several queue messages (fragments), each its
 * own system call. Unprivileged users are held to the limits in /proc, and
 * the figures should be the ones every user gets, so root is held to them
 * too.
 */
#include "ipc-bench.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

/* A limit from /proc, or fallback if it cannot be read or is no positive
 * number (strtol, unlike fscanf, says when the text is not one). */
static long read_limit(const char *path, long fallback)
{
	char text[32];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fallback;
	char *line = fgets(text, sizeof text, f);
	(void)fclose(f); /* read only: nothing to lose */
	if (line == NULL)
		return fallback;
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || value <= 0)
		return fallback;
	return value;
}

struct sysv_msg {
	long type;
	char data[]; /* msgsnd wants the payload right after the type */
};

static void sysv_create(struct chan *c)
{
	long msgmax = read_limit("/proc/sys/kernel/msgmax", 8192);
	c->fragment = c->max_bytes < (size_t)msgmax ? c->max_bytes : (size_t)msgmax;
	for (int i = 0; i < 2; i++) {
		sysv_queue[i] = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
		if (sysv_queue[i] == -1)
			die("msgget", "IPC_PRIVATE", strerror(errno), NULL);
	}
	/* The payload starts at a cache line; the type sits just before it. */
	c->sbuf = (char *)alloc_buffer(LINE + c->max_bytes) + LINE;
	c->rbuf = (char *)alloc_buffer(LINE + c->max_bytes) + LINE;
}

static struct sysv_msg *sysv_header(char *payload)
{
	return (struct sysv_msg *)(void *)(payload - sizeof(long));
}

static void sysv_send(struct chan *c, size_t bytes)
{
	int q = sysv_queue[c->side];
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		/* A fragment after the first borrows the 8 bytes before it for
		 * the type; those belong to a fragment already sent. */
		struct sysv_msg *m = sysv_header(c->sbuf + off);
		long saved = m->type;
		m->type = 1;
		int rc;
		do {
			c->syscalls++;
			rc = msgsnd(q, m, n, 0);
		} while (rc == -1 && errno == EINTR);
		m->type = saved;
		if (rc == -1)
			die("msgsnd", "sysv-mq", strerror(errno), NULL);
	}
}

static const void *sysv_recv(struct chan *c, size_t bytes)
{
	int q = sysv_queue[1 - c->side];
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		struct sysv_msg *m = sysv_header(c->rbuf + off);
		long saved = m->type; /* the tail of the previous fragment */
		ssize_t got;
		do {
			c->syscalls++;
			got = msgrcv(q, m, n, 0, 0);
		} while (got == -1 && errno == EINTR);
		if (got == -1)
			die("msgrcv", "sysv-mq", strerror(errno), NULL);
		m->type = saved;
		if ((size_t)got != n)
			die("msgrcv", "sysv-mq", "message of the wrong length", NULL);
	}
	return c->rbuf;
}

static void posix_mq_create(struct chan *c)
{
	long msg_max = read_limit("/proc/sys/fs/mqueue/msg_max", 10);
	long msgsize_max = read_limit("/proc/sys/fs/mqueue/msgsize_max", 8192);
	c->fragment = c->max_bytes < (size_t)msgsize_max ? c->max_bytes : (size_t)msgsize_max;
	struct mq_attr attr = { .mq_maxmsg = msg_max < 10 ? msg_max : 10,
				.mq_msgsize = (long)c->fragment };
	const char *what[2] = { "ab", "ba" };
	for (int i = 0; i < 2; i++) {
		const char *name = name_for(i, NAME_MQ, what[i]);
		c->mq[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
		if (c->mq[i] == (mqd_t)-1)
			die("mq_open", name, strerror(errno), NULL);
		name_pending(i, NAME_MQ);
	}
	for (int i = 0; i < 2; i++) {
		const char *name = name_for(i, NAME_MQ, what[i]);
		name_pending(i, NAME_NONE);
		if (mq_unlink(name) == -1)
			die("mq_unlink", name, strerror(errno), NULL);
	}
	fd_alloc(c);
}

static void posix_mq_send(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		int rc;
		do {
			c->syscalls++;
			rc = mq_send(c->mq[c->side], c->sbuf + off, n, 0);
		} while (rc == -1 && errno == EINTR);
		if (rc == -1)
			die("mq_send", "posix-mq", strerror(errno), NULL);
	}
}

static const void *posix_mq_recv(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t n = bytes - off < c->fragment ? bytes - off : c->fragment;
		ssize_t got;
		do {
			c->syscalls++;
			/* mq_receive wants room for the largest message: rbuf has
			 * one fragment of slack at its end. */
			got = mq_receive(c->mq[1 - c->side], c->rbuf + off, c->fragment, NULL);
		} while (got == -1 && errno == EINTR);
		if (got == -1)
			die("mq_receive", "posix-mq", strerror(errno), NULL);
		if ((size_t)got != n)
			die("mq_receive", "posix-mq", "message of the wrong length", NULL);
	}
	return c->rbuf;
}


/* A System V queue has no name: it lives until removed, here or by
 * clean_up if we are stopped first. */
static void sysv_destroy(struct chan *c)
{
	for (int i = 0; i < 2; i++) {
		if (msgctl(sysv_queue[i], IPC_RMID, NULL) == -1)
			die("msgctl", "IPC_RMID", strerror(errno), NULL);
		sysv_queue[i] = -1;
	}
	free(c->sbuf - LINE);
	free(c->rbuf - LINE);
}

static void posix_mq_destroy(struct chan *c)
{
	for (int i = 0; i < 2; i++)
		if (mq_close(c->mq[i]) == -1)
			die("mq_close", c->mech->name, strerror(errno), NULL);
	fd_destroy(c);
}

const struct mechanism mech_sysv_mq = {
	.name = "sysv-mq",
	.note = "messages over msgmax (/proc/sys/kernel/msgmax) travel as several queue messages, rows marked *",
	.counts_syscalls = 1,
	.create = sysv_create,
	.send_buf = fd_send_buf,
	.send = sysv_send,
	.recv = sysv_recv,
	.release = no_release,
	.destroy = sysv_destroy,
};

const struct mechanism mech_posix_mq = {
	.name = "posix-mq",
	.note = "messages over msgsize_max (/proc/sys/fs/mqueue) travel as several queue messages, rows marked *",
	.counts_syscalls = 1,
	.create = posix_mq_create,
	.send_buf = fd_send_buf,
	.send = posix_mq_send,
	.recv = posix_mq_recv,
	.release = no_release,
	.destroy = posix_mq_destroy,
};
