# shellcheck shell=bash
# 10-fd-pass: a child opens FILE, its parent reads it through a passed descriptor.

test_text_file_comes_out_unchanged() {
	printf 'hello through a passed descriptor\nsecond line\n' > "$T/in"
	run 10-fd-pass "$T/in" > "$T/out" 2> "$T/err"
	same "$T/in" "$T/out"
	[ ! -s "$T/err" ] || fail "unexpected messages"
}

test_sigchld_inherited_ignored_still_leaves_the_child_to_the_parent() {
	# Ignored, it would have the kernel reap the child: waitpid, ECHILD.
	printf 'a descriptor passed\n' > "$T/in"
	ignoring_sigchld 10-fd-pass "$T/in" > "$T/out" 2> "$T/err"
	same "$T/in" "$T/out"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
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

test_only_the_child_opens_FILE_and_the_parent_reads_what_it_received() {
	needs cmd strace
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

test_a_missing_file_is_an_error_in_the_child() {
	expect_status 1 run 10-fd-pass "$T/missing" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/missing: $(errtext ENOENT)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_an_unreadable_file_is_an_error_in_the_child() {
	needs user-switch
	chmod 755 "$T"
	printf 'secret\n' > "$T/secret"
	chmod 600 "$T/secret"
	expect_status 1 as_user 12345 "$BIN/10-fd-pass" "$T/secret" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/secret: $(errtext EACCES)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_a_directory_is_refused_with_its_name() {
	mkdir "$T/dir"
	expect_status 1 run 10-fd-pass "$T/dir" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/dir: $(errtext EISDIR) (pass a file)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

# As cat does: a file copied onto its own end would grow as fast as it is read.
# shellcheck disable=SC2094 # the same file in and out is the case
test_a_file_that_is_also_the_output_is_refused_and_left_as_it_was() {
	printf 'copied onto itself\n' > "$T/f"
	cp "$T/f" "$T/orig"
	expect_status 1 run 10-fd-pass "$T/f" >> "$T/f" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/f: input file is output file (write the copy to another file)"
	same "$T/orig" "$T/f"
	ln "$T/f" "$T/link" # another name for the same file
	expect_status 1 run 10-fd-pass "$T/link" >> "$T/f" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/link: input file is output file (write the copy to another file)"
	same "$T/orig" "$T/f"
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
	quiet_under_head 10 10-fd-pass "$big"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
}

test_sigpipe_inherited_ignored_still_ends_it_quietly() {
	local big
	big=$(input big 100000000)
	trap '' PIPE # what the program inherits
	quiet_under_head 10 10-fd-pass "$big"
}

test_a_fifo_is_refused_at_once_not_waited_for() {
	# Opening a FIFO that no one writes would block: it must not.
	mkfifo "$T/fifo"
	expect_status 1 run 10-fd-pass "$T/fifo" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/fifo: not a regular file (pass a file)"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_a_name_with_a_newline_cannot_forge_a_second_error_line() {
	expect_status 1 run 10-fd-pass "$T/a"$'\n'"b" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: open $T/a\\012b: $(errtext ENOENT)"
}

test_closed_standard_input_and_error_change_nothing() {
	printf 'only the output is open\n' > "$T/in"
	# Not under $RUN: valgrind would take the closed descriptors for itself.
	timeout -k 2 "$TMO" "$BIN/10-fd-pass" "$T/in" <&- 2>&- > "$T/out"
	same "$T/in" "$T/out"
}

test_a_closed_standard_output_is_an_error_in_the_parent() {
	printf 'nowhere to go\n' > "$T/in"
	expect_status 1 timeout -k 2 "$TMO" "$BIN/10-fd-pass" "$T/in" >&- 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: write standard output: $(errtext EBADF)"
}

test_an_output_past_the_file_size_limit_is_reported() {
	local big
	big=$(input small-a 300000)
	# Not under $RUN: valgrind's own log would pass the limit.
	(
		ulimit -f 1 # 1024 bytes: SIGXFSZ, ignored, makes write fail instead
		expect_status 1 timeout -k 2 "$TMO" "$BIN/10-fd-pass" "$big" > "$T/out" 2> "$T/err"
	)
	stderr_is "$T/err" "10-fd-pass: write standard output: $(errtext EFBIG)"
	head -c 1024 "$big" | cmp - "$T/out" || fail "the output is not the first 1024 bytes"
}

# holds PID FILE: PID has FILE open.
holds() {
	local fd
	for fd in "/proc/$1/fd/"*; do
		[ "$(readlink "$fd")" != "$2" ] || return 0
	done
	return 1
}

# stopped_by SIGNAL: the parent, copying the file its child passed into a
# stalled output, dies of SIGNAL quietly, with no child left behind. It has
# no handler and keeps the dispositions it inherits: started as a terminal
# starts it, since a shell without job control ignores SIGINT and SIGQUIT
# in a background job.
stopped_by() {
	stall_output
	local big
	big=$(input big 100000000)
	RUN="env --default-signal=SIGINT,SIGQUIT ${RUN:-}" spawn 10-fd-pass "$big" > "$STALL" 2> "$T/err"
	local parent=$!
	wait_until holds $parent "$big"
	wait_until is_blocked $parent
	! pgrep -P $parent > /dev/null || fail "the child still runs: $(pgrep -P $parent)"
	kill -n "$(signum "$1")" $parent
	finished $parent $((128 + $(signum "$1")))
	[ ! -s "$T/err" ] || fail "unexpected messages: $(cat "$T/err")"
}

test_sigint_while_the_parent_copies_ends_it_and_leaves_no_child() { stopped_by SIGINT; }
test_sigterm_while_the_parent_copies_ends_it_and_leaves_no_child() { stopped_by SIGTERM; }
test_sigquit_while_the_parent_copies_ends_it_and_leaves_no_child() { stopped_by SIGQUIT; }
test_sigusr2_while_the_parent_copies_ends_it_and_leaves_no_child() { stopped_by SIGUSR2; }
test_a_real_time_signal_while_the_parent_copies_ends_it_and_leaves_no_child() {
	stopped_by SIGRTMIN+2
}

test_a_killed_child_is_reported_by_the_parent() {
	needs cmd strace
	printf 'never sent\n' > "$T/in"
	# strace kills the child as it opens FILE: no other process opens it.
	# (LeakSanitizer cannot work under ptrace: see the case above.)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" expect_status 1 \
		timeout -k 2 "$TMO" strace -f -qq -o /dev/null -P "$T/in" \
		-e trace=open,openat -e inject=open,openat:signal=SIGKILL \
		"$BIN/10-fd-pass" "$T/in" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "10-fd-pass: child killed by signal $(signum SIGKILL)"
	[ ! -s "$T/out" ] || fail "output not empty"
}
