# shellcheck shell=bash
# 08-mq-send / 08-mq-recv: a byte stream through a POSIX message queue.
#
# The queues are looked at through mq_open itself (mqtool below), not
# through /dev/mqueue: mq_open works where no mqueue file system is
# mounted, and these cases must run there too.

# mqtool exists|messages|owner|unlink NAME, or create NAME MAXMSG MSGSIZE
# MODE, or send NAME PRIORITY [TEXT]: a small C program, built once per
# suite with the compiler under test. exists: status 0 or 1 (ENOENT);
# messages: how many wait; owner: the uid (Linux: fstat on the queue).
mqtool() {
	local tool=$SHARED/mqtool
	if [ ! -x "$tool" ]; then
		cat > "$tool.c" <<-'EOF'
			#define _POSIX_C_SOURCE 200809L
			#include <errno.h>
			#include <fcntl.h>
			#include <mqueue.h>
			#include <stdio.h>
			#include <stdlib.h>
			#include <string.h>
			#include <sys/resource.h>
			#include <sys/stat.h>
			static int fail(const char *call)
			{
				fprintf(stderr, "%s: %s\n", call, strerror(errno));
				return 2;
			}
			int main(int argc, char *argv[])
			{
				const char *what = argv[1], *name = argv[2];
				if (argc == 3 && strcmp(what, "unlink") == 0)
					return mq_unlink(name) == 0 ? 0 : fail("mq_unlink");
				if (argc == 6 && strcmp(what, "create") == 0) {
					struct rlimit all = { RLIM_INFINITY, RLIM_INFINITY };
					(void)setrlimit(RLIMIT_MSGQUEUE, &all); /* where we may */
					struct mq_attr attr = { .mq_maxmsg = atol(argv[3]), .mq_msgsize = atol(argv[4]) };
					return mq_open(name, O_CREAT | O_EXCL | O_RDWR, (mode_t)strtol(argv[5], NULL, 8),
						       &attr) == (mqd_t)-1 ? fail("mq_open") : 0;
				}
				mqd_t q = mq_open(name, argc >= 4 ? O_WRONLY | O_NONBLOCK : O_RDONLY);
				if (q == (mqd_t)-1)
					return errno == ENOENT && strcmp(what, "exists") == 0 ? 1 : fail("mq_open");
				struct mq_attr attr;
				struct stat st;
				if (strcmp(what, "exists") == 0)
					return 0;
				if (strcmp(what, "messages") == 0 && mq_getattr(q, &attr) == 0)
					return printf("%ld\n", attr.mq_curmsgs) < 0;
				if (strcmp(what, "owner") == 0 && fstat(q, &st) == 0)
					return printf("%ld\n", (long)st.st_uid) < 0;
				if (strcmp(what, "send") == 0) {
					const char *text = argc == 5 ? argv[4] : "";
					return mq_send(q, text, strlen(text), (unsigned)atoi(argv[3])) == 0 ? 0 : fail("mq_send");
				}
				return fail(what);
			}
		EOF
		"${CC:-cc}" -std=c11 -o "$tool.$$" "$tool.c" -lrt && mv -f "$tool.$$" "$tool" ||
			fail "cannot build the queue tool with ${CC:-cc}"
	fi
	"$tool" "$@"
}

queue_exists() { mqtool exists "$1"; }
queue_gone() { ! mqtool exists "$1" || fail "queue $1 left behind"; }
messages_are() { [ "$(mqtool messages "$1")" = "$2" ]; }

# mq_case: the first line of every case (after needs). The runner finds
# leftovers in /dev/mqueue only where it is mounted; this asks mq_open
# for the case's names (/$ID-q, /$ID-a, /$ID-b) when the case ends, once
# its programs are stopped, and fails the case for any it finds.
mq_case() { trap mq_case_cleanup EXIT; }
mq_case_cleanup() {
	local status=$? job name left=''
	set +e
	for job in $(jobs -p); do kill -TERM "$job" 2> /dev/null; done
	wait 2> /dev/null
	for name in "/$ID-q" "/$ID-a" "/$ID-b"; do
		queue_exists "$name" && left="$left $name" && mqtool unlink "$name"
	done
	if [ -n "$left" ]; then
		printf 'FAIL: left behind:%s\n' "$left" >&9
		status=1
	fi
	(exit "$status")
	case_cleanup
}

