# shellcheck shell=bash
# 15-lock: a command run under a file lock of each kind.

KINDS="ofd posix flock"
UNNAMED="already locked (this kind of lock does not name its holder)"

# hold KIND [OPTIONS...]: a 15-lock holding $T/lock of KIND while its
# command sleeps; sets $holder (15-lock) and $sleeper (its command) and
# returns once the lock is taken and the command runs (its child is
# `sleep` only once it has exec'd: before, a signal finds 15-lock's code).
hold() {
	spawn 15-lock -m "$1" "${@:2}" -f "$T/lock" sleep 30
	holder=$!
	sleeper=$(child_of "$holder")
	wait_until grep -qx sleep "/proc/$sleeper/comm"
}

# release: end the holder with SIGTERM, which it forwards to its command.
release() {
	kill -TERM "$holder"
	finished "$holder" $((128 + $(signum SIGTERM)))
}

# is_free KIND: another 15-lock -n gets the lock at once.
is_free() { run 15-lock -m "$1" -n -f "$T/lock" true 2> /dev/null; }

test_four_parallel_loops_of_increments_end_at_exactly_40_for_each_kind() {
	local kind
	for kind in $KINDS; do
		echo 0 > "$T/count"
		for _ in 1 2 3 4; do
			(for _ in $(seq 10); do
				run 15-lock -m "$kind" -f "$T/lock" sh -c 'n=$(cat "$1"); echo $((n + 1)) > "$1"' _ "$T/count"
			done) &
		done
		wait
		[ "$(cat "$T/count")" = 40 ] || fail "$kind: the count is $(cat "$T/count"), not 40"
	done
}

test_n_while_held_fails_at_once_naming_the_holder_only_for_a_posix_lock() {
	local kind call
	for kind in $KINDS; do
		hold "$kind"
		expect_status 1 run 15-lock -m "$kind" -n -f "$T/lock" echo ran > "$T/out" 2> "$T/err"
		call=fcntl
		[ "$kind" = flock ] && call=flock
		if [ "$kind" = posix ]; then
			stderr_is "$T/err" "15-lock: fcntl $T/lock: already locked by pid $holder"
		else
			stderr_is "$T/err" "15-lock: $call $T/lock: $UNNAMED"
		fi
		[ ! -s "$T/out" ] || fail "$kind: the command ran"
		release
		is_free "$kind" || fail "$kind: not free after the holder ended"
	done
}

test_w_waits_that_long_then_fails() {
	local kind started elapsed
	for kind in $KINDS; do
		hold "$kind"
		started=$(date +%s%N)
		# Not under RUN: valgrind 3.19 lets the first SIGALRM kill a
		# process that waits in a lock call instead of running its handler.
		RUN='' expect_status 1 run 15-lock -m "$kind" -w 1 -f "$T/lock" echo ran > "$T/out" 2> "$T/err"
		elapsed=$((($(date +%s%N) - started) / 1000000))
		[ "$elapsed" -ge 1000 ] || fail "$kind: gave up after $elapsed ms, before 1 s"
		call=fcntl
		[ "$kind" = flock ] && call=flock
		stderr_is "$T/err" "15-lock: $call $T/lock: still locked when the -w time was up"
		[ ! -s "$T/out" ] || fail "$kind: the command ran"
		release
	done
}

test_w_gets_the_lock_when_the_holder_ends_in_time() {
	hold posix
	spawn 15-lock -m posix -w 20 -f "$T/lock" echo ran > "$T/out"
	local waiter=$!
	wait_until is_blocked "$waiter"
	release
	finished "$waiter" 0
	echo ran | cmp - "$T/out" || fail "wrong output"
}

test_a_holder_killed_with_sigkill_lets_the_waiter_in() {
	local kind waiter
	for kind in $KINDS; do
		hold "$kind"
		spawn 15-lock -m "$kind" -f "$T/lock" echo ran > "$T/out"
		waiter=$!
		wait_until is_blocked "$waiter"
		[ ! -s "$T/out" ] || fail "$kind: the waiter did not wait"
		kill -KILL "$holder"
		finished "$holder" $((128 + $(signum SIGKILL)))
		finished "$waiter" 0
		echo ran | cmp - "$T/out" || fail "$kind: wrong output"
		kill -TERM "$sleeper"
	done
}

test_r_shows_a_posix_lock_lost_by_closing_another_descriptor() {
	local kind
	for kind in $KINDS; do
		hold "$kind" -r
		if [ "$kind" = posix ]; then
			is_free posix || fail "the posix lock survived the close"
		else
			! is_free "$kind" || fail "the $kind lock was lost"
		fi
		release
	done
}

