# shellcheck shell=bash
# 11-signals: queued real-time signals carry numbers from parent to child.

# squares N: the lines the child must print for COUNT N, in order.
squares() { seq "$1" | awk '{print $1 * $1}'; }

# limited N PROGRAM ARGS...: like run, but with at most N signals pending
# (ulimit -i). The limit counts every pending signal and timer of the user,
# so the program runs as a user of its own (and timeout, which holds a
# timer, stays outside).
# A case that uses it starts with needs user-switch: skip, called here from
# a background job, would end only that job.
# shellcheck disable=SC2086
limited() {
	timeout -k 2 "$TMO" setpriv --reuid=12311 --regid=12311 --clear-groups -- \
		bash -c 'ulimit -i "$1" && shift && exec "$@"' _ "$1" ${RUN:-} "$BIN/$2" "${@:3}"
}

# spawn_ignoring_sigchld PROGRAM ARGS...: like spawn, with SIGCHLD ignored.
# shellcheck disable=SC2086
spawn_ignoring_sigchld() {
	bash -c 'trap "" CHLD && exec "$@"' _ ${RUN:-} "$BIN/$1" "${@:2}" <&0 &
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
	needs user-switch
	limited 4 11-signals 1000 > "$T/out" 2> "$T/err"
	squares 1000 > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 1000)"
}

