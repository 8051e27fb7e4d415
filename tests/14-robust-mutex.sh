# shellcheck shell=bash
# 14-robust-mutex: workers over an anonymous shared mapping, one robust
# process-shared mutex, an undo journal, and workers that die holding it.

USAGE='usage: 14-robust-mutex [-w WORKERS] [-n TRANSFERS] [-k K] [-r] [-s] [-u]   (default: 4 workers, 10000 transfers each)'
summary() { printf '%s%s, %s transfers, accounts sum to 1000000 (as they should)\n' "$@"; }
rolled_back='^14-robust-mutex: worker [1-9][0-9]* died holding the lock in mid-transfer; rolled it back$'

# recoveries_are N: $T/err holds exactly N recovery lines and nothing else.
recoveries_are() {
	[ "$(grep -c "$rolled_back" "$T/err")" = "$1" ] && [ "$(wc -l < "$T/err")" = "$1" ] ||
		fail "expected $1 recovery lines, got: $(cat "$T/err")"
}
# only_line LINE: every line of $T/err is LINE, and there is one at least.
only_line() {
	[ -s "$T/err" ] && [ "$(sort -u "$T/err")" = "$1" ] || fail "unexpected messages: $(cat "$T/err")"
}

test_the_defaults_move_40000_transfers_and_keep_the_sum() {
	run 14-robust-mutex > "$T/out" 2> "$T/err"
	summary '4 workers' '' 40000 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
	[ ! -s "$T/err" ] || fail "unexpected messages"
}

test_one_worker_and_one_transfer() {
	run 14-robust-mutex -w 1 -n 1 > "$T/out"
	summary '1 worker' '' 1 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
}

test_sixty_four_workers() {
	run 14-robust-mutex -w 64 -n 500 > "$T/out"
	summary '64 workers' '' 32000 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
}

test_a_worker_killed_in_its_first_transfer_is_rolled_back() {
	run 14-robust-mutex -k 1 > "$T/out" 2> "$T/err"
	summary '4 workers' ' (1 killed)' 30000 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
	recoveries_are 1
}

test_a_worker_killed_in_its_last_transfer_is_rolled_back() {
	run 14-robust-mutex -w 3 -n 2000 -k 2000 > "$T/out" 2> "$T/err"
	summary '3 workers' ' (1 killed)' 5999 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
	recoveries_are 1
}

test_the_dead_worker_named_is_the_one_that_was_killed() {
	needs cmd strace
	# raise(SIGKILL) is the tgkill system call in glibc, tkill in musl.
	# LeakSanitizer cannot work under ptrace: off for this one run.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=tgkill,tkill -e signal=none -o "$T/trace" \
		"$BIN/14-robust-mutex" -k 7 > /dev/null 2> "$T/err"
	local pid
	pid=$(sed -n 's/^\([0-9]*\) *t*g*kill(.*SIGKILL.*/\1/p' "$T/trace")
	[ -n "$pid" ] || fail "no worker was killed"
	grep -qx "14-robust-mutex: worker $pid died holding the lock in mid-transfer; rolled it back" "$T/err" ||
		fail "the line does not name worker $pid: $(cat "$T/err")"
}

test_the_last_holder_dying_with_nobody_left_is_repaired_by_the_parent() {
	run 14-robust-mutex -w 1 -n 3 -k 3 > "$T/out" 2> "$T/err"
	summary '1 worker' ' (1 killed)' 2 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
	recoveries_are 1
}

test_a_recoverer_killed_before_consistent_leaves_the_job_to_the_next() {
	run 14-robust-mutex -k 5 -r > "$T/out" 2> "$T/err"
	grep -qx '4 workers (2 killed), [0-9]* transfers, accounts sum to 1000000 (as they should)' "$T/out" ||
		fail "wrong summary: $(cat "$T/out")"
	recoveries_are 1
}

test_unlocking_without_consistent_makes_the_lock_unrecoverable() {
	expect_status 1 run 14-robust-mutex -k 3 -u > "$T/out" 2> "$T/err"
	grep "$rolled_back" "$T/err" > /dev/null || fail "no recovery line"
	sed -i "/rolled it back/d" "$T/err"
	only_line "14-robust-mutex: pthread_mutex_timedlock the accounts' lock: $(errtext ENOTRECOVERABLE) (an owner died and nobody called pthread_mutex_consistent)"
	[ ! -s "$T/out" ] || fail "a summary was printed"
}