test_shared_locks_go_together_and_keep_out_an_exclusive_one() {
	local kind
	for kind in $KINDS; do
		hold "$kind" -s
		expect_status 0 run 15-lock -m "$kind" -s -n -f "$T/lock" true
		expect_status 1 run 15-lock -m "$kind" -n -f "$T/lock" true 2> /dev/null
		release
	done
}

test_command_gets_no_lock_descriptor_and_its_background_child_holds_nothing() {
	local kind
	for kind in $KINDS; do
		run 15-lock -m "$kind" -f "$T/lock" sh -c \
			'for f in /proc/$$/fd/*; do readlink "$f"; done; sleep 30 < /dev/null > /dev/null 2>&1 &
			echo $! > "$1"' _ "$T/orphan" > "$T/fds"
		! grep -F "$T/lock" "$T/fds" || fail "$kind: COMMAND inherited the lock descriptor"
		exited "$(cat "$T/orphan")" && fail "the background child is gone already"
		is_free "$kind" || fail "$kind: the background child holds the lock"
		kill -TERM "$(cat "$T/orphan")"
	done
}

test_the_lock_file_is_made_0600_and_left_in_place() {
	run 15-lock -f "$T/lock" true
	[ "$(stat -c %a "$T/lock")" = 600 ] || fail "mode $(stat -c %a "$T/lock")"
	(umask 0; run 15-lock -f "$T/lock2" true)
	[ "$(stat -c %a "$T/lock2")" = 600 ] || fail "mode under umask 0: $(stat -c %a "$T/lock2")"
}

test_a_symlink_a_fifo_or_a_directory_is_refused_without_blocking() {
	: > "$T/target"
	ln -s "$T/target" "$T/link"
	expect_status 1 run 15-lock -f "$T/link" echo ran 2> "$T/err"
	stderr_is "$T/err" "15-lock: open $T/link: $(errtext ELOOP) (a symbolic link is not followed; pass the file itself)"
	mkfifo "$T/fifo"
	expect_status 1 run 15-lock -f "$T/fifo" echo ran 2> "$T/err"
	stderr_is "$T/err" "15-lock: open $T/fifo: not a regular file (pass a lock file)"
	mkdir "$T/dir"
	expect_status 1 run 15-lock -f "$T/dir" echo ran 2> "$T/err"
	stderr_is "$T/err" "15-lock: open $T/dir: $(errtext EISDIR)"
	[ -p "$T/fifo" ] && [ -d "$T/dir" ] && [ -L "$T/link" ] || fail "something was removed"
}

test_a_file_others_may_open_is_refused() {
	: > "$T/lock"
	chmod 640 "$T/lock"
	expect_status 1 run 15-lock -f "$T/lock" echo ran > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "15-lock: open $T/lock: others may open it, and hold its lock for ever (chmod 600 it)"
	[ ! -s "$T/out" ] || fail "the command ran"
}

test_another_users_file_is_refused() {
	needs root
	: > "$T/lock"
	chmod 600 "$T/lock"
	chown 65534 "$T/lock"
	expect_status 1 run 15-lock -f "$T/lock" echo ran > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "15-lock: open $T/lock: belongs to another user, who could hold its lock for ever (pass a file of yours)"
	[ ! -s "$T/out" ] || fail "the command ran"
}

test_the_exit_status_or_the_signal_of_command_is_ours() {
	expect_status 0 run 15-lock -f "$T/lock" true
	expect_status 3 run 15-lock -f "$T/lock" sh -c 'exit 3'
	expect_status $((128 + $(signum SIGTERM))) run 15-lock -f "$T/lock" sh -c 'kill -TERM $$'
	expect_status $((128 + $(signum SIGKILL))) run 15-lock -f "$T/lock" sh -c 'kill -KILL $$'
	expect_status 127 run 15-lock -f "$T/lock" "$T/nonexistent" 2> "$T/err"
	stderr_is "$T/err" "15-lock: exec $T/nonexistent: $(errtext ENOENT)"
	: > "$T/plain"
	expect_status 126 run 15-lock -f "$T/lock" "$T/plain" 2> "$T/err"
	stderr_is "$T/err" "15-lock: exec $T/plain: $(errtext EACCES)"
}

test_a_command_name_with_a_control_byte_cannot_forge_a_line() {
	local name="$T/no"$'\n'"15-lock: forged"$'\033'
	expect_status 127 run 15-lock -f "$T/lock" "$name" 2> "$T/err"
	stderr_is "$T/err" "15-lock: exec $T/no\\01215-lock: forged\\033: $(errtext ENOENT)"
	[ "$(wc -l < "$T/err")" = 1 ] || fail "more than one line: $(cat "$T/err")"
}

