# shellcheck shell=bash
# 01-shm-open / 01-shm-unlink: create and remove a POSIX shared memory object.

# bare PROGRAM ARGS...: run one example like run, but never under $RUN:
# valgrind would open its log at the lowest free descriptor (a closed one
# of the case's), and its own log would be held to a file-size limit too.
bare() { timeout -k 2 "$TMO" "$BIN/$1" "${@:2}"; }

# reader_gone: descriptor 5 is the write end of a pipe whose reader has
# closed, so that a write there fails with EPIPE (or raises SIGPIPE).
reader_gone() {
	mkfifo "$T/gone"
	exec 6<> "$T/gone"
	exec 5> "$T/gone"
	exec 6<&-
}

# file_limited BLOCKS FILE PROGRAM ARGS...: run an example under ulimit -f
# BLOCKS with its output into FILE; its standard error goes through a pipe
# into $T/err (a file would be limited too). Returns the example's status.
file_limited() {
	local blocks=$1 out=$2
	shift 2
	(ulimit -f "$blocks" && bare "$@" > "$out") 2>&1 | cat > "$T/err"
	return "${PIPESTATUS[0]}"
}

test_open_creates_an_empty_0600_object_and_unlink_removes_it() {
	run 01-shm-open "/$ID" > "$T/out"
	printf '%s\n' "created shared memory object /$ID (0 bytes, mode 0600)" \
		"on Linux it is the file /dev/shm/$ID; remove it with ./01-shm-unlink /$ID" |
		diff -u - "$T/out" >&2 || fail "wrong output"
	[ "$(stat -c '%s %a %u' "/dev/shm/$ID")" = "0 600 $(id -u)" ] || fail "wrong size, mode or owner"
	run 01-shm-unlink "/$ID" > "$T/out"
	echo "removed shared memory object /$ID" | cmp - "$T/out" || fail "wrong output"
	[ ! -e "/dev/shm/$ID" ] || fail "object still there"
}

test_an_existing_name_is_an_error_and_is_left_alone() {
	printf 'keep me' > "/dev/shm/$ID"
	expect_status 1 run 01-shm-open "/$ID" 2> "$T/err"
	stderr_is "$T/err" "01-shm-open: shm_open /$ID: $(errtext EEXIST) (remove it with ./01-shm-unlink /$ID)"
	[ "$(cat "/dev/shm/$ID")" = "keep me" ] || fail "object changed"
	run 01-shm-unlink "/$ID" > /dev/null
}

test_unlinking_a_missing_name_is_a_clear_error() {
	expect_status 1 run 01-shm-unlink "/$ID" 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: shm_unlink /$ID: $(errtext ENOENT) (nothing to remove; on Linux, check the name with ls /dev/shm)"
}

test_malformed_names_and_extra_arguments_are_usage_errors() {
	local usage name
	usage="usage: 01-shm-open [NAME]   (default NAME: /ipc-01-$(id -u))"
	for name in "$ID" "/$ID/x" / '' /. /.. "/$(printf '%0256d' 0)"; do
		expect_status 2 run 01-shm-open "$name" 2> "$T/err"
		stderr_is "$T/err" "$usage"
		expect_status 2 run 01-shm-unlink "$name" 2> "$T/err"
		stderr_is "$T/err" "usage: 01-shm-unlink [NAME]   (default NAME: /ipc-01-$(id -u))"
	done
	expect_status 2 run 01-shm-open "/$ID" extra 2> "$T/err"
	stderr_is "$T/err" "$usage"
}