test_sigchld_inherited_ignored_still_leaves_the_workers_to_the_parent() {
	# Ignored, it would have the kernel reap them: waitpid, ECHILD.
	ignoring_sigchld 14-robust-mutex -n 100 -k 5 > "$T/out" 2> "$T/err"
	summary '4 workers' ' (1 killed)' 304 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
	recoveries_are 1
}

test_a_default_mutex_leaves_the_others_stuck_and_ends_within_its_bound() {
	local started=$SECONDS
	expect_status 1 run 14-robust-mutex -s -k 3 > "$T/out" 2> "$T/err"
	[ $((SECONDS - started)) -le 5 ] || fail "took $((SECONDS - started)) s"
	only_line "14-robust-mutex: pthread_mutex_timedlock the accounts' lock: still held after 1 s (its holder died: a default mutex never recovers)"
	[ ! -s "$T/out" ] || fail "a summary was printed"
}

test_a_default_mutex_with_nobody_killed_works() {
	run 14-robust-mutex -s -n 2000 > "$T/out"
	summary '4 workers' '' 8000 | cmp - "$T/out" || fail "wrong summary: $(cat "$T/out")"
}

test_a_worker_killed_from_outside_at_any_moment_keeps_the_sum() {
	# Long enough (about a second) that the run is not over before the kill
	# on a busy machine; under $RUN (valgrind) a tenth of it takes as long.
	local transfers=1000000
	[ -z "${RUN:-}" ] || transfers=100000
	spawn 14-robust-mutex -n $transfers > "$T/out" 2> "$T/err"
	local parent=$! worker
	worker=$(child_of $parent)
	kill -KILL "$worker"
	finished $parent 0
	grep -qx '4 workers (1 killed), [0-9]* transfers, accounts sum to 1000000 (as they should)' "$T/out" ||
		fail "wrong summary: $(cat "$T/out")"
	[ ! -s "$T/err" ] || grep -q "^14-robust-mutex: worker $worker died holding the lock" "$T/err" ||
		fail "unexpected messages: $(cat "$T/err")"
}

# parent_dies_of SIGNAL STATUS: a parent killed by SIGNAL while its 8
# workers run ends with STATUS, and the kernel ends every worker with it
# (their death signal): each is gone, or a zombie for init to reap.
parent_dies_of() {
	spawn 14-robust-mutex -w 8 -n 1000000 > "$T/out"
	local parent=$!
	wait_until eval '[ "$(pgrep -c -P '"$parent"')" = 8 ]'
	local workers
	workers=$(pgrep -P $parent)
	kill -s "$1" $parent
	finished $parent "$2"
	local pid
	for pid in $workers; do
		wait_until exited "$pid"
	done
	[ ! -s "$T/out" ] || fail "a summary was printed"
}

test_sigterm_on_the_parent_leaves_no_worker_behind() {
	parent_dies_of TERM 143
}

test_sigkill_on_the_parent_leaves_no_worker_behind() {
	parent_dies_of KILL 137
}

test_a_failed_fork_leaves_no_worker_behind() {
	needs user-switch
	# A uid of this case alone: RLIMIT_NPROC counts every process of the user,
	# here the program and its first two workers.
	local uid=14014
	expect_status 1 as_user $uid bash -c 'ulimit -u 3 && exec "$0" -w 8 -n 1000000' \
		"$BIN/14-robust-mutex" > "$T/out" 2> "$T/err"
	# A worker may outlive another by a moment and report its death.
	sed -i "/^14-robust-mutex: worker [0-9]* died holding the lock/d" "$T/err"
	stderr_is "$T/err" "14-robust-mutex: fork worker: $(errtext EAGAIN)"
	# The kernel kills the workers as the parent dies: wait for that, no more.
	local -a left
	local pid tries=$((TMO * 50))
	mapfile -t left < <(pgrep -u $uid)
	for pid in "${left[@]}"; do
		until exited "$pid" || [ $((tries -= 1)) = 0 ]; do sleep 0.02; done
	done
	mapfile -t left < <(pgrep -u $uid -r R,S,D,T,t)
	[ ${#left[@]} = 0 ] || { kill -KILL "${left[@]}"; fail "workers left running: ${left[*]}"; }
	[ ! -s "$T/out" ] || fail "a summary was printed"
}

test_bad_options_exit_2_with_the_usage_line() {
	local args
	for args in '-w 0' '-w 65' '-n x' '-n 0' '-n 1000001' '-k 0' '-n 10 -k 11' '-x' '-w' 'extra' '-w 2x'; do
		# shellcheck disable=SC2086 # each case is several words
		expect_status 2 run 14-robust-mutex $args > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "$USAGE"
		[ ! -s "$T/out" ] || fail "output for $args"
	done
}
