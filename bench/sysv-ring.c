/*
 * sysv-ring.c: 07's bounded buffer the System V way. The slots live in a
 * shmget segment, and the counts of free and used slots of each direction
 * in one System V semaphore set of four: semop(free, -1), fill the slot,
 * semop(used, +1); the consumer mirrors that.
 *
 * Every semop is a system call, even when it need not wait (POSIX
 * semaphores stay in user space then): that is the difference this row
 * shows. So there is no spin before sleeping either; it would only add
 * system calls. The segment is marked for removal as soon as it is
 * attached (the fork attaches B too, and it goes with the last detach);
 * the semaphore set has no such mode and lives until the pair is done, or
 * until clean_up removes it. A segment takes no space in /dev/shm: Linux
 * charges its memory at shmget, which fails instead of a later SIGBUS.
 */
#include "ipc-bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* semctl's fourth argument: the caller defines it (POSIX says so). */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* Semaphore of direction d (0: A to B): free slots, then used slots. */
static unsigned short free_sem(int d) { return (unsigned short)(2 * d); }
static unsigned short used_sem(int d) { return (unsigned short)(2 * d + 1); }

static void sysv_ring_create(struct chan *c)
{
	ring_layout(c);
	size_t bytes = 2 * c->ring_bytes;
	int id = shmget(IPC_PRIVATE, bytes, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1)
		die("shmget", "IPC_PRIVATE", strerror(errno),
		    errno == EINVAL ? "larger than shmmax, on Linux /proc/sys/kernel/shmmax" : NULL);
	sysv_shm = id;
	void *region = shmat(id, NULL, 0);
	if (region == (void *)-1)
		die("shmat", "IPC_PRIVATE", strerror(errno), NULL);
	if (shmctl(id, IPC_RMID, NULL) == -1)
		die("shmctl", "IPC_RMID", strerror(errno), NULL);
	sysv_shm = -1;
	ring_map(c, region);
	c->semid = semget(IPC_PRIVATE, 4, IPC_CREAT | IPC_EXCL | 0600);
	if (c->semid == -1)
		die("semget", "IPC_PRIVATE", strerror(errno), NULL);
	sysv_sem = c->semid;
}

/* A sets the counts for this phase's capacity; B waits for its command. */
static void sysv_ring_begin(struct chan *c, size_t bytes)
{
	ring_reset(c, bytes);
	if (c->side != 0)
		return;
	unsigned short capacity = (unsigned short)(c->mask + 1); /* at most MAX_SLOTS */
	unsigned short counts[4] = { capacity, 0, capacity, 0 };
	if (semctl(c->semid, 0, SETALL, (union semun){ .array = counts }) == -1)
		die("semctl", "SETALL", strerror(errno), NULL);
}

static void change(struct chan *c, unsigned short sem, short by)
{
	struct sembuf op = { .sem_num = sem, .sem_op = by, .sem_flg = 0 };
	for (;;) {
		c->syscalls++;
		if (semop(c->semid, &op, 1) == 0)
			return;
		if (errno != EINTR)
			die("semop", c->mech->name, strerror(errno), NULL);
	}
}

static void *sysv_ring_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	change(c, free_sem(c->side), -1);
	return ring_message(c);
}

static void sysv_ring_send(struct chan *c, size_t bytes)
{
	ring_store(c, bytes);
	slot(c, c->tx, c->head++)->length = (uint32_t)bytes;
	change(c, used_sem(c->side), 1);
}

static const void *sysv_ring_recv(struct chan *c, size_t bytes)
{
	change(c, used_sem(1 - c->side), -1);
	return checked_message(c, bytes);
}

static void sysv_ring_release(struct chan *c)
{
	c->tail++;
	change(c, free_sem(1 - c->side), 1);
}

static void sysv_ring_destroy(struct chan *c)
{
	free(c->sbuf);
	if (shmdt(c->region) == -1)
		die("shmdt", c->mech->name, strerror(errno), NULL);
	if (semctl(c->semid, 0, IPC_RMID) == -1)
		die("semctl", "IPC_RMID", strerror(errno), NULL);
	sysv_sem = -1;
}

const struct mechanism mech_sysv_ring = {
	.name = "sysv-sem-ring",
	.counts_syscalls = 1,
	.ring = 1,
	.create = sysv_ring_create,
	.begin = sysv_ring_begin,
	.send_buf = sysv_ring_send_buf,
	.send = sysv_ring_send,
	.recv = sysv_ring_recv,
	.release = sysv_ring_release,
	.destroy = sysv_ring_destroy,
};
