# shellcheck shell=bash
# 13-memfd-send / 13-memfd-recv: a sealed memfd passed over a Unix socket,
# checked by the receiver before it maps it read-only.

# fd_send PATH SIZE [FILE|@memfd]...: connect to PATH, send SIZE as the
# 8-byte size with one SCM_RIGHTS message carrying a descriptor for each
# FILE (@memfd: a sealed memfd of 10 bytes), then print the verdict byte.
# With no SIZE (-), connect and close. Built once per suite run.
fd_send() {
	if [ ! -x "$SHARED/fd-send" ]; then
		"${CC:-cc}" -std=c11 -O2 -x c -o "$SHARED/fd-send.$$" - <<-'EOF' || fail "cannot build fd-send"
			#define _GNU_SOURCE
			#include <fcntl.h>
			#include <stdint.h>
			#include <stdio.h>
			#include <stdlib.h>
			#include <string.h>
			#include <sys/mman.h>
			#include <sys/socket.h>
			#include <sys/un.h>
			#include <unistd.h>
			int main(int argc, char *argv[])
			{
				struct sockaddr_un address = { .sun_family = AF_UNIX };
				int sock = socket(AF_UNIX, SOCK_STREAM, 0), fds[4], count = argc - 3;
				strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
				if (sock == -1 || connect(sock, (struct sockaddr *)&address, sizeof address) == -1)
					return perror("connect"), 1;
				if (strcmp(argv[2], "-") == 0)
					return 0;
				for (int i = 0; i < count && i < 4; i++) {
					fds[i] = strcmp(argv[3 + i], "@memfd") ? open(argv[3 + i], O_RDONLY)
						: memfd_create("test", MFD_ALLOW_SEALING);
					if (fds[i] == -1)
						return perror(argv[3 + i]), 1;
					if (strcmp(argv[3 + i], "@memfd") == 0 && (write(fds[i], "0123456789", 10) != 10 ||
						fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == -1))
						return perror("memfd"), 1;
				}
				uint64_t size = strtoull(argv[2], NULL, 10);
				struct iovec iov = { .iov_base = &size, .iov_len = sizeof size };
				union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof fds)]; } control;
				memset(&control, 0, sizeof control);
				struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
				if (count > 0) {
					msg.msg_control = control.buf;
					msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
					struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
					cmsg->cmsg_level = SOL_SOCKET;
					cmsg->cmsg_type = SCM_RIGHTS;
					cmsg->cmsg_len = CMSG_LEN(count * sizeof(int));
					memcpy(CMSG_DATA(cmsg), fds, count * sizeof(int));
				}
				if (sendmsg(sock, &msg, MSG_NOSIGNAL) == -1)
					return perror("sendmsg"), 1;
				char answer = '?';
				if (read(sock, &answer, 1) < 0)
					return perror("read"), 1;
				printf("%c\n", answer);
				return 0;
			}
		EOF
		mv -f "$SHARED/fd-send.$$" "$SHARED/fd-send"
	fi
	"$SHARED/fd-send" "$@"
}

# listening PATH: a socket listens at PATH (flag __SO_ACCEPTCON; a stale
# socket file is not there: /proc/net/unix lists only live sockets).
listening() { awk -v path="$1" '$NF == path && $4 == "00010000" { found = 1 } END { exit !found }' /proc/net/unix; }
# start_receiver: a receiver on $T/s writing to $T/out; returns once it listens.
start_receiver() {
	spawn 13-memfd-recv "$T/s" > "$T/out" 2> "$T/rerr"
	receiver=$!
	wait_until listening "$T/s"
}
refused() { printf '13-memfd-recv: %s the passed descriptor: %s (refusing to map it)' "$@"; }

round_trip() {
	start_receiver
	run 13-memfd-send "$T/s" < "$1" 2> "$T/serr"
	finished $receiver 0
	same "$1" "$T/out"
	[ ! -s "$T/rerr" ] && [ ! -s "$T/serr" ] || fail "unexpected messages"
	[ ! -e "$T/s" ] || fail "the socket was left behind"
}

test_empty_input_gives_empty_output() {
	: > "$T/in"
	round_trip "$T/in"
}

test_text_survives() {
	printf 'sealed, then shared\n' > "$T/in"
	round_trip "$T/in"
}

test_binary_data_with_nul_bytes_survives() {
	round_trip "$(input many-slots 3000017)"
}

test_100_MB_go_through_one_descriptor() {
	round_trip "$(input big 100000000)"
}

