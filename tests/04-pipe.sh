# shellcheck shell=bash
# 04-pipe: parent to child through an ordinary pipe.

# bare PROGRAM ARGS...: run one example like run, but never under $RUN:
# valgrind would open its log at the lowest free descriptor (a closed one
# of the case's), and its own log would be held to a file-size limit too.
bare() { timeout -k 2 "$TMO" "$BIN/$1" "${@:2}"; }

# file_limited BLOCKS FILE PROGRAM ARGS...: run an example under ulimit -f
# BLOCKS with its output into FILE; its standard error goes through a pipe
# into $T/err (a file would be limited too). Returns the example's status.
file_limited() {
	local blocks=$1 out=$2
	shift 2
	(ulimit -f "$blocks" && bare "$@" > "$out") 2>&1 | cat > "$T/err"
	return "${PIPESTATUS[0]}"
}

test_text_goes_through() {
	printf 'hello through a pipe\n' > "$T/in"
	run 04-pipe < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
}

test_sigchld_inherited_ignored_still_leaves_the_child_to_the_parent() {
	# Ignored, it would have the kernel reap the child: waitpid, ECHILD.
	printf 'hello through a pipe\n' > "$T/in"
	ignoring_sigchld 04-pipe < "$T/in" > "$T/out" 2> "$T/err"
	same "$T/in" "$T/out"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
}

test_empty_input_gives_empty_output() {
	run 04-pipe < /dev/null > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_nul_bytes_survive() {
	printf '\0\0x\0y\n' > "$T/in"
	run 04-pipe < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
}

test_100_MB_arrive_intact_in_a_file_and_through_a_pipe() {
	local big
	big=$(input big 100000000)
	run 04-pipe < "$big" > "$T/out"
	same "$big" "$T/out"
	# shellcheck disable=SC2094 # cmp only reads $big, nothing writes it
	run 04-pipe < "$big" | cmp - "$big" || fail "differs through a pipe"
}

test_a_closed_standard_output_ends_it_quietly_like_cat() {
	local big
	big=$(input big 100000000)
	quiet_under_head 10 04-pipe < "$big"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "wrong first bytes"
}

test_a_failing_child_fails_the_parent_with_one_message() {
	local big
	big=$(input big 100000000)
	expect_status 1 run 04-pipe < "$big" > /dev/full 2> "$T/err"
	stderr_is "$T/err" "04-pipe: write standard output: $(errtext ENOSPC)"
}

test_a_file_size_limit_is_reported_as_file_too_large() {
	local big
	big=$(input big 100000000)
	expect_status 1 file_limited 1 "$T/out" 04-pipe < "$big"
	stderr_is "$T/err" "04-pipe: write standard output: $(errtext EFBIG)"
	head -c 1024 "$big" | cmp - "$T/out" || fail "wrong first kilobyte"
}

test_closed_standard_descriptors_are_errors_not_pipe_ends() {
	printf 'hello through a pipe\n' > "$T/in"
	expect_status 1 bare 04-pipe <&- > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "04-pipe: read standard input: $(errtext EBADF)"
	[ ! -s "$T/out" ] || fail "wrote something"
	expect_status 1 bare 04-pipe < "$T/in" >&- 2> "$T/err"
	stderr_is "$T/err" "04-pipe: write standard output: $(errtext EBADF)"
	bare 04-pipe < "$T/in" 2>&- > "$T/out"
	same "$T/in" "$T/out"
}

test_arguments_are_a_usage_error() {
	expect_status 2 run 04-pipe extra < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 04-pipe   (copies standard input to standard output)"
}
