# shellcheck shell=bash
# 17-eventfd: a shared ring with eventfd doorbells, the peer's death polled
# through a pidfd, or through a pipe where pidfds are missing.

# MODES: pidfd, as the kernel gives it; fallback, with pidfd_open failing
# with ENOSYS (strace's fault injection), as under valgrind or an old
# kernel. Under RUN (the valgrind gate) both use RUN, which has no pidfds.
MODES="pidfd fallback"
NO_PIDFD="strace -f -qq -o /dev/null -e inject=pidfd_open:error=ENOSYS"

# in_mode MODE COMMAND...: run COMMAND (which starts 17-eventfd with run
# or spawn) in that mode.
in_mode() {
	local mode=$1
	shift
	if [ "$mode" = fallback ] && [ -z "${RUN:-}" ]; then
		needs cmd strace
		RUN=$NO_PIDFD "$@"
	else
		"$@"
	fi
}

# start MODE: 17-eventfd in the background reading the FIFO $T/feed (held
# open on descriptor 3), writing $T/out and $T/err; sets $spawned, $parent
# (17-eventfd itself: under strace, its child) and $child, once a first
# chunk has come through.
start() {
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	in_mode "$1" spawn 17-eventfd < "$T/feed" > "$T/out" 2> "$T/err" 3>&-
	spawned=$!
	parent=$spawned
	if [ "$1" = fallback ] && [ -z "${RUN:-}" ]; then parent=$(child_of $spawned); fi
	child=$(child_of "$parent")
	printf 'first\n' >&3
	wait_until grep -q first "$T/out"
}

# ms_since NANOSECONDS: milliseconds elapsed since that date +%s%N.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# promptly STARTED WHAT: fail if more than a second has passed since
# STARTED (not checked under RUN, which slows everything down).
promptly() {
	local ms
	ms=$(ms_since "$1")
	[ -n "${RUN:-}" ] || [ "$ms" -lt 1000 ] || fail "$2 noticed after $ms ms"
}

test_text_empty_binary_and_100_MB_come_through_unchanged() {
	local mode slots big
	big=$(input big 100000000)
	for mode in $MODES; do
		printf 'hello through a ring with doorbells\n' > "$T/in"
		in_mode "$mode" run 17-eventfd < "$T/in" > "$T/out"
		same "$T/in" "$T/out"
		in_mode "$mode" run 17-eventfd < /dev/null > "$T/out"
		[ ! -s "$T/out" ] || fail "$mode: output for empty input"
		for slots in 1 8 64; do
			in_mode "$mode" run 17-eventfd $slots < "$(input small 300000)" > "$T/out"
			same "$(input small 300000)" "$T/out"
		done
		in_mode "$mode" run 17-eventfd < "$big" > "$T/out"
		same "$big" "$T/out"
	done
}

test_sigchld_inherited_ignored_still_leaves_the_child_to_the_parent() {
	# Ignored, it would have the kernel reap the child: waitpid, ECHILD.
	local mode
	printf 'hello through a ring with doorbells\n' > "$T/in"
	for mode in $MODES; do
		in_mode "$mode" ignoring_sigchld 17-eventfd < "$T/in" > "$T/out" 2> "$T/err"
		same "$T/in" "$T/out"
		[ ! -s "$T/err" ] || fail "$mode: not quiet: $(cat "$T/err")"
	done
}

test_a_child_killed_mid_stream_is_noticed_at_once() {
	local mode started
	for mode in $MODES; do
		start "$mode"
		started=$(date +%s%N)
		kill -KILL "$child"
		finished $spawned 1
		promptly "$started" "$mode: the child's death"
		stderr_is "$T/err" "17-eventfd: child killed by signal $(signum SIGKILL)"
		exec 3>&-
		rm "$T/feed"
	done
}

test_a_parent_killed_mid_stream_ends_the_child_at_once() {
	local mode started
	for mode in $MODES; do
		start "$mode"
		started=$(date +%s%N)
		kill -KILL "$parent"
		wait_until exited "$child"
		promptly "$started" "$mode: the parent's death"
		wait $spawned || true
		stderr_is "$T/err" "17-eventfd: poll parent: the parent died before the end (the output is cut short)"
		printf 'first\n' | cmp - "$T/out" || fail "$mode: wrong output"
		exec 3>&-
		rm "$T/feed"
	done
}