test_no_room_at_all_for_pending_signals_is_an_error_not_a_hang() {
	needs user-switch
	expect_status 1 limited 0 11-signals 3 > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "11-signals: sigqueue SIGRTMIN: $(errtext EAGAIN) (too many signals pending; see ulimit -i)"
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

test_sigchld_inherited_ignored_still_leaves_the_child_to_the_parent() {
	# Ignored, it would have the kernel reap the child: waitpid, ECHILD.
	ignoring_sigchld 11-signals 3 > "$T/out" 2> "$T/err"
	squares 3 > "$T/expected"
	same "$T/expected" "$T/out"
	stderr_is "$T/err" "$(USR1_LINE 3)"
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
	[ "$status" = $((128 + $(signum SIGPIPE))) ] || fail "exited $status, expected death by SIGPIPE"
	[ ! -s "$T/err" ] || fail "not quiet"
}

test_sigpipe_inherited_ignored_still_ends_both_quietly() {
	mkfifo "$T/p"
	# shellcheck disable=SC2094 # both ends of one FIFO, on purpose
	exec 3<> "$T/p" 4> "$T/p" 3<&-
	trap '' PIPE # what the program inherits
	set +e
	run 11-signals 5 >&4 2> "$T/err"
	local status=$?
	set -e
	[ "$status" = $((128 + $(signum SIGPIPE))) ] || fail "exited $status, expected death by SIGPIPE"
	[ ! -s "$T/err" ] || fail "not quiet"
}

test_a_signal_from_another_process_is_ignored_and_reported() {
	needs user-switch
	# Room for 4 pending signals (one is SIGUSR1's) and a full pipe as
	# the child's output: the child takes one signal and waits to write it,
	# the queue fills up, the parent retries.
	stall_output
	fill_the_stall
	limited 4 11-signals 20 > "$STALL" 2> "$T/err" &
	# $! is the subshell running limited; below it: timeout, the program.
	local job=$! timer parent child
	timer=$(child_of $job)
	parent=$(child_of "$timer")
	child=$(child_of "$parent")
	wait_until grep -q '^SigQ:[[:space:]]*4/4$' "/proc/$child/status"
	wait_until is_blocked "$child"
	# Hold the parent, let the child print what is queued (1 4 9 16),
	# then slip in a signal of our own before the parent's next.
	kill -STOP "$parent"
	cat <&4 > "$T/out" &
	wait_until grep -qx 16 "$T/out"
	kill -n "$(signum SIGRTMIN)" "$child"
	kill -CONT "$parent"
	finished $job 0
	squares 20 | cmp - <(tr -d '\0' < "$T/out") || fail "wrong output"
	{
		printf '11-signals: ignored signal %d not queued by the parent\n' "$(signum SIGRTMIN)"
		USR1_LINE 20
	} > "$T/expected"
	diff -u "$T/expected" "$T/err" >&2 || fail "unexpected messages"
}

# fill_the_stall: $STALL's pipe full, so the child's first line blocks.
fill_the_stall() { dd if=/dev/zero of=/dev/fd/4 bs=4096 oflag=nonblock 2> /dev/null || true; }

# stopped_by SIGNAL [SPAWN]: the parent, started by SPAWN (spawn unless
# given), waiting for a child blocked on a stalled output, takes SIGNAL,
# stops the child and dies of SIGNAL.
stopped_by() {
	stall_output
	fill_the_stall
	"${2:-spawn}" 11-signals 5 > "$STALL" 2> "$T/err"
	local parent=$! child
	child=$(child_of $parent)
	wait_until is_blocked $parent
	wait_until is_blocked "$child"
	kill -n "$(signum "$1")" $parent
	finished $parent $((128 + $(signum "$1")))
	[ ! -e "/proc/$child" ] || fail "child $child outlived its parent"
	[ ! -s "$T/err" ] || fail "unexpected messages: $(cat "$T/err")"
}

test_sigterm_while_waiting_for_the_child_stops_it_too() { stopped_by SIGTERM; }
test_sigquit_while_waiting_for_the_child_stops_it_too() { stopped_by SIGQUIT; }
test_sigusr1_on_the_parent_stops_both() { stopped_by SIGUSR1; }
test_the_real_time_signal_of_the_lesson_on_the_parent_stops_both() { stopped_by SIGRTMIN; }
test_another_real_time_signal_on_the_parent_stops_both() { stopped_by SIGRTMIN+3; }
test_sigterm_with_sigchld_inherited_ignored_stops_both() { stopped_by SIGTERM spawn_ignoring_sigchld; }

test_a_killed_child_is_reported_by_the_parent() {
	stall_output
	fill_the_stall
	spawn 11-signals 5 > "$STALL" 2> "$T/err"
	local parent=$! child
	child=$(child_of $parent)
	wait_until is_blocked "$child"
	kill -KILL "$child"
	finished $parent 1
	stderr_is "$T/err" "11-signals: child killed by signal $(signum SIGKILL)"
}

test_closed_standard_input_and_error_change_nothing() {
	# Not under $RUN: valgrind would take the closed descriptors for itself.
	timeout -k 2 "$TMO" "$BIN/11-signals" 3 <&- 2>&- > "$T/out"
	squares 3 | cmp - "$T/out" || fail "wrong output"
}

test_a_closed_standard_output_is_an_error() {
	expect_status 1 timeout -k 2 "$TMO" "$BIN/11-signals" 3 >&- 2> "$T/err"
	stderr_is "$T/err" "11-signals: dprintf standard output: $(errtext EBADF)"
}

test_an_output_past_the_file_size_limit_is_reported() {
	# Not under $RUN: valgrind's own log would pass the limit.
	(
		ulimit -f 1 # 1024 bytes: SIGXFSZ, ignored, makes write fail instead
		expect_status 1 timeout -k 2 "$TMO" "$BIN/11-signals" 1000 > "$T/out" 2> "$T/err"
	)
	stderr_is "$T/err" "11-signals: dprintf standard output: $(errtext EFBIG)"
	squares 1000 | head -c 1024 | cmp - "$T/out" || fail "the output is not the first 1024 bytes"
}

# Started under nohup, the parent keeps SIGHUP ignored: it does not take it
# with its stop signals.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	stall_output
	fill_the_stall
	RUN="$NOHUP ${RUN:-}" spawn 11-signals 5 > "$STALL" 2> "$T/err"
	local parent=$! child
	child=$(child_of $parent)
	wait_until is_blocked $parent
	wait_until is_blocked "$child"
	keeps_ignored $parent HUP
	[ ! -e "/proc/$child" ] || fail "child $child outlived its parent"
	[ ! -s "$T/err" ] || fail "unexpected messages: $(cat "$T/err")"
}
