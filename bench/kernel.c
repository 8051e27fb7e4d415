/*
 * kernel.c: the transports that copy through the kernel by descriptor:
 * pipe, FIFO, Unix stream, datagram and sequenced-packet socket pairs,
 * and TCP on loopback for contrast. Byte streams have no message
 * boundaries, so a receiver reads exactly one message; the two message
 * sockets send and receive one message per call, its length checked.
 */
#include "ipc-bench.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_DATAGRAM = 64 << 10 };

void fd_alloc(struct chan *c)
{
	c->sbuf = alloc_buffer(c->max_bytes);
	c->rbuf = alloc_buffer(c->max_bytes + c->fragment);
}

void fd_destroy(struct chan *c)
{
	free(c->sbuf);
	free(c->rbuf);
}

void *fd_send_buf(struct chan *c, size_t bytes)
{
	(void)bytes;
	return c->sbuf;
}

static void stream_send(struct chan *c, size_t bytes)
{
	const char *p = c->sbuf;
	while (bytes > 0) {
		c->syscalls++;
		ssize_t n = write(c->out, p, bytes);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("write", c->mech->name, strerror(errno), NULL);
		p += n;
		bytes -= (size_t)n;
	}
}

/* A byte stream has no message boundaries: read exactly one message. */
static const void *stream_recv(struct chan *c, size_t bytes)
{
	for (size_t got = 0; got < bytes;) {
		c->syscalls++;
		ssize_t n = read(c->in, c->rbuf + got, bytes - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read", c->mech->name, strerror(errno), NULL);
		if (n == 0)
			die("read", c->mech->name, "unexpected end of file", NULL);
		got += (size_t)n;
	}
	return c->rbuf;
}

static void pipe_create(struct chan *c)
{
	int ab[2], ba[2];
	if (pipe(ab) == -1 || pipe(ba) == -1)
		die("pipe", "pipe", strerror(errno), NULL);
	c->end[0].in = ba[0], c->end[0].out = ab[1];
	c->end[1].in = ab[0], c->end[1].out = ba[1];
	fd_alloc(c);
}

/* Both ends of a FIFO are opened here, the read end first and without
 * waiting, so that the name can be removed before the fork. */
static int open_fifo(int slot, const char *what, int *write_end)
{
	const char *path = name_for(slot, NAME_PATH, what);
	if (mkfifo(path, 0600) == -1)
		die("mkfifo", path, strerror(errno), NULL);
	name_pending(slot, NAME_PATH);
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	if (rd == -1)
		die("open", path, strerror(errno), NULL);
	*write_end = open(path, O_WRONLY | O_NOFOLLOW);
	if (*write_end == -1)
		die("open", path, strerror(errno), NULL);
	if (fcntl(rd, F_SETFL, 0) == -1)
		die("fcntl", path, strerror(errno), NULL);
	name_pending(slot, NAME_NONE);
	if (unlink(path) == -1)
		die("unlink", path, strerror(errno), NULL);
	return rd;
}

static void fifo_create(struct chan *c)
{
	c->end[1].in = open_fifo(0, "ab.fifo", &c->end[0].out);
	c->end[0].in = open_fifo(1, "ba.fifo", &c->end[1].out);
	fd_alloc(c);
}

static void socketpair_create(struct chan *c, int type)
{
	int sv[2];
	if (socketpair(AF_UNIX, type, 0, sv) == -1)
		die("socketpair", "AF_UNIX", strerror(errno), NULL);
	c->end[0].in = c->end[0].out = sv[0];
	c->end[1].in = c->end[1].out = sv[1];
	fd_alloc(c);
}

static void unix_stream_create(struct chan *c)
{
	socketpair_create(c, SOCK_STREAM);
}

/* A datagram is one message: one send, one recv, and its length checked.
 * A sequenced packet is too, on a connection, delivered in order. The
 * send buffer must hold a whole one: its ceiling (/proc/sys/net/core/
 * wmem_max) is 208 KiB by default, so a message over 64 KiB travels as
 * several, on every machine alike. */
static void message_socket_create(struct chan *c, int type)
{
	c->fragment = c->max_bytes < MAX_DATAGRAM ? c->max_bytes : MAX_DATAGRAM;
	socketpair_create(c, type);
	int size = (int)c->fragment * 4 + 4096;
	for (int i = 0; i < 2; i++)
		if (setsockopt(c->end[i].out, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == -1)
			die("setsockopt", "SO_SNDBUF", strerror(errno), NULL);
}

static void unix_dgram_create(struct chan *c)
{
	message_socket_create(c, SOCK_DGRAM);
}

static void unix_seqpacket_create(struct chan *c)
{
	message_socket_create(c, SOCK_SEQPACKET);
}

/* One message as datagrams (or packets) of at most c->fragment bytes. */
static void dgram_send(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t part = bytes - off < c->fragment ? bytes - off : c->fragment;
		ssize_t n;
		do {
			c->syscalls++;
			n = send(c->out, c->sbuf + off, part, 0);
		} while (n == -1 && errno == EINTR);
		if (n == -1)
			die("send", c->mech->name, strerror(errno), NULL);
		if ((size_t)n != part)
			die("send", c->mech->name, "datagram cut short", NULL);
	}
}

static const void *dgram_recv(struct chan *c, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += c->fragment) {
		size_t part = bytes - off < c->fragment ? bytes - off : c->fragment;
		ssize_t n;
		do {
			c->syscalls++;
			/* room for a whole fragment: a longer one is an error, not cut */
			n = recv(c->in, c->rbuf + off, c->fragment, 0);
		} while (n == -1 && errno == EINTR);
		if (n == -1)
			die("recv", c->mech->name, strerror(errno), NULL);
		if ((size_t)n != part)
			die("recv", c->mech->name, "datagram of the wrong length", NULL);
	}
	return c->rbuf;
}