# under_ulimit OPTION VALUE PROGRAM ARGS...: run PROGRAM under that limit,
# without $RUN: a tool's own log (valgrind's) would meet a file limit first.
under_ulimit() { (ulimit "$1" "$2" && timeout -k 2 "$TMO" "$BIN/$3" "${@:4}"); }

usage_line() { printf 'usage: %s [NAME]   (default NAME: /ipc-08-%s)\n' "$1" "$(id -u)"; }

test_receiver_first_copies_text_and_removes_the_queue() {
	mq_case
	printf 'hello through a message queue\n' > "$T/in"
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	wait_until queue_exists "/$ID-q"
	wait_until is_blocked $receiver
	run 08-mq-send "/$ID-q" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
	queue_gone "/$ID-q"
}

test_sender_first_copies_20_MB_of_binary_data() {
	mq_case
	local big
	big=$(input mq-big 20000000)
	spawn 08-mq-send "/$ID-q" < "$big"
	local sender=$!
	wait_until queue_exists "/$ID-q"
	wait_until messages_are "/$ID-q" 10 # the queue is full: nobody reads yet
	wait_until is_blocked $sender
	run 08-mq-recv "/$ID-q" > "$T/out"
	finished $sender 0
	same "$big" "$T/out"
	queue_gone "/$ID-q"
}

test_empty_input_gives_empty_output() {
	mq_case
	run 08-mq-send "/$ID-q" < /dev/null
	run 08-mq-recv "/$ID-q" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
	queue_gone "/$ID-q"
}

test_nul_bytes_and_line_ends_survive() {
	mq_case
	printf 'a\0b\0\0c\r\n\0\377' > "$T/in"
	run 08-mq-send "/$ID-q" < "$T/in"
	run 08-mq-recv "/$ID-q" > "$T/out"
	same "$T/in" "$T/out"
	queue_gone "/$ID-q"
}

test_usage_errors_exit_2() {
	mq_case
	local name
	for name in plain /a/b / /. /.. -x; do
		expect_status 2 run 08-mq-send "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "$(usage_line 08-mq-send)"
		expect_status 2 run 08-mq-recv "$name" 2> "$T/err"
		stderr_is "$T/err" "$(usage_line 08-mq-recv)"
	done
	expect_status 2 run 08-mq-recv /a /b 2> /dev/null
}

test_a_name_too_long_is_a_usage_error_and_255_bytes_are_not() {
	mq_case
	local long name
	long=/$ID-$(printf 'x%.0s' {1..300})
	expect_status 2 run 08-mq-send "$long" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "$(usage_line 08-mq-send)"
	expect_status 2 run 08-mq-recv "$long" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "$(usage_line 08-mq-recv)"
	name=${long:0:256} # "/" and NAME_MAX bytes
	printf 'a long name\n' > "$T/in"
	run 08-mq-send "$name" < "$T/in"
	run 08-mq-recv "$name" > "$T/out"
	same "$T/in" "$T/out"
	queue_gone "$name"
}

# refused_as_another_users MODE REASON: a queue that user 12345 made with
# MODE is refused by both programs run as user 12346, with REASON, and is
# left as it was. The other users run a copy of the tool from a directory
# they may enter.
refused_as_another_users() {
	mq_case
	mqtool exists /x || true
	chmod 711 "$T"
	cp "$SHARED/mqtool" "$T/mqtool"
	as_user 12345 sh -c 'umask 0 && exec "$@"' _ "$T/mqtool" create "/$ID-q" 10 8192 "$1"
	expect_status 1 as_user 12346 "$BIN/08-mq-recv" "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_open /$ID-q: $2"
	expect_status 1 as_user 12346 "$BIN/08-mq-send" "/$ID-q" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_open /$ID-q: $2"
	[ "$(mqtool owner "/$ID-q")" = 12345 ] || fail "the queue is gone or changed hands"
	messages_are "/$ID-q" 0 || fail "something was written to the queue"
	mqtool unlink "/$ID-q"
}

