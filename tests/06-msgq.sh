# shellcheck shell=bash
# 06-msgq-send / 06-msgq-recv: a framed stream through a System V queue.

# queue_holds KEYPATH N: the queue under that path's key holds N messages.
queue_holds() { [ "$(ipcs -q | awk -v k="$(ftok_key "$1" "$QPROJ")" '$1 == k {print $6}')" = "$2" ]; }
# queue_name KEYPATH: the queue as the programs name it in their errors.
queue_name() { printf 'queue %s\n' "$(ftok_key "$1" "$QPROJ")"; }
# under_ulimit OPTION VALUE PROGRAM ARGS...: run PROGRAM under that limit,
# without $RUN: a tool's own log (valgrind's) would meet a file limit first.
under_ulimit() { (ulimit "$1" "$2" && timeout -k 2 "$TMO" "$BIN/$3" "${@:4}"); }
# status_of SIGNAME: the exit status of a death by that signal.
status_of() { echo $((128 + $(signum "$1"))); }

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
	stderr_is "$T/err" "06-msgq-recv: ftok $T/missing: $(errtext ENOENT) (KEYPATH must be an existing file)"
	expect_status 1 run 06-msgq-send "$T/missing" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: ftok $T/missing: $(errtext ENOENT) (KEYPATH must be an existing file)"
	# A control byte in the path cannot start a second line.
	expect_status 1 run 06-msgq-recv "$T/a"$'\n'"b" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: ftok $T/a\\012b: $(errtext ENOENT) (KEYPATH must be an existing file)"
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
	finished $receiver "$(status_of SIGTERM)"
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
	finished $sender "$(status_of SIGINT)"
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
	finished $sender "$(status_of SIGTERM)"
	finished $receiver 1
	stderr_is "$T/err" "06-msgq-recv: msgrcv $(queue_name "$key"): $(errtext EIDRM) (06-msgq-send stopped before the end of the stream)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_sender_killed_mid_stream_makes_the_waiting_receiver_fail() {
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
	wait_until is_blocked $receiver
	# SIGKILL: the sender cannot remove the queue or send END; the
	# receiver sees its lock on KEYPATH go, and stops waiting.
	kill -KILL $sender
	finished $sender "$(status_of SIGKILL)"
	finished $receiver 1
	stderr_is "$T/err" "06-msgq-recv: msgrcv $(queue_name "$key"): holds part of a stream whose sender is gone (now removed: run the pair again)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_receiver_killed_mid_stream_ends_the_waiting_sender_and_leaves_no_queue() {
	local key big
	key=$(keyfile q.key)
	big=$(input big 100000000)
	spawn 06-msgq-send "$key" < "$big" 2> "$T/serr"
	local sender=$!
	spawn 06-msgq-recv "$key" > "$T/first"
	local receiver=$!
	wait_until test -s "$T/first" # it took part of the stream
	kill -KILL $receiver
	finished $receiver "$(status_of SIGKILL)"
	# Nobody will make room in the full queue: the sender finds out.
	finished $sender 1
	stderr_is "$T/serr" "06-msgq-send: msgsnd $(queue_name "$key"): 06-msgq-recv is gone before the end of the stream (it was killed: run the pair again)"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_pair_killed_mid_stream_leaves_a_queue_the_next_receiver_refuses() {
	local key big
	key=$(keyfile q.key)
	big=$(input big 100000000)
	spawn 06-msgq-send "$key" < "$big" 2> /dev/null
	local sender=$!
	spawn 06-msgq-recv "$key" > "$T/first"
	local receiver=$!
	wait_until test -s "$T/first" # it took part of the stream
	kill -KILL $receiver $sender
	finished $receiver "$(status_of SIGKILL)"
	finished $sender "$(status_of SIGKILL)"
	queue_exists "$key" || fail "no queue left to refuse"
	# The next receiver would miss the start of the stream and exit 0.
	expect_status 1 run 06-msgq-recv "$key" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: msgget $(queue_name "$key"): another 06-msgq-recv has read from it (now removed: run the pair again)"
	[ ! -s "$T/out" ] || fail "the rest of the stream was written"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_closed_standard_output_ends_the_receiver_quietly_and_removes_the_queue() {
	local key big
	key=$(keyfile q.key)
	big=$(input big 100000000)
	spawn 06-msgq-send "$key" < "$big" 2> "$T/serr"
	local sender=$!
	quiet_under_head 10 06-msgq-recv "$key"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	finished $sender 1
	stderr_is "$T/serr" "06-msgq-send: msgsnd $(queue_name "$key"): $(errtext EIDRM) (06-msgq-recv removed it before the end)"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_file_size_limit_on_the_output_is_reported_and_the_queue_removed() {
	local key data
	key=$(keyfile q.key)
	data=$(input small-a 300000)
	spawn 06-msgq-send "$key" < "$data" 2> "$T/serr"
	local sender=$!
	expect_status 1 under_ulimit -f 1 06-msgq-recv "$key" > "$T/out" 2> "$T/rerr"
	stderr_is "$T/rerr" "06-msgq-recv: write standard output: $(errtext EFBIG)"
	head -c 1024 "$data" | cmp - "$T/out" || fail "the output is not the first 1024 bytes"
	finished $sender 1
	stderr_is "$T/serr" "06-msgq-send: msgsnd $(queue_name "$key"): $(errtext EIDRM) (06-msgq-recv removed it before the end)"
	! queue_exists "$key" || fail "queue left behind"
}

test_every_stop_signal_on_a_waiting_program_removes_the_queue_and_kills_it() {
	local key sig program pid
	key=$(keyfile q.key)
	for sig in SIGQUIT SIGUSR1 SIGALRM SIGRTMIN; do
		for program in 06-msgq-recv 06-msgq-send; do
			if [ $program = 06-msgq-recv ]; then
				spawn 06-msgq-recv "$key" > /dev/null
			else
				spawn 06-msgq-send "$key" < /dev/zero
			fi
			pid=$!
			wait_until queue_exists "$key"
			wait_until is_blocked $pid
			kill -"$(signum $sig)" $pid
			finished $pid "$(status_of $sig)"
			! queue_exists "$key" || fail "$program left its queue after $sig"
		done
	done
}

test_a_second_pair_at_the_same_key_is_refused() {
	local key
	key=$(keyfile q.key)
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 06-msgq-recv "$key" > "$T/out" 3>&-
	local receiver=$!
	spawn 06-msgq-send "$key" < "$T/feed" 3>&- # EOF once we close 3
	local sender=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	expect_status 1 run 06-msgq-recv "$key" > "$T/out2" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: msgget $(queue_name "$key"): already has a receiver, process $receiver (pass another KEYPATH)"
	echo intruder | expect_status 1 run 06-msgq-send "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgget $(queue_name "$key"): already has a sender, process $sender (pass another KEYPATH)"
	printf 'second part\n' >&3
	exec 3>&-
	finished $sender 0
	finished $receiver 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -s "$T/out2" ] || fail "the second receiver wrote something"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_second_sender_is_told_of_the_live_sender_whose_messages_wait() {
	local key data
	key=$(keyfile q.key)
	data=$(input small-a 300000)
	stall_output # the receiver's output goes nowhere: the queue stays full
	spawn 06-msgq-recv "$key" > "$STALL"
	local receiver=$!
	spawn 06-msgq-send "$key" < "$data" 2> /dev/null
	local sender=$!
	wait_until queue_holds "$key" $(($(cat /proc/sys/kernel/msgmnb) / 4096)) # full
	# Those messages are no earlier run's: their sender still runs.
	echo intruder | expect_status 1 run 06-msgq-send "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgget $(queue_name "$key"): already has a sender, process $sender (pass another KEYPATH)"
	kill -TERM $receiver
	finished $receiver "$(status_of SIGTERM)"
	finished $sender 1
	! queue_exists "$key" || fail "queue left behind"
}

test_a_new_sender_never_continues_the_stream_of_a_killed_one() {
	local key
	key=$(keyfile q.key)
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 06-msgq-recv "$key" > "$T/out" 2> "$T/rerr" 3>&-
	local receiver=$!
	spawn 06-msgq-send "$key" < "$T/feed" 3>&-
	local sender=$!
	printf 'old part ' >&3
	wait_until test -s "$T/out" # the receiver took it: the queue is empty
	# Stopped, the receiver cannot yet see the killed sender's lock gone.
	kill -STOP $receiver
	kill -KILL $sender
	finished $sender "$(status_of SIGKILL)"
	echo new | expect_status 1 run 06-msgq-send "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgget $(queue_name "$key"): another 06-msgq-send has sent to it (its receiver removes it once it sees that sender gone: run the pair again)"
	kill -CONT $receiver
	finished $receiver 1
	stderr_is "$T/rerr" "06-msgq-recv: msgrcv $(queue_name "$key"): holds part of a stream whose sender is gone (now removed: run the pair again)"
	printf 'old part ' | cmp - "$T/out" || fail "wrong output"
	! queue_exists "$key" || fail "queue left behind"
}

test_a_stream_left_by_a_killed_sender_is_refused_and_removed() {
	local key
	key=$(keyfile q.key)
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 06-msgq-send "$key" < "$T/feed" 3>&-
	local sender=$!
	printf 'old\n' >&3
	wait_until queue_exists "$key"
	wait_until queue_holds "$key" 1
	kill -KILL $sender
	finished $sender "$(status_of SIGKILL)"
	echo new | expect_status 1 run 06-msgq-send "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgget $(queue_name "$key"): holds the messages of an earlier run (read them with 06-msgq-recv, or pass another KEYPATH)"
	expect_status 1 run 06-msgq-recv "$key" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: msgrcv $(queue_name "$key"): holds part of a stream whose sender is gone (now removed: run the pair again)"
	[ ! -s "$T/out" ] || fail "the old messages were written"
	! queue_exists "$key" || fail "the stale queue was not removed"
	echo new | run 06-msgq-send "$key"
	run 06-msgq-recv "$key" > "$T/out"
	echo new | cmp - "$T/out" || fail "the next pair did not work"
}

test_a_queue_left_empty_by_a_killed_receiver_serves_the_next_pair() {
	local key
	key=$(keyfile q.key)
	spawn 06-msgq-recv "$key" > /dev/null
	local receiver=$!
	wait_until queue_exists "$key"
	wait_until is_blocked $receiver
	kill -KILL $receiver
	finished $receiver "$(status_of SIGKILL)"
	echo new | run 06-msgq-send "$key"
	run 06-msgq-recv "$key" > "$T/out"
	echo new | cmp - "$T/out" || fail "the next pair did not work"
	! queue_exists "$key" || fail "queue left behind"
}

# forge_queue KEYPATH TYPE:PACKED...: a queue of ours under that key,
# holding one message per argument (perl's pack: "l!" is the long type).
forge_queue() {
	perl -e '$id = msgget(hex shift, 01600) // die "$!\n";
		for (@ARGV) { ($t, $f, @v) = split /:/; msgsnd($id, pack("l! $f", $t, @v), 0) or die "$!\n" }' \
		"$(ftok_key "$1" "$QPROJ")" "${@:2}"
}

test_a_stale_queue_is_refused_whatever_live_pid_it_names() {
	local key
	key=$(keyfile q.key)
	# What an earlier version left: a ticket with its creator's pid, which
	# kill(pid, 0) took for proof of life. Pid 1 always lives (and root may
	# signal it), as does our shell: neither holds a lock on KEYPATH.
	for pid in 1 $$; do
		forge_queue "$key" "4:i:$pid" "1:a*:old"
		expect_status 1 run 06-msgq-recv "$key" > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "06-msgq-recv: msgrcv $(queue_name "$key"): holds part of a stream whose sender is gone (now removed: run the pair again)"
		[ ! -s "$T/out" ] || fail "the old message was written (pid $pid)"
		! queue_exists "$key" || fail "the stale queue was not removed (pid $pid)"
		forge_queue "$key" "3:i:$pid"
		echo new | expect_status 1 run 06-msgq-send "$key" 2> "$T/err"
		stderr_is "$T/err" "06-msgq-send: msgget $(queue_name "$key"): holds the messages of an earlier run (read them with 06-msgq-recv, or pass another KEYPATH)"
		ipcrm -Q "$(ftok_key "$key" "$QPROJ")"
	done
}

test_a_message_over_msgmax_is_reported_as_that_limit() {
	needs root
	unshare -i true 2> /dev/null || skip "needs unshare -i for a private IPC namespace"
	local key
	key=$(keyfile q.key)
	# msgmax belongs to the IPC namespace: lower it in a private one.
	head -c 2000 /dev/zero > "$T/in"
	expect_status 1 timeout -k 2 "$TMO" unshare -i sh -c \
		'echo 1000 > /proc/sys/kernel/msgmax && exec "$@"' _ "$BIN/06-msgq-send" "$key" \
		< "$T/in" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: msgsnd $(queue_name "$key"): message larger than msgmax (on Linux: /proc/sys/kernel/msgmax)"
}

# refused_as_another_users KEYPATH MODE REASON: a squatter (user 12345) who
# can stat KEYPATH computes the key and gets there first, with a queue of
# MODE (perl's msgget: 01000 is IPC_CREAT). Both programs, run as user
# 12346, refuse it with REASON and leave it as it was.
refused_as_another_users() {
	local key=$1
	shift
	chmod 711 "$T"
	chmod 644 "$key"
	as_user 12345 perl -e 'defined msgget(hex $ARGV[0], 01000 | oct $ARGV[1]) or die "$!\n"' \
		"$(ftok_key "$key" "$QPROJ")" "$1"
	expect_status 1 as_user 12346 "$BIN/06-msgq-recv" "$key" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-recv: $2"
	echo secret | expect_status 1 as_user 12346 "$BIN/06-msgq-send" "$key" 2> "$T/err"
	stderr_is "$T/err" "06-msgq-send: $2"
	queue_exists "$key" || fail "the squatter's queue was removed"
	queue_holds "$key" 0 || fail "something was sent into it"
	ipcrm -Q "$(ftok_key "$key" "$QPROJ")"
}

# Open to all (0666), so only our owner check stands in the way.
test_a_queue_made_by_another_user_is_refused_and_left_alone() {
	needs user-switch
	local key
	key=$(keyfile q.key)
	refused_as_another_users "$key" 666 \
		"msgget queue $(ftok_key "$key" "$QPROJ"): belongs to another user (pass another KEYPATH)"
}

# Mode 0600: we may not even read its state, and IPC_STAT says EACCES.
test_a_queue_of_another_user_we_may_not_read_is_refused_with_the_reason() {
	needs user-switch
	local key
	key=$(keyfile q.key)
	refused_as_another_users "$key" 600 \
		"msgctl IPC_STAT queue $(ftok_key "$key" "$QPROJ"): $(errtext EACCES) (not ours to read: pass another KEYPATH)"
}

test_a_sender_reading_a_terminal_says_how_to_end_the_input() {
	needs cmd script
	local key
	key=$(keyfile q.key)
	script -qec "$BIN/06-msgq-send $key" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "06-msgq-send: reading standard input; end it with Ctrl-D"
	run 06-msgq-recv "$key" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}

# Started under nohup, a waiting receiver keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	local key
	key=$(keyfile q.key)
	RUN="$NOHUP ${RUN:-}" spawn 06-msgq-recv "$key" > /dev/null
	local receiver=$!
	wait_until queue_exists "$key"
	wait_until is_blocked $receiver
	keeps_ignored $receiver HUP
	! queue_exists "$key" || fail "queue left behind"
}