test_options_after_command_are_the_commands_own() {
	run 15-lock -f "$T/lock" sh -c 'echo "$0 $1"' -n -w > "$T/out"
	echo '-n -w' | cmp - "$T/out" || fail "wrong output: $(cat "$T/out")"
}

test_ctrl_c_while_command_runs_ends_both_and_frees_the_lock() {
	# Job control gives the background job a process group of its own,
	# as a terminal's foreground job has; Ctrl-C signals the whole group.
	set -m
	hold ofd
	kill -INT -- -"$holder"
	finished "$holder" $((128 + $(signum SIGINT)))
	wait_until exited "$sleeper"
	is_free ofd || fail "the lock was not freed"
}

test_sigterm_and_sighup_are_passed_on_to_command() {
	local sig
	for sig in TERM HUP; do
		spawn 15-lock -f "$T/lock" sh -c 'trap "echo got $1; exit 5" '"$sig"'; echo ready; while :; do sleep 0.1; done' _ "$sig" > "$T/out"
		holder=$!
		wait_until grep -q ready "$T/out"
		kill -s "$sig" "$holder"
		finished "$holder" 5
		printf 'ready\ngot %s\n' "$sig" | cmp - "$T/out" || fail "$sig: wrong output"
	done
}

test_a_signal_ignored_at_our_start_stays_ignored_and_is_not_passed_on() {
	needs cmd perl
	# perl, unlike sh, can catch a signal ignored at its start (nohup's
	# SIGHUP); its status says which signal reached it. As in 18.
	trap '' HUP
	spawn 15-lock -f "$T/lock" perl -e '$| = 1;
		$SIG{HUP} = sub { print "HUP\n"; exit 3 }; $SIG{TERM} = sub { print "TERM\n"; exit 4 };
		print "ready\n"; sleep 1 while 1' > "$T/out"
	holder=$!
	trap - HUP
	wait_until grep -q ready "$T/out"
	kill -HUP "$holder"
	kill -TERM "$holder"
	finished "$holder" 4
	printf 'ready\nTERM\n' | cmp - "$T/out" || fail "SIGHUP was passed on"
}

test_bad_usage_exits_2() {
	local usage bad
	usage="usage: 15-lock [-m ofd|posix|flock] [-s] [-n | -w SECONDS] [-f FILE] [-r] COMMAND [ARG...]   (default FILE: /tmp/ipc-15-$(id -u).lock, SECONDS: 1 to 86400)"
	for bad in "" "-m bogus true" "-w -1 true" "-w 0 true" "-w 1x true" "-w 86401 true" \
		"-n -w 1 true" "-x true" "-f" "-n" "-m"; do
		# shellcheck disable=SC2086 # each word of $bad is an argument
		expect_status 2 run 15-lock $bad > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "$usage"
		[ ! -s "$T/out" ] || fail "output for '$bad'"
	done
	expect_status 2 run 15-lock -f '' true 2> "$T/err"
	stderr_is "$T/err" "$usage"
}

test_the_readme_table_of_lock_deaths_is_what_the_helper_finds() {
	"${CC:-cc}" -std=c11 -O2 -pthread -o "$T/holder-death" "$ROOT/tests/helpers/holder-death.c" -lrt ||
		fail "cannot build tests/helpers/holder-death.c with ${CC:-cc}"
	mkdir "$T/files"
	"$T/holder-death" "$T/files" > "$T/found"
	awk '/^## What happens to a lock when its holder dies$/ { on = 1; next }
		on && /^## / { exit }
		on && /^\|/' "$ROOT/README.md" > "$T/readme"
	[ "$(wc -l < "$T/readme")" = 11 ] || fail "no table of 9 locks in the README section"
	diff -u "$T/readme" "$T/found" >&2 || fail "README.md's table is not what the locks do"
	[ -z "$(ls -A "$T/files")" ] || fail "the helper left files behind"
}

test_command_inherits_an_ignored_sigchld_as_we_did() {
	# Not through run: timeout(1) would set SIGCHLD back to its default
	# (the runner's time limit bounds this case). grep ends at once.
	(trap '' CHLD && grep '^SigIgn' /proc/self/status) > "$T/want"
	(trap '' CHLD && exec "$BIN/15-lock" -f "$T/lock" grep '^SigIgn' /proc/self/status) > "$T/got"
	same "$T/want" "$T/got"
}