# Open to all (0666), so only our owner check stands in the way.
test_a_queue_made_by_another_user_is_refused_and_left_alone() {
	needs user-switch
	refused_as_another_users 666 "Queue exists and belongs to another user (pass another NAME)"
}

# Mode 0600: we may not even open it, and mq_open says EACCES.
test_a_queue_of_another_user_we_may_not_open_is_refused_with_the_reason() {
	needs user-switch
	refused_as_another_users 600 "$(errtext EACCES) (not ours to open: pass another NAME)"
}

test_an_existing_queue_with_small_messages_is_used_as_it_is() {
	mq_case
	local data
	mqtool create "/$ID-q" 3 100 600
	data=$(input mq-small 300000)
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	run 08-mq-send "/$ID-q" < "$data"
	finished $receiver 0
	same "$data" "$T/out"
	queue_gone "/$ID-q"
}

test_an_existing_queue_with_large_messages_is_used_as_it_is() {
	needs root
	mq_case
	unshare -i true 2> /dev/null || skip "needs unshare -i for a private IPC namespace"
	local data
	data=$(input mq-small 300000)
	mqtool exists /x || true # built before the namespace is entered
	# Messages over msgsize_max (8192) need CAP_SYS_RESOURCE, which root
	# may lack; in a private IPC namespace root may raise the limit itself.
	timeout -k 2 "$TMO" unshare -i bash -c '
		echo 65536 > /proc/sys/fs/mqueue/msgsize_max || exit
		"$1" create "$2" 4 65536 600 || exit
		"$3/08-mq-send" "$2" < "$4" &
		"$3/08-mq-recv" "$2" > "$5" || exit
		wait $! || exit
		! "$1" exists "$2"' _ "$SHARED/mqtool" "/$ID-q" "$BIN" "$data" "$T/out" ||
		fail "the pair failed on a queue of 65536-byte messages"
	same "$data" "$T/out"
}

test_a_queue_with_messages_over_our_limit_is_refused_as_that_limit() {
	mq_case
	local limit="message size over this program's limit of 1 MiB (remove the queue or pass another NAME)"
	mqtool create "/$ID-q" 1 2000000 600 2> /dev/null || skip "this system refuses messages of 2 MB"
	expect_status 1 run 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_getattr /$ID-q: $limit"
	queue_gone "/$ID-q"
	mqtool create "/$ID-q" 1 2000000 600
	expect_status 1 run 08-mq-send "/$ID-q" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_getattr /$ID-q: $limit"
	queue_gone "/$ID-q"
}

test_the_queue_memory_limit_is_named() {
	mq_case
	expect_status 1 under_ulimit -q 1000 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_open /$ID-q: $(errtext EMFILE) (over the per-user limit on queue memory: ulimit -q)"
	expect_status 1 under_ulimit -q 1000 08-mq-send "/$ID-q" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_open /$ID-q: $(errtext EMFILE) (over the per-user limit on queue memory: ulimit -q)"
	queue_gone "/$ID-q"
}

test_every_stop_signal_on_a_waiting_receiver_removes_the_queue_and_kills_it() {
	mq_case
	local sig receiver
	for sig in TERM QUIT USR1 ALRM RTMIN; do
		spawn 08-mq-recv "/$ID-q" > /dev/null
		receiver=$!
		wait_until queue_exists "/$ID-q"
		wait_until is_blocked $receiver
		kill -"$(signum "SIG$sig")" $receiver
		finished $receiver $((128 + $(signum "SIG$sig")))
		queue_gone "/$ID-q"
	done
}

test_sigint_and_sigquit_on_a_sender_with_a_full_queue_remove_the_queue() {
	mq_case
	local data sig sender
	data=$(input mq-small 300000)
	for sig in INT QUIT; do
		spawn 08-mq-send "/$ID-q" < "$data"
		sender=$!
		wait_until queue_exists "/$ID-q"
		wait_until messages_are "/$ID-q" 10
		wait_until is_blocked $sender
		kill -"$(signum "SIG$sig")" $sender
		finished $sender $((128 + $(signum "SIG$sig")))
		queue_gone "/$ID-q"
	done
}