test_sigterm_on_the_parent_stops_both() {
	local mode
	for mode in $MODES; do
		start "$mode"
		kill -TERM "$parent"
		finished $spawned $((128 + $(signum SIGTERM)))
		wait_until exited "$child"
		[ ! -s "$T/err" ] || fail "$mode: not quiet: $(cat "$T/err")"
		exec 3>&-
		rm "$T/feed"
	done
}

test_ctrl_c_stops_both() {
	# Job control: the job gets a process group of its own, as a
	# terminal's foreground job, and Ctrl-C signals the whole group.
	set -m
	start pidfd
	kill -INT -- -"$parent"
	finished "$parent" $((128 + $(signum SIGINT)))
	wait_until exited "$child"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
}

test_a_closed_output_ends_both_quietly() {
	local mode
	for mode in $MODES; do
		in_mode "$mode" quiet_under_head 10 17-eventfd < "$(input small 300000)"
	done
}

test_the_doorbells_are_two_semaphores_and_a_counter() {
	stall_output
	spawn 17-eventfd < "$(input small 300000)" > "$STALL"
	local parent=$! child fd
	child=$(child_of $parent)
	wait_until is_blocked "$child"
	for fd in "/proc/$parent/fdinfo"/*; do
		sed -n 's/^eventfd-semaphore:[[:space:]]*//p' "$fd"
	done | sort > "$T/modes"
	printf '0\n1\n1\n' | cmp - "$T/modes" || fail "eventfd modes: $(tr '\n' ' ' < "$T/modes")"
	kill -TERM $parent
	finished $parent $((128 + $(signum SIGTERM)))
}

test_a_full_byte_counter_is_an_error_not_a_hang() {
	needs cmd strace
	[ -z "${RUN:-}" ] || skip "strace cannot attach under RUN"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 17-eventfd < "$T/feed" > "$T/out" 2> "$T/err" 3>&-
	local parent=$! child
	child=$(child_of $parent)
	# The child's next writes: the slot to standard output, then the
	# byte counter, which strace makes fail as a full counter does.
	strace -qq -o /dev/null -p "$child" -e inject=write:error=EAGAIN:when=2 &
	wait_until grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$child/status"
	printf 'counted\n' >&3
	finished $parent 1
	stderr_is "$T/err" "17-eventfd: write byte counter: the counter is full"
	printf 'counted\n' | cmp - "$T/out" || fail "wrong output"
}

test_bad_slots_are_usage_errors() {
	local bad
	for bad in 0 65 -1 x 8x ' 8' +8 '' 99999999999999999999; do
		expect_status 2 run 17-eventfd "$bad" < /dev/null > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "usage: 17-eventfd [SLOTS]   (default SLOTS: 8, at most 64)"
		[ ! -s "$T/out" ] || fail "output for SLOTS '$bad'"
	done
	expect_status 2 run 17-eventfd 1 2 < /dev/null 2> /dev/null
}

test_a_parent_that_fails_stops_its_child_and_says_one_line() {
	# A directory as standard input: the parent's read fails.
	spawn 17-eventfd < "$T" > "$T/out" 2> "$T/err"
	local parent=$! child
	child=$(pgrep -P $parent | head -n 1 || true)
	finished $parent 1
	stderr_is "$T/err" "17-eventfd: read standard input: $(errtext EISDIR)"
	# The parent reaped its child before it exited.
	[ -z "$child" ] || exited "$child" || fail "child $child is left"
	! pgrep -f "$BIN/17-eventfd" > /dev/null || fail "a 17-eventfd is left"
	[ ! -s "$T/out" ] || fail "output from a failed run"
}

# Started under nohup, the parent keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	RUN="$NOHUP ${RUN:-}" start pidfd
	keeps_ignored "$parent" HUP
	wait_until exited "$child"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
	exec 3>&-
}
