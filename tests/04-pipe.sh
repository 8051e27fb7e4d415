# shellcheck shell=bash
# 04-pipe: parent to child through an ordinary pipe.

test_text_goes_through() {
	printf 'hello through a pipe\n' > "$T/in"
	run 04-pipe < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
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
	set +e
	run 04-pipe < "$big" 2> "$T/err" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "exited ${codes[0]}, expected death by SIGPIPE as cat"
	[ ! -s "$T/err" ] || fail "not quiet"
	head -c 10 "$big" | cmp - "$T/out" || fail "wrong first bytes"
}

test_a_failing_child_fails_the_parent_with_one_message() {
	local big
	big=$(input big 100000000)
	expect_status 1 run 04-pipe < "$big" > /dev/full 2> "$T/err"
	stderr_is "$T/err" "04-pipe: write standard output: No space left on device"
}

test_arguments_are_a_usage_error() {
	expect_status 2 run 04-pipe extra < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 04-pipe   (copies standard input to standard output)"
}