test_a_sender_whose_receiver_was_killed_finds_out_and_removes_the_queue() {
	mq_case
	local data
	data=$(input mq-small 300000)
	stall_output # the receiver's output goes nowhere: both sides end up blocked
	spawn 08-mq-recv "/$ID-q" > "$STALL"
	local receiver=$!
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/err"
	local sender=$!
	wait_until queue_exists "/$ID-q"
	wait_until messages_are "/$ID-q" 10
	wait_until is_blocked $receiver
	kill -KILL $receiver
	finished $receiver 137
	finished $sender 1
	stderr_is "$T/err" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

test_a_closed_standard_output_ends_the_receiver_quietly_and_tells_the_sender() {
	mq_case
	local data
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/err"
	local sender=$!
	quiet_under_head 10 08-mq-recv "/$ID-q"
	head -c 10 "$data" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	finished $sender 1
	stderr_is "$T/err" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

test_a_receiver_whose_output_fails_tells_the_sender() {
	mq_case
	local data
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/serr"
	local sender=$!
	expect_status 1 run 08-mq-recv "/$ID-q" > /dev/full 2> "$T/rerr"
	stderr_is "$T/rerr" "08-mq-recv: write standard output: $(errtext ENOSPC)"
	finished $sender 1
	stderr_is "$T/serr" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

test_a_file_size_limit_on_the_output_is_reported_and_the_queue_removed() {
	mq_case
	local data
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/serr"
	local sender=$!
	expect_status 1 under_ulimit -f 1 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/rerr"
	stderr_is "$T/rerr" "08-mq-recv: write standard output: $(errtext EFBIG)"
	head -c 1024 "$data" | cmp - "$T/out" || fail "the output is not the first 1024 bytes"
	finished $sender 1
	stderr_is "$T/serr" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

test_a_sender_whose_input_fails_tells_the_receiver() {
	mq_case
	spawn 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/rerr"
	local receiver=$!
	wait_until queue_exists "/$ID-q"
	# Standard input closed: /dev/null, write-only, holds descriptor 0.
	expect_status 1 run 08-mq-send "/$ID-q" <&- 2> "$T/serr"
	stderr_is "$T/serr" "08-mq-send: read standard input: $(errtext EBADF)"
	finished $receiver 1
	stderr_is "$T/rerr" "08-mq-recv: mq_receive /$ID-q: 08-mq-send stopped before the end of the stream"
	[ ! -s "$T/out" ] || fail "output not empty"
	queue_gone "/$ID-q"
}

test_closed_standard_descriptors_never_hold_the_queue() {
	[ -z "${RUN:-}" ] || skip "valgrind fills closed standard descriptors itself"
	mq_case
	printf 'through closed descriptors\n' > "$T/in"
	spawn 08-mq-recv "/$ID-q" > "$T/out" 2>&-
	local receiver=$!
	wait_until queue_exists "/$ID-q"
	wait_until is_blocked $receiver
	[ "$(readlink "/proc/$receiver/fd/2")" = /dev/null ] || fail "descriptor 2 is not /dev/null"
	run 08-mq-send "/$ID-q" < "$T/in" 2>&-
	finished $receiver 0
	same "$T/in" "$T/out"
	queue_gone "/$ID-q"
}

test_a_second_pair_at_the_same_name_is_refused() {
	mq_case
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 08-mq-recv "/$ID-q" > "$T/out" 3>&-
	local receiver=$!
	spawn 08-mq-send "/$ID-q" < "$T/feed" 3>&- # EOF once we close 3
	local sender=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	expect_status 1 run 08-mq-recv "/$ID-q" > "$T/out2" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_open /$ID-q: already has a receiver, process $receiver (pass another NAME)"
	echo intruder | expect_status 1 run 08-mq-send "/$ID-q" 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_open /$ID-q: already has a sender, process $sender (pass another NAME)"
	printf 'second part\n' >&3
	exec 3>&-
	finished $sender 0
	finished $receiver 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -s "$T/out2" ] || fail "the second receiver wrote something"
	queue_gone "/$ID-q"
}

# a_killed_senders_stream: a sender killed with SIGKILL mid-stream, its
# HELLO and one message ("old") left in the queue /$ID-q.
a_killed_senders_stream() {
	mq_case
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 08-mq-send "/$ID-q" < "$T/feed"
	local sender=$!
	printf 'old\n' >&3
	wait_until messages_are "/$ID-q" 2 # HELLO and the data
	kill -KILL $sender
	finished $sender 137
}

test_a_stream_left_by_a_killed_sender_is_refused_and_removed() {
	a_killed_senders_stream
	echo new | expect_status 1 run 08-mq-send "/$ID-q" 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_open /$ID-q: holds the messages of an earlier run (read them with 08-mq-recv, or pass another NAME)"
	expect_status 1 run 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_receive /$ID-q: 08-mq-send stopped before the end of the stream (a killed run's stream, now removed: run the pair again)"
	[ ! -s "$T/out" ] || fail "the old messages were written"
	queue_gone "/$ID-q"
	echo new | run 08-mq-send "/$ID-q"
	run 08-mq-recv "/$ID-q" > "$T/out"
	echo new | cmp - "$T/out" || fail "the next pair did not work"
}

# held_with_queue PID NAME: PID has the queue NAME open and is stopped by
# its tracer (state t): with --seccomp-bpf, only in the traced call.
held_with_queue() {
	local fd
	[ "$(state "$1")" = t ] || return 1
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] && return 0
	done
	return 1
}

# strace holds a new sender for 3 s in its first mq_getattr, which comes
# before its claim: a receiver started then sees the stream of a killed
# run for what it is, not for the new sender's.
test_a_receiver_never_takes_a_new_sender_for_the_sender_of_a_killed_runs_stream() {
	needs cmd strace
	a_killed_senders_stream
	# (LeakSanitizer cannot work under ptrace: off for this one run.)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f --seccomp-bpf -qq -o /dev/null -e trace=mq_getsetattr \
		-e inject=mq_getsetattr:delay_enter=3000000:when=1 \
		"$BIN/08-mq-send" "/$ID-q" < /dev/null 2> "$T/serr" &
	local tracer=$! sender
	sender=$(child_of $tracer)
	wait_until held_with_queue "$sender" "/$ID-q"
	expect_status 1 run 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/rerr"
	stderr_is "$T/rerr" "08-mq-recv: mq_receive /$ID-q: 08-mq-send stopped before the end of the stream (a killed run's stream, now removed: run the pair again)"
	[ ! -s "$T/out" ] || fail "the old stream was written"
	finished $tracer 1
	stderr_is "$T/serr" "08-mq-send: mq_open /$ID-q: holds the messages of an earlier run (read them with 08-mq-recv, or pass another NAME)"
	queue_gone "/$ID-q"
}

# a_pair_mid_stream: a sender fed from $T/feed, held open on descriptor 3
# (end of file once it is closed), and a receiver that has written the
# first part; their pids in the caller's $sender and $receiver.
a_pair_mid_stream() {
	mq_case
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 08-mq-send "/$ID-q" < "$T/feed" 2> "$T/serr" 3>&-
	sender=$!
	spawn 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/rerr" 3>&-
	receiver=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
}

test_a_receiver_that_comes_mid_stream_is_refused() {
	local sender receiver
	a_pair_mid_stream
	kill -KILL "$receiver"
	finished "$receiver" 137
	spawn 08-mq-recv "/$ID-q" > "$T/out2" 2> "$T/rerr" 3>&-
	local second=$!
	wait_until is_blocked $second
	printf 'second part\n' >&3
	finished $second 1
	stderr_is "$T/rerr" "08-mq-recv: mq_receive /$ID-q: the stream began before we came (run the pair again)"
	[ ! -s "$T/out2" ] || fail "the second receiver wrote part of the stream"
	exec 3>&-
	finished "$sender" 1
	stderr_is "$T/serr" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

# A message the protocol has no place for, put in the queue mid-stream by
# another process of ours, ends the receiver: PRIORITY TEXT, then the line.
a_foreign_message_is_refused() {
	local sender receiver
	a_pair_mid_stream
	mqtool send "/$ID-q" "$1" "$2"
	finished "$receiver" 1
	stderr_is "$T/rerr" "08-mq-recv: mq_receive /$ID-q: a message out of the protocol"
	printf 'first part\n' | cmp -s - "$T/out" || fail "the receiver wrote what it refused"
	exec 3>&-
	finished "$sender" 1
	stderr_is "$T/serr" "08-mq-send: mq_send /$ID-q: 08-mq-recv stopped before the end of the stream"
	queue_gone "/$ID-q"
}

test_a_message_of_a_priority_outside_the_protocol_is_refused() {
	a_foreign_message_is_refused 7 'not ours'
}

test_an_empty_data_message_is_refused() {
	a_foreign_message_is_refused 0 ''
}

test_a_queue_removed_under_a_waiting_program_ends_it() {
	mq_case
	local data
	spawn 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/err"
	local receiver=$!
	wait_until queue_exists "/$ID-q"
	wait_until is_blocked $receiver
	mqtool unlink "/$ID-q" # no sender could find this queue any more
	finished $receiver 1
	stderr_is "$T/err" "08-mq-recv: mq_receive /$ID-q: the queue was removed (run the pair again)"
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/err"
	local sender=$!
	wait_until messages_are "/$ID-q" 10
	mqtool unlink "/$ID-q"
	finished $sender 1
	stderr_is "$T/err" "08-mq-send: mq_send /$ID-q: the queue was removed (run the pair again)"
	queue_gone "/$ID-q"
}

# strace fails each program's second fstat of the queue (its first is the
# owner check): a failing fstat is named, not taken for a removed queue.
test_a_failing_fstat_of_the_queue_is_named_as_that_call() {
	needs cmd strace
	mq_case
	local program
	for program in 08-mq-recv 08-mq-send; do
		# (LeakSanitizer cannot work under ptrace: off for this one run.)
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" expect_status 1 \
			timeout -k 2 "$TMO" strace -qq -o /dev/null -P "/$ID-q" -e trace=%fstat \
			-e inject=%fstat:error=ENOMEM:when=2 "$BIN/$program" "/$ID-q" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "$program: fstat /$ID-q: $(errtext ENOMEM)"
		queue_gone "/$ID-q"
	done
}

test_control_bytes_in_a_name_are_escaped_in_the_error_line() {
	mq_case
	local name
	name=/$ID-a$'\n'b
	spawn 08-mq-recv "$name" > /dev/null
	local receiver=$!
	wait_until queue_exists "$name"
	expect_status 1 run 08-mq-recv "$name" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_open /$ID-a\\012b: already has a receiver, process $receiver (pass another NAME)"
	kill -TERM $receiver
	finished $receiver 143
	queue_gone "$name"
}

test_two_pairs_in_parallel_stay_apart() {
	mq_case
	local a b
	a=$(input mq-small 300000)
	b=$(input mq-small-b 200000)
	spawn 08-mq-recv "/$ID-a" > "$T/out-a"
	local ra=$!
	spawn 08-mq-send "/$ID-b" < "$b"
	local sb=$!
	spawn 08-mq-recv "/$ID-b" > "$T/out-b"
	local rb=$!
	run 08-mq-send "/$ID-a" < "$a"
	finished $ra 0
	finished $sb 0
	finished $rb 0
	same "$a" "$T/out-a"
	same "$b" "$T/out-b"
	queue_gone "/$ID-a"
	queue_gone "/$ID-b"
}

test_a_sender_reading_a_terminal_says_how_to_end_the_input() {
	needs cmd script
	mq_case
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	# script gives the sender a terminal; its input at once ends (Ctrl-D).
	script -qec "$BIN/08-mq-send /$ID-q" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "08-mq-send: reading standard input; end it with Ctrl-D"
	finished $receiver 0
	queue_gone "/$ID-q"
}

# Started under nohup, a waiting receiver keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	mq_case
	RUN="$NOHUP ${RUN:-}" spawn 08-mq-recv "/$ID-q" > /dev/null
	local receiver=$!
	wait_until queue_exists "/$ID-q"
	wait_until is_blocked $receiver
	keeps_ignored $receiver HUP
	queue_gone "/$ID-q"
}
