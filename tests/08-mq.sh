# shellcheck shell=bash
# 08-mq-send / 08-mq-recv: a byte stream through a POSIX message queue.

# queue_file NAME: where Linux shows the queue NAME; the case is skipped
# where no mqueue file system is mounted on /dev/mqueue.
queue_file() {
	[ -d /dev/mqueue ] && mountpoint -q /dev/mqueue || skip "no mqueue file system on /dev/mqueue"
	printf '/dev/mqueue/%s\n' "${1#/}"
}

# make_queue NAME MAXMSG MSGSIZE: create a queue with attributes of our
# choosing (python3 and ctypes; the shell has no way to ask mq_open).
make_queue() {
	command -v python3 > /dev/null || skip "python3 is needed to create a queue"
	python3 - "$@" <<-'EOF'
		import ctypes, os, resource, sys
		class Attr(ctypes.Structure):
		    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
		                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
		                ("reserved", ctypes.c_long * 4)]
		try:  # room for large queues, where we may raise the limit
		    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (resource.RLIM_INFINITY,) * 2)
		except (ValueError, OSError):
		    pass
		libc = ctypes.CDLL(None, use_errno=True)
		attr = Attr(0, int(sys.argv[2]), int(sys.argv[3]), 0)
		if libc.mq_open(sys.argv[1].encode(), os.O_CREAT | os.O_EXCL | os.O_RDWR,
		                0o600, ctypes.byref(attr)) == -1:
		    sys.exit("mq_open: " + os.strerror(ctypes.get_errno()))
	EOF
}

test_receiver_first_copies_text_and_removes_the_queue() {
	local q
	q=$(queue_file "/$ID-q")
	printf 'hello through a message queue\n' > "$T/in"
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	wait_until test -e "$q"
	wait_until is_blocked $receiver
	run 08-mq-send "/$ID-q" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
	[ ! -e "$q" ] || fail "queue left behind"
}

test_sender_first_copies_20_MB_of_binary_data() {
	local q big
	q=$(queue_file "/$ID-q")
	big=$(input mq-big 20000000)
	spawn 08-mq-send "/$ID-q" < "$big"
	local sender=$!
	wait_until test -e "$q"
	wait_until is_blocked $sender # the queue is full: nobody reads yet
	run 08-mq-recv "/$ID-q" > "$T/out"
	finished $sender 0
	same "$big" "$T/out"
	[ ! -e "$q" ] || fail "queue left behind"
}

test_empty_input_gives_empty_output() {
	local q
	q=$(queue_file "/$ID-q")
	run 08-mq-send "/$ID-q" < /dev/null
	run 08-mq-recv "/$ID-q" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
	[ ! -e "$q" ] || fail "queue left behind"
}

test_nul_bytes_and_line_ends_survive() {
	queue_file /x > /dev/null
	printf 'a\0b\0\0c\r\n\0\377' > "$T/in"
	run 08-mq-send "/$ID-q" < "$T/in"
	run 08-mq-recv "/$ID-q" > "$T/out"
	same "$T/in" "$T/out"
}

test_usage_errors_exit_2() {
	local name
	for name in plain /a/b / -x; do
		expect_status 2 run 08-mq-send "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 08-mq-send [NAME]   (default NAME: /ipc-08-$(id -u))"
		expect_status 2 run 08-mq-recv "$name" 2> "$T/err"
		stderr_is "$T/err" "usage: 08-mq-recv [NAME]   (default NAME: /ipc-08-$(id -u))"
	done
	expect_status 2 run 08-mq-recv /a /b 2> /dev/null
}

test_a_name_too_long_is_a_usage_error() {
	local long
	long=/$ID-$(printf 'x%.0s' {1..300})
	expect_status 2 run 08-mq-send "$long" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 08-mq-send [NAME]   (default NAME: /ipc-08-$(id -u))"
	expect_status 2 run 08-mq-recv "$long" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 08-mq-recv [NAME]   (default NAME: /ipc-08-$(id -u))"
}

test_a_queue_made_by_another_user_is_refused_and_left_alone() {
	local q
	q=$(queue_file "/$ID-q")
	# Open to all (0666), so only our owner check stands in the way.
	as_user 12345 sh -c 'umask 0 && : > "$1"' _ "$q"
	expect_status 1 as_user 12346 "$BIN/08-mq-recv" "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_open /$ID-q: Queue exists and belongs to another user (pass another NAME)"
	expect_status 1 as_user 12346 "$BIN/08-mq-send" "/$ID-q" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_open /$ID-q: Queue exists and belongs to another user (pass another NAME)"
	[ "$(stat -c %u "$q")" = 12345 ] || fail "the queue is gone or changed hands"
	grep -q 'QSIZE:0 ' "$q" || fail "something was written to the queue"
	rm "$q"
}

