# shellcheck shell=bash
# 06-msgq-send / 06-msgq-recv: a framed stream through a System V queue.

test_receiver_first_copies_text_and_removes_the_queue() {
	local key
	key=$(keyfile q.key)
	printf 'hello through a message queue\n' > "$T/in"
	spawn 06-msgq-recv "$key" > "$T/out"
	local receiver=$!
	wait_until queue_exists "$key"
	run 06-msgq-send "$key" < "$T/in"
	finished $receiver 0
	same "$T/in" "$T/out"
	! queue_exists "$key" || fail "queue left behind"
}

test_sender_may_finish_before_the_receiver_starts() {
	local key
	key=$(keyfile q.key)
	printf 'waiting in the queue\n' > "$T/in"
	run 06-msgq-send "$key" < "$T/in"
	queue_exists "$key" || fail "no queue holds the messages"
	run 06-msgq-recv "$key" > "$T/out"
	same "$T/in" "$T/out"
	! queue_exists "$key" || fail "queue left behind"
}

test_100_MB_of_binary_data_pass_a_queue_of_a_few_kilobytes() {
	local key big
	key=$(keyfile q.key)
	big=$(input big 100000000)
	spawn 06-msgq-send "$key" < "$big"
	local sender=$!
	run 06-msgq-recv "$key" > "$T/out"
	finished $sender 0
	same "$big" "$T/out"
	! queue_exists "$key" || fail "queue left behind"
}

test_empty_input_and_nul_bytes() {
	local key
	key=$(keyfile q.key)
	run 06-msgq-send "$key" < /dev/null
	run 06-msgq-recv "$key" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
	printf '\0a\0\0\n' > "$T/in"
	run 06-msgq-send "$key" < "$T/in"
	run 06-msgq-recv "$key" > "$T/out"
	same "$T/in" "$T/out"
}

test_two_pairs_in_parallel_stay_apart() {
	local a b ka kb
	a=$(input small-a 300000)
	b=$(input small-b 200000)
	ka=$(keyfile a.key)
	kb=$(keyfile b.key)
	spawn 06-msgq-recv "$ka" > "$T/out-a"
	local ra=$!
	spawn 06-msgq-send "$kb" < "$b"
	local sb=$!
	spawn 06-msgq-send "$ka" < "$a"
	local sa=$!
	run 06-msgq-recv "$kb" > "$T/out-b"
	finished $sa 0
	finished $sb 0
	finished $ra 0
	same "$a" "$T/out-a"
	same "$b" "$T/out-b"
}

test_a_missing_keypath_is_a_clear_error() {
	expect_status 1 run 06-msgq-recv "$T/missing" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: ftok $T/missing: No such file or directory (KEYPATH must be an existing file)"
	expect_status 1 run 06-msgq-send "$T/missing" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: ftok $T/missing: No such file or directory (KEYPATH must be an existing file)"
}

test_wrong_usage_exits_2() {
	expect_status 2 run 06-msgq-recv a b 2> "$T/err"
	stderr_is "$T/err" 'usage: 06-msgq-recv [KEYPATH]   (default KEYPATH: $HOME)'
	expect_status 2 run 06-msgq-send -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" 'usage: 06-msgq-send [KEYPATH]   (default KEYPATH: $HOME)'
}

test_sigterm_on_a_waiting_receiver_removes_the_queue() {
	local key
	key=$(keyfile q.key)
	spawn 06-msgq-recv "$key" > /dev/null
	local receiver=$!
	wait_until queue_exists "$key"
	wait_until is_blocked $receiver
	kill -TERM $receiver
	finished $receiver 143
	! queue_exists "$key" || fail "queue left behind"
}

test_a_sender_blocked_on_a_full_queue_stays_interruptible() {
	local key
	key=$(keyfile q.key)
	spawn 06-msgq-send "$key" < /dev/zero
	local sender=$!
	wait_until queue_exists "$key"
	wait_until is_blocked $sender
	kill -INT $sender
	finished $sender 130
	! queue_exists "$key" || fail "queue left behind"
}

test_a_sender_stopped_mid_stream_makes_the_receiver_fail() {
	local key
	key=$(keyfile q.key)
	spawn 06-msgq-recv "$key" > "$T/out" 2> "$T/err"
	local receiver=$!
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 06-msgq-send "$key" < "$T/feed"
	local sender=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	kill -TERM $sender
	finished $sender 143
	finished $receiver 1
	stderr_is "$T/err" "06-msgq-recv: msgrcv queue $(ftok_key "$key" "$QPROJ"): Identifier removed (06-msgq-send stopped before the end of the stream)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_sender_killed_mid_stream_leaves_the_receiver_waiting_interruptibly() {
	local key
	key=$(keyfile q.key)
	spawn 06-msgq-recv "$key" > "$T/out"
	local receiver=$!
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 06-msgq-send "$key" < "$T/feed"
	local sender=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	kill -KILL $sender
	finished $sender 137
	# No END message will come: the receiver cannot know the sender
	# died, so it waits, and Ctrl-C still cleans up.
	wait_until is_blocked $receiver
	kill -INT $receiver
	finished $receiver 130
	! queue_exists "$key" || fail "queue left behind"
}

test_a_closed_standard_output_ends_the_receiver_quietly_and_removes_the_queue() {
	local key big
	key=$(keyfile q.key)
	big=$(input big 100000000)
	spawn 06-msgq-send "$key" < "$big" 2> "$T/serr"
	local sender=$!
	set +e
	run 06-msgq-recv "$key" 2> "$T/rerr" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "receiver exited ${codes[0]}, expected death by SIGPIPE"
	[ ! -s "$T/rerr" ] || fail "receiver was not quiet"
	finished $sender 1
	stderr_is "$T/serr" "06-msgq-send: msgsnd queue $(ftok_key "$key" "$QPROJ"): Identifier removed (06-msgq-recv removed it before the end)"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_queue_made_by_another_user_is_refused_and_left_alone() {
	local key
	key=$(keyfile q.key)
	chmod 711 "$T"
	chmod 644 "$key"
	# A squatter who can stat KEYPATH computes the key and gets there
	# first, with a queue anyone may use (perl's msgget: 01666 is
	# IPC_CREAT | 0666).
	as_user 12345 perl -e 'defined msgget(hex $ARGV[0], 01666) or die "$!\n"' \
		"$(ftok_key "$key" "$QPROJ")"
	expect_status 1 as_user 12346 "$BIN/06-msgq-recv" "$key" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: msgget queue $(ftok_key "$key" "$QPROJ"): belongs to another user (pass another KEYPATH)"
	echo secret | expect_status 1 as_user 12346 "$BIN/06-msgq-send" "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgget queue $(ftok_key "$key" "$QPROJ"): belongs to another user (pass another KEYPATH)"
	queue_exists "$key" || fail "the squatter's queue was removed"
	[ "$(ipcs -q | awk -v k="$(ftok_key "$key" "$QPROJ")" '$1 == k {print $6}')" = 0 ] ||
		fail "something was sent into it"
	ipcrm -Q "$(ftok_key "$key" "$QPROJ")"
}

test_a_sender_reading_a_terminal_says_how_to_end_the_input() {
	local key
	key=$(keyfile q.key)
	script -qec "$BIN/06-msgq-send $key" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "06-msgq-send: reading standard input; end it with Ctrl-D"
	run 06-msgq-recv "$key" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}
