# shellcheck shell=bash
# 05-fifo-writer / 05-fifo-reader: a byte stream through a named pipe.

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
	expect_status 1 run 05-fifo-writer "$T/dir" < /dev/null 2> /dev/null
	[ -L "$T/link" ] && [ -p "$T/target" ] && [ -d "$T/dir" ] || fail "something was removed"
}

test_a_fifo_planted_by_another_user_is_refused() {
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
	finished $reader 143
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_sigint_on_a_waiting_writer_removes_the_fifo_it_made() {
	spawn 05-fifo-writer "$T/f" < /dev/null
	local writer=$!
	wait_until test -p "$T/f"
	wait_until is_blocked $writer
	kill -INT $writer
	finished $writer 130
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_killed_writer_looks_like_end_of_file_to_the_reader() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	# Feed the writer by hand (3<> opens the FIFO without waiting).
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 05-fifo-writer "$T/f" < "$T/feed"
	local writer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
	kill -KILL $writer
	exec 3>&-
	# The reader cannot tell a crash from the end: it sees end of file.
	finished $reader 0
	finished $writer 137
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_killed_reader_makes_the_writer_fail_loudly_not_die_of_sigpipe() {
	# The reader's output goes nowhere, so both sides end up blocked.
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	spawn 05-fifo-writer "$T/f" < /dev/zero 2> "$T/err"
	local writer=$!
	spawn 05-fifo-reader "$T/f" > "$T/stall"
	local reader=$!
	wait_until is_blocked $writer
	wait_until is_blocked $reader
	kill -KILL $reader
	finished $reader 137
	finished $writer 1
	stderr_is "$T/err" "05-fifo-writer: write $T/f: Broken pipe (the reader went away before the end)"
	# Whoever made the FIFO, it must not outlive the pair: the writer
	# removes it if it made it; here the FIFO may be the reader's.
	rm -f "$T/f"
}

test_a_closed_standard_output_ends_the_reader_quietly_and_removes_the_fifo() {
	local big
	big=$(input big 100000000)
	spawn 05-fifo-writer "$T/f" < "$big" 2> "$T/werr"
	local writer=$!
	set +e
	run 05-fifo-reader "$T/f" 2> "$T/rerr" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "reader exited ${codes[0]}, expected death by SIGPIPE"
	[ ! -s "$T/rerr" ] || fail "reader was not quiet"
	[ "$(wc -c < "$T/out")" = 10 ] || fail "head got the wrong amount"
	finished $writer 1
	[ ! -e "$T/f" ] || fail "FIFO left behind"
}

test_a_writer_reading_a_terminal_says_how_to_end_the_input() {
	spawn 05-fifo-reader "$T/f" > "$T/out"
	local reader=$!
	script -qec "$BIN/05-fifo-writer $T/f" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "05-fifo-writer: reading standard input; end it with Ctrl-D"
	finished $reader 0
}