test_an_existing_queue_with_small_messages_is_used_as_it_is() {
	local q data
	q=$(queue_file "/$ID-q")
	make_queue "/$ID-q" 3 100
	data=$(input mq-small 300000)
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	run 08-mq-send "/$ID-q" < "$data"
	finished $receiver 0
	same "$data" "$T/out"
	[ ! -e "$q" ] || fail "queue left behind"
}

test_an_existing_queue_with_large_messages_is_used_as_it_is() {
	local q data
	q=$(queue_file "/$ID-q")
	make_queue "/$ID-q" 4 65536 2> /dev/null || skip "this system refuses messages over 8192 bytes"
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data"
	local sender=$!
	run 08-mq-recv "/$ID-q" > "$T/out"
	finished $sender 0
	same "$data" "$T/out"
}

test_a_queue_with_absurd_message_size_is_refused() {
	local q
	q=$(queue_file "/$ID-q")
	make_queue "/$ID-q" 1 2000000 2> /dev/null || skip "this system refuses messages of 2 MB"
	expect_status 1 run 08-mq-recv "/$ID-q" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "08-mq-recv: mq_getattr /$ID-q: message size out of range (remove the queue or pass another NAME)"
	[ ! -e "$q" ] || fail "the receiver left its queue behind"
	make_queue "/$ID-q" 1 2000000
	expect_status 1 run 08-mq-send "/$ID-q" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "08-mq-send: mq_getattr /$ID-q: message size out of range (remove the queue or pass another NAME)"
	[ ! -e "$q" ] || fail "the sender left its queue behind"
}

test_sigterm_on_a_waiting_receiver_removes_the_queue_and_reports_the_signal() {
	local q
	q=$(queue_file "/$ID-q")
	spawn 08-mq-recv "/$ID-q" > /dev/null
	local receiver=$!
	wait_until test -e "$q"
	wait_until is_blocked $receiver
	kill -TERM $receiver
	finished $receiver 143
	[ ! -e "$q" ] || fail "queue left behind"
}

test_sigint_on_a_sender_with_a_full_queue_removes_the_queue() {
	local q data
	q=$(queue_file "/$ID-q")
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data"
	local sender=$!
	wait_until grep -q 'QSIZE:81920 ' "$q" # ten messages of 8192 bytes
	wait_until is_blocked $sender
	kill -INT $sender
	finished $sender 130
	[ ! -e "$q" ] || fail "queue left behind"
}

test_a_sender_whose_receiver_was_killed_waits_until_sigterm() {
	local q data
	q=$(queue_file "/$ID-q")
	data=$(input mq-small 300000)
	# The receiver's output goes nowhere, so both sides end up blocked.
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	spawn 08-mq-recv "/$ID-q" > "$T/stall"
	local receiver=$!
	spawn 08-mq-send "/$ID-q" < "$data" 2> "$T/err"
	local sender=$!
	wait_until grep -q 'QSIZE:81920 ' "$q"
	wait_until is_blocked $receiver
	kill -KILL $receiver
	finished $receiver 137
	# A queue has no notion of its readers: no error, the sender waits.
	wait_until is_blocked $sender
	[ -e "$q" ] || fail "the queue vanished"
	kill -TERM $sender
	finished $sender 143
	[ ! -s "$T/err" ] || fail "the sender was not quiet"
	[ ! -e "$q" ] || fail "queue left behind"
}

test_a_closed_standard_output_ends_the_receiver_quietly_and_removes_the_queue() {
	local q data
	q=$(queue_file "/$ID-q")
	data=$(input mq-small 300000)
	spawn 08-mq-send "/$ID-q" < "$data"
	local sender=$!
	set +e
	run 08-mq-recv "/$ID-q" 2> "$T/err" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "receiver exited ${codes[0]}, expected death by SIGPIPE"
	[ ! -s "$T/err" ] || fail "receiver was not quiet"
	head -c 10 "$data" | cmp - "$T/out" || fail "head got the wrong bytes"
	[ ! -e "$q" ] || fail "queue left behind"
	# The sender, its queue gone from under it, waits for a reader.
	wait_until is_blocked $sender
	kill -TERM $sender
	finished $sender 143
}

test_two_pairs_in_parallel_stay_apart() {
	local a b
	queue_file /x > /dev/null
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
}

test_a_sender_reading_a_terminal_says_how_to_end_the_input() {
	command -v script > /dev/null || skip "script(1) is needed for a terminal"
	queue_file /x > /dev/null
	spawn 08-mq-recv "/$ID-q" > "$T/out"
	local receiver=$!
	# script gives the sender a terminal; its input at once ends (Ctrl-D).
	script -qec "$BIN/08-mq-send /$ID-q" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "08-mq-send: reading standard input; end it with Ctrl-D"
	finished $receiver 0
}