test_an_unsealed_memfd_is_refused_and_the_sender_told() {
	start_receiver
	printf 'not sealed\n' > "$T/in"
	expect_status 1 run 13-memfd-send -u "$T/s" < "$T/in" 2> "$T/serr"
	finished $receiver 1
	stderr_is "$T/rerr" "$(refused fcntl 'F_GET_SEALS: not sealed against shrinking and writing')"
	stderr_is "$T/serr" "13-memfd-send: recv $T/s: the receiver refused the descriptor (it was sent unsealed, with -u)"
	[ ! -s "$T/out" ] || fail "unsealed data was written out"
}

test_a_regular_file_is_refused() {
	printf 'a plain file\n' > "$T/file"
	start_receiver
	fd_send "$T/s" 13 "$T/file" > "$T/verdict"
	finished $receiver 1
	if [ "$(stat -f -c %T "$T")" = tmpfs ]; then # a tmpfs file can be sealed, and is not
		stderr_is "$T/rerr" "$(refused fcntl 'F_GET_SEALS: not sealed against shrinking and writing')"
	else
		stderr_is "$T/rerr" "$(refused fcntl 'F_GET_SEALS: not a memfd')"
	fi
	echo N | cmp - "$T/verdict" || fail "no refusal sent"
}

test_a_shm_open_object_cannot_be_sealed_and_is_refused() {
	printf 'posix shared memory' > "/dev/shm/$ID-x"
	start_receiver
	fd_send "$T/s" 19 "/dev/shm/$ID-x" > "$T/verdict"
	finished $receiver 1
	stderr_is "$T/rerr" "$(refused fcntl 'F_GET_SEALS: not sealed against shrinking and writing')"
	echo N | cmp - "$T/verdict" || fail "no refusal sent"
	rm "/dev/shm/$ID-x"
}

test_a_sealed_memfd_of_another_size_than_announced_is_refused() {
	start_receiver
	fd_send "$T/s" 11 @memfd > "$T/verdict"
	finished $receiver 1
	stderr_is "$T/rerr" "$(refused fstat 'not of the announced size')"
	echo N | cmp - "$T/verdict" || fail "no refusal sent"
}

test_a_sealed_memfd_from_another_program_is_accepted() {
	start_receiver
	fd_send "$T/s" 10 @memfd > "$T/verdict"
	finished $receiver 0
	printf 0123456789 | cmp - "$T/out" || fail "wrong output"
	echo Y | cmp - "$T/verdict" || fail "no acceptance sent"
}

test_two_descriptors_are_refused() {
	start_receiver
	fd_send "$T/s" 10 @memfd @memfd > /dev/null || true
	finished $receiver 1
	stderr_is "$T/rerr" "13-memfd-recv: recvmsg $T/s: not exactly one descriptor in the message"
}

test_no_descriptor_is_refused() {
	start_receiver
	fd_send "$T/s" 10 > /dev/null || true
	finished $receiver 1
	stderr_is "$T/rerr" "13-memfd-recv: recvmsg $T/s: not exactly one descriptor in the message"
}

test_a_sender_that_connects_and_closes_fails_the_receiver() {
	start_receiver
	fd_send "$T/s" -
	finished $receiver 1
	stderr_is "$T/rerr" "13-memfd-recv: recvmsg $T/s: peer closed without sending a descriptor"
	[ ! -e "$T/s" ] || fail "the socket was left behind"
}

test_a_sender_killed_before_sending_leaves_the_receiver_waiting_for_the_next() {
	start_receiver
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 13-memfd-send "$T/s" < "$T/feed" 3>&-
	local sender=$!
	wait_until is_blocked $sender
	kill -KILL $sender
	finished $sender 137
	exited $receiver && fail "the receiver gave up"
	printf 'the second sender\n' > "$T/in"
	run 13-memfd-send "$T/s" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
}

test_a_receiver_killed_before_its_verdict_fails_the_sender() {
	stall_output
	spawn 13-memfd-recv "$T/s" > "$STALL" 2> "$T/rerr"
	local receiver=$!
	wait_until listening "$T/s"
	spawn 13-memfd-send "$T/s" < "$(input many-slots 3000017)" 2> "$T/serr"
	local sender=$!
	wait_until test ! -e "$T/s"
	wait_until is_blocked $receiver
	kill -KILL $receiver
	finished $receiver 137
	finished $sender 1
	stderr_is "$T/serr" "13-memfd-send: recv $T/s: the receiver ended without a verdict (see its message)"
}

