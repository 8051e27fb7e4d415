# shellcheck shell=bash
# 11-signals: queued real-time signals carry numbers from parent to child.

# squares N: the lines the child must print for COUNT N, in order.
squares() { seq "$1" | awk '{print $1 * $1}'; }

# limited N PROGRAM ARGS...: like run, but with at most N signals pending
# (ulimit -i). The limit counts every pending signal and timer of the user,
# so the program runs as a user of its own (and timeout, which holds a
# timer, stays outside).
# shellcheck disable=SC2086
limited() {
	[ "$(id -u)" = 0 ] || skip "an exact signal limit needs root to switch users"
	timeout -k 2 "$TMO" setpriv --reuid=12311 --regid=12311 --clear-groups -- \
		bash -c 'ulimit -i "$1" && shift && exec "$@"' _ "$1" ${RUN:-} "$BIN/$2" "${@:3}"
}

USR1_LINE() { printf '11-signals: standard signal SIGUSR1: sent %d, received 1\n' "$1"; }

test_default_count_gives_exactly_5_lines_in_order() {
	run 11-signals > "$T/out" 2> "$T/err"
	squares 5 > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 5)"
}

test_count_1_gives_one_line() {
	run 11-signals 1 > "$T/out" 2> "$T/err"
	printf '1\n' > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 1)"
}

test_count_at_the_limit_of_1000_arrives_complete_and_in_order() {
	run 11-signals 1000 > "$T/out" 2> "$T/err"
	squares 1000 > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 1000)"
}

test_a_small_pending_signal_limit_makes_the_parent_wait_not_fail() {
	limited 4 11-signals 1000 > "$T/out" 2> "$T/err"
	squares 1000 > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 1000)"
}

test_no_room_at_all_for_pending_signals_is_an_error_not_a_hang() {
	expect_status 1 limited 0 11-signals 3 > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "11-signals: sigqueue SIGRTMIN: Resource temporarily unavailable (too many signals pending; see ulimit -i)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_bad_counts_are_usage_errors() {
	local bad
	for bad in 0 -1 1001 99999999999999999999 x 5x ' 5' +5 ''; do
		expect_status 2 run 11-signals "$bad" > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "usage: 11-signals [COUNT]   (default COUNT: 5, at most 1000)"
		[ ! -s "$T/out" ] || fail "output for COUNT '$bad'"
	done
	expect_status 2 run 11-signals 1 2 2> "$T/err"
	stderr_is "$T/err" "usage: 11-signals [COUNT]   (default COUNT: 5, at most 1000)"
}

test_a_closed_standard_output_ends_both_processes_quietly() {
	# A pipe nobody reads: open a FIFO both ways, add a writer, drop the reader.
	mkfifo "$T/p"
	# shellcheck disable=SC2094 # both ends of one FIFO, on purpose
	exec 3<> "$T/p" 4> "$T/p" 3<&-
	set +e
	run 11-signals 5 >&4 2> "$T/err"
	local status=$?
	set -e
	[ "$status" = 141 ] || fail "exited $status, expected death by SIGPIPE"
	[ ! -s "$T/err" ] || fail "not quiet"
}

test_a_signal_from_another_process_is_ignored_and_reported() {
	# Room for 4 pending signals (one is SIGUSR1's) and a full pipe as
	# the child's output: the child takes one signal and waits to write it,
	# the queue fills up, the parent retries.
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	dd if=/dev/zero of=/dev/fd/4 bs=4096 oflag=nonblock 2> /dev/null || true
	limited 4 11-signals 20 > "$T/stall" 2> "$T/err" &
	# $! is the subshell running limited; below it: timeout, the program.
	local job=$! timer parent child
	wait_until pgrep -P $job > /dev/null
	timer=$(pgrep -P $job)
	wait_until pgrep -P "$timer" > /dev/null
	parent=$(pgrep -P "$timer")
	wait_until pgrep -P "$parent" > /dev/null
	child=$(pgrep -P "$parent")
	wait_until grep -q '^SigQ:[[:space:]]*4/4$' "/proc/$child/status"
	wait_until is_blocked "$child"
	# Hold the parent, let the child print what is queued (1 4 9 16),
	# then slip in a signal of our own before the parent's next.
	kill -STOP "$parent"
	cat <&4 > "$T/out" &
	wait_until grep -qx 16 "$T/out"
	kill -s RTMIN "$child"
	kill -CONT "$parent"
	finished $job 0
	squares 20 | cmp - <(tr -d '\0' < "$T/out") || fail "wrong output"
	{
		printf '11-signals: ignored signal %d not queued by the parent\n' "$(kill -l RTMIN)"
		USR1_LINE 20
	} > "$T/expected"
	diff -u "$T/expected" "$T/err" >&2 || fail "unexpected messages"
}

test_sigterm_while_waiting_for_the_child_stops_it_too() {
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	dd if=/dev/zero of=/dev/fd/4 bs=4096 oflag=nonblock 2> /dev/null || true
	spawn 11-signals 5 > "$T/stall" 2> "$T/err"
	local parent=$! child
	wait_until pgrep -P $parent > /dev/null
	child=$(pgrep -P $parent)
	wait_until is_blocked $parent
	wait_until is_blocked "$child"
	kill -TERM $parent
	finished $parent 143
	[ ! -e "/proc/$child" ] || fail "child $child outlived its parent"
	[ ! -s "$T/err" ] || fail "unexpected messages"
}

test_a_killed_child_is_reported_by_the_parent() {
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	dd if=/dev/zero of=/dev/fd/4 bs=4096 oflag=nonblock 2> /dev/null || true
	spawn 11-signals 5 > "$T/stall" 2> "$T/err"
	local parent=$! child
	wait_until pgrep -P $parent > /dev/null
	child=$(pgrep -P $parent)
	wait_until is_blocked "$child"
	kill -KILL "$child"
	finished $parent 1
	stderr_is "$T/err" "11-signals: waitpid child: killed by signal 9"
}
