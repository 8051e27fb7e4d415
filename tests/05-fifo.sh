# shellcheck shell=bash
# 05-fifo-writer / 05-fifo-reader: a byte stream through a named pipe.

# bare PROGRAM ARGS...: run one example like run, but never under $RUN:
# valgrind would open its log at the lowest free descriptor (a closed one
# of the case's), and its own log would be held to a file-size limit too.
bare() { timeout -k 2 "$TMO" "$BIN/$1" "${@:2}"; }

# feed: descriptor 3 writes into $T/feed, a FIFO a program can take as its
# standard input, so that a case sends the input a part at a time (3<>
# opens it without waiting for a reader). Start that program with 3>&-:
# its own copy of descriptor 3 would keep its input from ever ending.
feed() {
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
}

test_reader_first_copies_text_and_removes_the_fifo() {
	printf 'hello through a FIFO\n' > "$T/in"
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	wait_until test -p "$T/f"
	run 05-fifo-writer "$T/f" < "$T/in"
	finished $reader 0
	same "$T/in" "$T/out"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_writer_first_copies_100_MB_of_binary_data() {
	local big
	big=$(input big 100000000)
	spawn 05-fifo-writer "$T/f" < "$big"
	local writer=$!
	wait_until test -p "$T/f"
	run 05-fifo-reader "$T/f" > "$T/out"
	finished $writer 0
	same "$big" "$T/out"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_empty_input_gives_empty_output() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	run 05-fifo-writer "$T/f" < /dev/null
	finished $reader 0
	[ ! -s "$T/out" ] || fail "output not empty"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_nul_bytes_survive() {
	printf 'a\0b\0\0c\n\0' > "$T/in"
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	run 05-fifo-writer "$T/f" < "$T/in"
	finished $reader 0
	same "$T/in" "$T/out"
}

test_two_pairs_in_parallel_stay_apart() {
	local a b
	a=$(input small-a 300000)
	b=$(input small-b 200000)
	spawn 05-fifo-reader "$T/a" > "$T/out-a"
	local ra=$!
	spawn 05-fifo-reader "$T/b" > "$T/out-b"
	local rb=$!
	spawn 05-fifo-writer "$T/b" < "$b"
	local wb=$!
	run 05-fifo-writer "$T/a" < "$a"
	finished $wb 0
	finished $ra 0
	finished $rb 0
	same "$a" "$T/out-a"
	same "$b" "$T/out-b"
}

test_usage_errors_exit_2() {
	expect_status 2 run 05-fifo-reader a b 2> "$T/err"
	stderr_is "$T/err" "usage: 05-fifo-reader [PATH]   (default PATH: /tmp/ipc-05-$(id -u).fifo)"
	expect_status 2 run 05-fifo-writer -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 05-fifo-writer [PATH]   (default PATH: /tmp/ipc-05-$(id -u).fifo)"
	expect_status 2 run 05-fifo-writer '' < /dev/null 2> /dev/null
}

test_a_regular_file_at_path_is_refused_and_left_untouched() {
	printf 'precious\n' > "$T/file"
	cp "$T/file" "$T/orig"
	expect_status 1 run 05-fifo-writer "$T/file" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "05-fifo-writer: mkfifo $T/file: File exists and is not a FIFO (remove it or pass another PATH)"
	expect_status 1 run 05-fifo-reader "$T/file" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: mkfifo $T/file: File exists and is not a FIFO (remove it or pass another PATH)"
	same "$T/orig" "$T/file"
}

test_a_symlink_or_directory_at_path_is_refused() {
	mkfifo "$T/target"
	ln -s "$T/target" "$T/link"
	mkdir "$T/dir"
	expect_status 1 run 05-fifo-reader "$T/link" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: mkfifo $T/link: File exists and is not a FIFO (remove it or pass another PATH)"
	# A directory is never one to remove: it is refused as what it is.
	expect_status 1 run 05-fifo-writer "$T/dir" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "05-fifo-writer: mkfifo $T/dir: $(errtext EISDIR) (pass another PATH)"
	expect_status 1 run 05-fifo-reader "$T/dir" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: mkfifo $T/dir: $(errtext EISDIR) (pass another PATH)"
	[ -L "$T/link" ] && [ -p "$T/target" ] && [ -d "$T/dir" ] || fail "something was removed"
}

test_a_fifo_planted_by_another_user_is_refused() {
	needs user-switch
	chmod 711 "$T"
	mkdir -m 1777 "$T/shared"
	as_user 12345 mkfifo -m 666 "$T/shared/f"
	expect_status 1 as_user 12346 "$BIN/05-fifo-reader" "$T/shared/f" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: mkfifo $T/shared/f: File exists and belongs to another user (pass another PATH)"
	expect_status 1 as_user 12346 "$BIN/05-fifo-writer" "$T/shared/f" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "05-fifo-writer: mkfifo $T/shared/f: File exists and belongs to another user (pass another PATH)"
	[ -p "$T/shared/f" ] || fail "the planted FIFO was removed"
}

test_sigterm_on_a_waiting_reader_removes_the_fifo_and_reports_the_signal() {
	spawn 05-fifo-reader "$T/f" > /dev/null
	local reader=$!
	wait_until test -p "$T/f"
	wait_until is_blocked $reader
	kill -TERM $reader
	finished $reader $((128 + $(signum SIGTERM)))
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_sigint_on_a_waiting_writer_removes_the_fifo_it_made() {
	spawn 05-fifo-writer "$T/f" < /dev/null
	local writer=$!
	wait_until test -p "$T/f"
	wait_until is_blocked $writer
	kill -INT $writer
	finished $writer $((128 + $(signum SIGINT)))
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_killed_writer_looks_like_end_of_file_to_the_reader() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	feed
	spawn 05-fifo-writer "$T/f" < "$T/feed"
	local writer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	kill -KILL $writer
	exec 3>&-
	# The reader cannot tell a crash from the end: it sees end of file.
	finished $reader 0
	finished $writer $((128 + $(signum SIGKILL)))
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_killed_reader_makes_the_writer_fail_loudly_not_die_of_sigpipe() {
	# The reader's output goes nowhere, so both sides end up blocked.
	stall_output
	spawn 05-fifo-writer "$T/f" < /dev/zero 2> "$T/err"
	local writer=$!
	spawn 05-fifo-reader "$T/f" > "$STALL"
	local reader=$!
	wait_until is_blocked $writer
	wait_until is_blocked $reader
	kill -KILL $reader
	finished $reader $((128 + $(signum SIGKILL)))
	finished $writer 1
	stderr_is "$T/err" "05-fifo-writer: write $T/f: $(errtext EPIPE) (the reader went away before the end)"
	# Whoever made the FIFO, it must not outlive the pair: the writer
	# removes it if it made it; here the FIFO may be the reader's.
	rm -f "$T/f"
}

test_a_closed_standard_output_ends_the_reader_quietly_and_removes_the_fifo() {
	local big
	big=$(input big 100000000)
	spawn 05-fifo-writer "$T/f" < "$big" 2> "$T/werr"
	local writer=$!
	quiet_under_head 10 05-fifo-reader "$T/f"
	finished $writer 1
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_writer_reading_a_terminal_says_how_to_end_the_input() {
	needs cmd script
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	script -qec "$BIN/05-fifo-writer $T/f" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "05-fifo-writer: reading standard input; end it with Ctrl-D"
	finished $reader 0
}

test_sigquit_and_sigusr1_on_waiting_programs_remove_the_fifo() {
	local sig pid
	ulimit -c 0 # SIGQUIT's default action also dumps core
	for sig in QUIT USR1; do
		spawn 05-fifo-reader "$T/f" > /dev/null
		pid=$!
		wait_until test -p "$T/f"
		wait_until is_blocked $pid
		kill -"$sig" $pid
		finished $pid $((128 + $(signum "SIG$sig")))
		[ ! -e "$T/f" ] || fail "SIG$sig: the reader left the FIFO"
		spawn 05-fifo-writer "$T/f" < /dev/null
		pid=$!
		wait_until test -p "$T/f"
		wait_until is_blocked $pid
		kill -"$sig" $pid
		finished $pid $((128 + $(signum "SIG$sig")))
		[ ! -e "$T/f" ] || fail "SIG$sig: the writer left the FIFO it made"
	done
}

test_a_second_writer_at_the_fifo_is_refused_and_the_stream_stays_whole() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	feed
	spawn 05-fifo-writer "$T/f" < "$T/feed" 3>&-
	local writer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out" # the first writer holds its claim
	echo intruder | expect_status 1 run 05-fifo-writer "$T/f" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-writer: fcntl $T/f: already has a writer (wait for it to finish, or pass another PATH)"
	[ -p "$T/f" ] || fail "the refused writer removed the FIFO"
	printf 'second part\n' >&3
	exec 3>&-
	finished $writer 0
	finished $reader 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_second_reader_at_the_fifo_is_refused_and_the_stream_stays_whole() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	feed
	spawn 05-fifo-writer "$T/f" < "$T/feed" 3>&-
	local writer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out" # the first reader holds its claim
	expect_status 1 run 05-fifo-reader "$T/f" > "$T/out2" 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: fcntl $T/f: already has a reader (wait for it to finish, or pass another PATH)"
	[ ! -s "$T/out2" ] || fail "the refused reader took data"
	[ -p "$T/f" ] || fail "the refused reader removed the FIFO"
	printf 'second part\n' >&3
	exec 3>&-
	finished $writer 0
	finished $reader 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_writer_started_with_stderr_closed_never_sends_its_error_as_data() {
	mkdir "$T/dir"
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	wait_until test -p "$T/f"
	# Reading a directory fails; the error line has nowhere to go, and
	# above all not into the FIFO, which would have been descriptor 2.
	expect_status 1 bare 05-fifo-writer "$T/f" < "$T/dir" 2>&-
	finished $reader 0
	[ ! -s "$T/out" ] || fail "the reader received: $(cat "$T/out")"
}

test_started_with_standard_descriptors_closed_the_pair_still_works() {
	printf 'hello through a FIFO\n' > "$T/in"
	"$BIN/05-fifo-reader" "$T/f" <&- 2>&- > "$T/out" &
	local reader=$!
	bare 05-fifo-writer "$T/f" < "$T/in" >&- 2>&-
	finished $reader 0
	same "$T/in" "$T/out"
	spawn 05-fifo-writer "$T/f" < "$(input big 100000000)" 2> /dev/null
	local writer=$!
	expect_status 1 bare 05-fifo-reader "$T/f" <&- >&- 2> "$T/err"
	stderr_is "$T/err" "05-fifo-reader: write standard output: $(errtext EBADF)"
	finished $writer 1
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_file_size_limit_on_the_output_is_reported_and_the_fifo_removed() {
	local big
	big=$(input big 100000000)
	spawn 05-fifo-writer "$T/f" < "$big" 2> /dev/null
	local writer=$!
	(ulimit -f 1 && bare 05-fifo-reader "$T/f" > "$T/out") 2>&1 | cat > "$T/err"
	[ "${PIPESTATUS[0]}" = 1 ] || fail "the reader did not exit 1"
	stderr_is "$T/err" "05-fifo-reader: write standard output: $(errtext EFBIG)"
	head -c 1024 "$big" | cmp - "$T/out" || fail "wrong first kilobyte"
	finished $writer 1
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_newline_in_a_path_is_shown_escaped_on_one_line() {
	expect_status 1 run 05-fifo-writer "$T/no
such/f" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "05-fifo-writer: mkfifo $T/no\\012such/f: $(errtext ENOENT)"
}

# Started under nohup, a waiting reader or writer keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	local program
	for program in 05-fifo-reader 05-fifo-writer; do
		RUN="$NOHUP ${RUN:-}" spawn $program "$T/f" < /dev/null > /dev/null
		local pid=$!
		wait_until test -p "$T/f"
		wait_until is_blocked $pid
		keeps_ignored $pid HUP
		[ ! -e "$T/f" ] || fail "$program: FIFO left behind"
	done
}