/* TCP on loopback: connect completes from the listen backlog, so one
 * process can make both ends before the fork. */
static void tcp_create(struct chan *c)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof addr;
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener == -1)
		die("socket", "tcp", strerror(errno), NULL);
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (client == -1)
		die("socket", "tcp", strerror(errno), NULL);
	if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
	    listen(listener, 1) == -1 ||
	    getsockname(listener, (struct sockaddr *)&addr, &len) == -1 ||
	    connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
		die("connect", "127.0.0.1", strerror(errno), NULL);
	int server = accept(listener, NULL, NULL);
	if (server == -1)
		die("accept", "127.0.0.1", strerror(errno), NULL);
	if (close(listener) == -1)
		die("close", "tcp listener", strerror(errno), NULL);
	/* Without TCP_NODELAY, Nagle holds a small message back for the ACK
	 * of the previous one: that would measure a timer, not TCP. */
	int one = 1;
	if (setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
	    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
		die("setsockopt", "TCP_NODELAY", strerror(errno), NULL);
	c->end[0].in = c->end[0].out = client;
	c->end[1].in = c->end[1].out = server;
	fd_alloc(c);
}


#define FD_MECHANISM(NAME, NOTE, CREATE, SEND, RECV)                         \
	{ .name = (NAME), .note = (NOTE), .counts_syscalls = 1, .create = (CREATE), \
	  .send_buf = fd_send_buf, .send = (SEND), .recv = (RECV),              \
	  .release = no_release, .destroy = fd_destroy }

#define SPLIT "messages over 64 KiB travel as several, rows marked *"

const struct mechanism mech_pipe = FD_MECHANISM("pipe", NULL, pipe_create, stream_send, stream_recv);
const struct mechanism mech_fifo = FD_MECHANISM("fifo", NULL, fifo_create, stream_send, stream_recv);
const struct mechanism mech_unix_stream =
	FD_MECHANISM("unix-stream", NULL, unix_stream_create, stream_send, stream_recv);
const struct mechanism mech_unix_dgram =
	FD_MECHANISM("unix-dgram", SPLIT, unix_dgram_create, dgram_send, dgram_recv);
const struct mechanism mech_unix_seqpacket =
	FD_MECHANISM("unix-seqpacket", SPLIT, unix_seqpacket_create, dgram_send, dgram_recv);
const struct mechanism mech_tcp = FD_MECHANISM("tcp", NULL, tcp_create, stream_send, stream_recv);
