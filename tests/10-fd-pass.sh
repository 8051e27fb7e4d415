# shellcheck shell=bash
# 10-fd-pass: a parent opens FILE, its child reads it through a passed descriptor.

test_text_file_comes_out_unchanged() {
	printf 'hello through a passed descriptor\nsecond line\n' > "$T/in"
	run 10-fd-pass "$T/in" > "$T/out" 2> "$T/err"
	same "$T/in" "$T/out"
	[ ! -s "$T/err" ] || fail "unexpected messages"
}

test_nul_bytes_survive() {
	printf 'a\0b\0\0c\n\0' > "$T/in"
	run 10-fd-pass "$T/in" > "$T/out"
	same "$T/in" "$T/out"
}

test_100_MB_of_binary_data_comes_out_unchanged() {
	local big
	big=$(input big 100000000)
	run 10-fd-pass "$big" > "$T/out"
	same "$big" "$T/out"
}

test_empty_file_gives_empty_output() {
	: > "$T/in"
	run 10-fd-pass "$T/in" > "$T/out" 2> "$T/err"
	[ ! -s "$T/out" ] || fail "output not empty"
	[ ! -s "$T/err" ] || fail "unexpected messages"
}

test_only_the_parent_opens_FILE_and_the_child_reads_what_it_received() {
	command -v strace > /dev/null || skip "strace is not installed"
	printf 'opened once\n' > "$T/in"
	# LeakSanitizer cannot work under ptrace: in the sanitizer build its
	# leak check is off for this one run (the other cases keep it).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o "$T/trace" -e trace=open,openat,recvmsg -e signal=none \
		"$BIN/10-fd-pass" "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	# Lines start with the pid: one process opens FILE, another receives.
	local opener receiver
	opener=$(grep -F "\"$T/in\"" "$T/trace" | awk '{print $1}')
	receiver=$(grep 'recvmsg(' "$T/trace" | awk '{print $1}')
	[ "$(printf '%s\n' "$opener" | wc -l)" = 1 ] || fail "FILE opened more than once: $opener"
	[ "$(printf '%s\n' "$receiver" | wc -l)" = 1 ] || fail "not one receiver: $receiver"
	[ -n "$opener" ] && [ -n "$receiver" ] || fail "open or recvmsg missing from the trace"
	[ "$opener" != "$receiver" ] || fail "the receiving process opened FILE itself"
	grep -q "^$receiver .*SCM_RIGHTS" "$T/trace" || fail "no descriptor in the received message"
}

test_a_missing_file_is_an_error_in_the_parent() {
	expect_status 1 run 10-fd-pass "$T/missing" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/missing: No such file or directory"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_an_unreadable_file_is_an_error_in_the_parent() {
	chmod 755 "$T"
	printf 'secret\n' > "$T/secret"
	chmod 600 "$T/secret"
	expect_status 1 as_user 12345 "$BIN/10-fd-pass" "$T/secret" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/secret: Permission denied"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_a_directory_is_refused_with_its_name() {
	mkdir "$T/dir"
	expect_status 1 run 10-fd-pass "$T/dir" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/dir: Is a directory (pass a file)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_usage_errors_exit_2() {
	expect_status 2 run 10-fd-pass 2> "$T/err"
	stderr_is "$T/err" "usage: 10-fd-pass FILE"
	expect_status 2 run 10-fd-pass "$T/a" "$T/b" 2> "$T/err"
	stderr_is "$T/err" "usage: 10-fd-pass FILE"
	expect_status 2 run 10-fd-pass -x 2> "$T/err"
	stderr_is "$T/err" "usage: 10-fd-pass FILE"
	expect_status 2 run 10-fd-pass '' 2> "$T/err"
	stderr_is "$T/err" "usage: 10-fd-pass FILE"
}

test_a_closed_standard_output_ends_both_processes_quietly() {
	local big
	big=$(input big 100000000)
	set +e
	run 10-fd-pass "$big" 2> "$T/err" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "exited ${codes[0]}, expected death by SIGPIPE"
	[ ! -s "$T/err" ] || fail "not quiet"
	head -c 10 "$big" | cmp - "$T/out" || fail "head got the wrong bytes"
}

test_sigterm_while_waiting_for_FILE_stops_the_child_too() {
	# Opening a FIFO with no writer blocks: the parent waits in open().
	mkfifo "$T/fifo"
	spawn 10-fd-pass "$T/fifo" > "$T/out" 2> "$T/err"
	local parent=$! child
	wait_until pgrep -P $parent > /dev/null
	child=$(pgrep -P $parent)
	wait_until is_blocked $parent
	wait_until is_blocked "$child"
	kill -TERM $parent
	finished $parent 143
	[ ! -e "/proc/$child" ] || fail "child $child outlived its parent"
	[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || fail "unexpected output"
}

test_sigint_while_the_child_copies_stops_it() {
	# The child's standard output is a full pipe: it waits in write().
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	local big
	big=$(input big 100000000)
	spawn 10-fd-pass "$big" > "$T/stall"
	local parent=$! child
	wait_until pgrep -P $parent > /dev/null
	child=$(pgrep -P $parent)
	wait_until is_blocked $parent
	wait_until is_blocked "$child"
	kill -INT $parent
	finished $parent 130
	[ ! -e "/proc/$child" ] || fail "child $child outlived its parent"
}

test_a_killed_child_is_reported_by_the_parent() {
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	local big
	big=$(input big 100000000)
	spawn 10-fd-pass "$big" > "$T/stall" 2> "$T/err"
	local parent=$! child
	wait_until pgrep -P $parent > /dev/null
	child=$(pgrep -P $parent)
	wait_until is_blocked "$child"
	kill -KILL "$child"
	finished $parent 1
	stderr_is "$T/err" "10-fd-pass: waitpid child: killed by signal 9"
}