test_a_name_of_255_bytes_after_the_slash_is_accepted() {
	local name
	name=/$ID$(printf '%0*d' $((255 - ${#ID})) 0)
	run 01-shm-open "$name" > /dev/null
	[ -e "/dev/shm$name" ] || fail "not created"
	run 01-shm-unlink "$name" > /dev/null
	[ ! -e "/dev/shm$name" ] || fail "not removed"
}

test_a_newline_in_a_name_is_shown_escaped_on_one_line() {
	expect_status 1 run 01-shm-unlink "/$ID
forged line" 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: shm_unlink /$ID\\012forged line: $(errtext ENOENT) (nothing to remove; on Linux, check the name with ls /dev/shm)"
}

test_a_message_that_cannot_be_written_fails_and_open_takes_its_object_back() {
	expect_status 1 run 01-shm-open "/$ID" > /dev/full 2> "$T/err"
	stderr_is "$T/err" "01-shm-open: fflush standard output: $(errtext ENOSPC)"
	[ ! -e "/dev/shm/$ID" ] || fail "an object nobody was told about was left"
	run 01-shm-open "/$ID" > /dev/null
	expect_status 1 run 01-shm-unlink "/$ID" > /dev/full 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: fflush standard output: $(errtext ENOSPC)"
	[ ! -e "/dev/shm/$ID" ] || fail "not removed"
}

test_a_closed_pipe_or_a_closed_standard_output_is_an_error_not_a_silent_death() {
	reader_gone
	expect_status 1 run 01-shm-open "/$ID" >&5 2> "$T/err"
	stderr_is "$T/err" "01-shm-open: fflush standard output: $(errtext EPIPE)"
	[ ! -e "/dev/shm/$ID" ] || fail "object left behind"
	expect_status 1 bare 01-shm-open "/$ID" >&- 2> "$T/err"
	stderr_is "$T/err" "01-shm-open: fflush standard output: $(errtext EBADF)"
	[ ! -e "/dev/shm/$ID" ] || fail "object left behind"
	run 01-shm-open "/$ID" > /dev/null
	expect_status 1 run 01-shm-unlink "/$ID" >&5 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: fflush standard output: $(errtext EPIPE)"
}

test_a_file_size_limit_is_reported_as_file_too_large() {
	expect_status 1 file_limited 0 "$T/out" 01-shm-open "/$ID"
	stderr_is "$T/err" "01-shm-open: fflush standard output: $(errtext EFBIG)"
	[ ! -e "/dev/shm/$ID" ] || fail "object left behind"
	run 01-shm-open "/$ID" > /dev/null
	expect_status 1 file_limited 0 "$T/out" 01-shm-unlink "/$ID"
	stderr_is "$T/err" "01-shm-unlink: fflush standard output: $(errtext EFBIG)"
	[ ! -e "/dev/shm/$ID" ] || fail "not removed"
}

test_started_with_standard_descriptors_closed_it_still_works() {
	bare 01-shm-open "/$ID" <&- 2>&- > "$T/out"
	grep -q "^created shared memory object /$ID " "$T/out" || fail "wrong output"
	[ "$(stat -c '%s %a' "/dev/shm/$ID")" = "0 600" ] || fail "wrong object"
	bare 01-shm-unlink "/$ID" <&- 2>&- > /dev/null
	[ ! -e "/dev/shm/$ID" ] || fail "not removed"
}

test_another_users_object_cannot_be_removed() {
	needs user-switch
	as_user 12345 "$BIN/01-shm-open" "/$ID" > /dev/null
	expect_status 1 as_user 12346 "$BIN/01-shm-unlink" "/$ID" 2> "$T/err"
	# The kernel says EPERM (/dev/shm is sticky); glibc turns it into
	# the EACCES that POSIX names, musl passes it on.
	grep -qxF -e "01-shm-unlink: shm_unlink /$ID: $(errtext EACCES)" \
		-e "01-shm-unlink: shm_unlink /$ID: $(errtext EPERM)" "$T/err" ||
		fail "unexpected message: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" = 1 ] || fail "more than one line"
	[ -e "/dev/shm/$ID" ] || fail "removed"
	as_user 12345 "$BIN/01-shm-unlink" "/$ID" > /dev/null
}