test_the_object_is_a_memfd_and_nothing_appears_in_dev_shm() {
	stall_output
	spawn 13-memfd-recv "$T/s" > "$STALL"
	local receiver=$!
	wait_until listening "$T/s"
	spawn 13-memfd-send "$T/s" < "$(input many-slots 3000017)"
	local sender=$!
	wait_until test ! -e "$T/s"
	wait_until is_blocked $receiver
	local fd found=''
	for fd in "/proc/$receiver/fd"/*; do
		[ "$(readlink "$fd")" = '/memfd:13-memfd (deleted)' ] && found=$fd
	done
	[ -n "$found" ] || fail "no memfd in the receiver"
	[ -z "$(find /dev/shm -name '*13-memfd*')" ] || fail "something appeared in /dev/shm"
	kill -TERM $receiver
	finished $receiver 143
	finished $sender 1
}

test_a_closed_standard_output_ends_the_receiver_quietly_and_fails_the_sender() {
	local big
	big=$(input big 100000000)
	(
		status=0
		wait_until listening "$T/s"
		run 13-memfd-send "$T/s" < "$big" 2> "$T/serr" || status=$?
		echo $status > "$T/sstatus"
	) &
	quiet_under_head 10 13-memfd-recv "$T/s"
	wait
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	[ "$(cat "$T/sstatus")" = 1 ] || fail "the sender did not fail"
	stderr_is "$T/serr" "13-memfd-send: recv $T/s: the receiver ended without a verdict (see its message)"
}

test_without_mfd_noexec_seal_the_sender_falls_back() {
	needs cmd strace
	start_receiver
	printf 'an older kernel\n' > "$T/in"
	# LeakSanitizer cannot work under ptrace: off for this one run.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o "$T/trace" -e trace=memfd_create -e inject=memfd_create:error=EINVAL:when=1 \
		"$BIN/13-memfd-send" "$T/s" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
	[ "$(grep -c 'memfd_create(' "$T/trace")" = 2 ] || fail "no second memfd_create: $(cat "$T/trace")"
	grep -q 'MFD_NOEXEC_SEAL\|0x8' "$T/trace" || fail "the first try lacked MFD_NOEXEC_SEAL"
}

test_the_socket_is_0600_and_a_stale_one_is_replaced() {
	spawn 13-memfd-recv "$T/s" > /dev/null
	local first=$!
	wait_until listening "$T/s"
	[ "$(stat -c %a "$T/s")" = 600 ] || fail "socket mode $(stat -c %a "$T/s")"
	kill -KILL $first
	finished $first 137
	round_trip "$(input small 100000)"
}

test_a_live_receiver_is_refused() {
	start_receiver
	expect_status 1 run 13-memfd-recv "$T/s" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "13-memfd-recv: bind $T/s: another receiver is listening on it (stop it or pass another PATH)"
	# Its probe was a connection that sent nothing: the first receiver saw it.
	finished $receiver 1
	stderr_is "$T/rerr" "13-memfd-recv: recvmsg $T/s: peer closed without sending a descriptor"
}

# fill_backlog PATH: connect to PATH without blocking until the listener's
# backlog is full (connect fails with EAGAIN); the connections stay queued.
fill_backlog() {
	python3 -c 'import socket, sys
for _ in range(100):
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.setblocking(False)
	try:
		s.connect(sys.argv[1])
	except BlockingIOError:
		sys.exit(0)
sys.exit("the backlog never filled")' "$1"
}

test_a_second_receiver_is_refused_at_once_while_the_backlog_is_full() {
	start_receiver
	wait_until is_blocked $receiver
	# Stopped, the receiver accepts nobody: its backlog fills, and a
	# blocking probe would wait in connect for a place in it. Nothing may
	# fail the case before SIGCONT: a stopped receiver outlives SIGTERM.
	local filled=0 status=0 kept=no
	kill -STOP $receiver
	fill_backlog "$T/s" || filled=$?
	run 13-memfd-recv "$T/s" > /dev/null 2> "$T/err" || status=$?
	[ ! -S "$T/s" ] || kept=yes
	kill -TERM $receiver
	kill -CONT $receiver
	[ "$filled" = 0 ] || fail "the backlog of $T/s did not fill"
	[ "$status" = 1 ] || fail "the second receiver exited $status, expected 1"
	[ "$kept" = yes ] || fail "the live receiver's socket is gone"
	stderr_is "$T/err" "13-memfd-recv: bind $T/s: another receiver is listening on it (stop it or pass another PATH)"
	finished $receiver 143
	[ ! -e "$T/s" ] || fail "the socket was left behind"
}

test_a_socket_path_replaced_by_a_symlink_before_a_stop_signal_is_left_alone() {
	printf 'precious\n' > "$T/file"
	start_receiver
	wait_until is_blocked $receiver
	# Our socket moved away, a symlink to a file of the user's in its place:
	# the path is no longer ours to remove.
	mv "$T/s" "$T/moved"
	ln -s "$T/file" "$T/s"
	kill -TERM $receiver
	finished $receiver 143
	[ -L "$T/s" ] || fail "the symlink at the path was removed"
	printf 'precious\n' | cmp - "$T/file" || fail "the file was touched"
	rm "$T/s" "$T/moved"
}

test_a_socket_path_replaced_by_a_file_before_the_sender_comes_is_left_alone() {
	start_receiver
	# The sender reaches our socket under its new name; the file now at the
	# old one is not ours, so step 1 must not remove it.
	mv "$T/s" "$T/moved"
	printf 'precious\n' > "$T/s"
	printf 'through the moved socket\n' > "$T/in"
	run 13-memfd-send "$T/moved" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
	printf 'precious\n' | cmp - "$T/s" || fail "the file at the path was removed"
	[ -S "$T/moved" ] || fail "the moved socket is gone"
	rm "$T/s" "$T/moved"
}

test_a_file_or_directory_at_the_path_is_refused() {
	: > "$T/file"
	expect_status 1 run 13-memfd-recv "$T/file" 2> "$T/err"
	stderr_is "$T/err" "13-memfd-recv: bind $T/file: File exists and is not a socket (remove it or pass another PATH)"
	[ -f "$T/file" ] || fail "the file was removed"
	mkdir "$T/dir"
	expect_status 1 run 13-memfd-recv "$T/dir" 2> "$T/err"
	stderr_is "$T/err" "13-memfd-recv: bind $T/dir: $(errtext EISDIR) (pass a socket path)"
}

test_no_receiver_is_an_error_for_the_sender() {
	printf 'nobody listens\n' | expect_status 1 run 13-memfd-send "$T/none" 2> "$T/err"
	stderr_is "$T/err" "13-memfd-send: connect $T/none: $(errtext ENOENT) (start ./13-memfd-recv first)"
}

test_a_too_long_path_is_an_error() {
	local long
	long=$T/$(printf 'x%.0s' {1..120})
	expect_status 1 run 13-memfd-recv "$long" 2> "$T/err"
	stderr_is "$T/err" "13-memfd-recv: bind $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
	expect_status 1 run 13-memfd-send "$long" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "13-memfd-send: connect $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
}

test_usage_errors_exit_2() {
	expect_status 2 run 13-memfd-recv a b 2> "$T/err"
	stderr_is "$T/err" "usage: 13-memfd-recv [PATH]   (default PATH: /tmp/ipc-13-$(id -u).sock)"
	expect_status 2 run 13-memfd-send -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 13-memfd-send [-u] [PATH]   (default PATH: /tmp/ipc-13-$(id -u).sock)"
	expect_status 2 run 13-memfd-send -u a b < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 13-memfd-send [-u] [PATH]   (default PATH: /tmp/ipc-13-$(id -u).sock)"
}

test_another_users_socket_is_refused_and_left_alone() {
	needs user-switch
	chmod 777 "$T"
	setpriv --reuid=12345 --regid=12345 --clear-groups -- "$BIN/13-memfd-recv" "$T/s" > /dev/null 2>&1 &
	local theirs=$!
	wait_until listening "$T/s"
	expect_status 1 run 13-memfd-recv "$T/s" 2> "$T/err"
	stderr_is "$T/err" "13-memfd-recv: bind $T/s: Socket exists and belongs to another user (pass another PATH)"
	exited $theirs && fail "their receiver was disturbed"
	kill -TERM $theirs
	finished $theirs 143
}

test_sigint_on_a_waiting_receiver_removes_the_socket() {
	start_receiver
	wait_until is_blocked $receiver
	kill -INT $receiver
	finished $receiver 130
	[ ! -e "$T/s" ] || fail "the socket was left behind"
	[ ! -s "$T/rerr" ] || fail "unexpected message"
}

# Started under nohup, a waiting receiver keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	RUN="$NOHUP ${RUN:-}" start_receiver
	wait_until is_blocked $receiver
	keeps_ignored $receiver HUP
	[ ! -e "$T/s" ] || fail "the socket was left behind"
	[ ! -s "$T/rerr" ] || fail "unexpected message"
}
