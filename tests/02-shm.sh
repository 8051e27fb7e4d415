# shellcheck shell=bash
# 02-producer / 02-consumer: one message through POSIX shared memory.

REGION=$((8 + 65536)) # header (magic, length) + capacity

test_text_goes_through_and_the_consumer_removes_the_object() {
	printf 'hello, shared memory\n' > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	[ "$(stat -c '%s %a' "/dev/shm/$ID")" = "$REGION 600" ] || fail "wrong size or mode"
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
	[ ! -e "/dev/shm/$ID" ] || fail "object left behind"
}

test_binary_input_with_nul_bytes_survives() {
	printf '\0a\0\0b\n\0' > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

test_empty_input_gives_empty_output() {
	run 02-producer "/$ID" < /dev/null
	run 02-consumer "/$ID" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_input_of_exactly_the_capacity_fits() {
	head -c 65536 /dev/urandom > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

test_oversize_input_is_refused_before_anything_is_created() {
	head -c 65537 /dev/urandom > "$T/in"
	expect_status 1 run 02-producer "/$ID" < "$T/in" 2> "$T/err"
	stderr_is "$T/err" "02-producer: read standard input: more than the region's 65536 bytes (split the input, or stream it with 07-ring-producer)"
	[ ! -e "/dev/shm/$ID" ] || fail "object created anyway"
}

test_consumer_first_is_a_clear_error() {
	expect_status 1 run 02-consumer "/$ID" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: shm_open /$ID: No such file or directory (run ./02-producer first)"
}

test_a_second_producer_does_not_overwrite_unread_data() {
	echo first > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	echo second | expect_status 1 run 02-producer "/$ID" 2> "$T/err"
	stderr_is "$T/err" "02-producer: shm_open /$ID: File exists (run ./02-consumer to empty it, or ./01-shm-unlink it)"
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

test_consumer_refuses_a_region_shorter_than_its_header() {
	run 01-shm-open "/$ID" > /dev/null
	expect_status 1 run 02-consumer "/$ID" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: fstat /$ID: 0 bytes, not the $REGION of a 02-producer region"
	truncate -s 100 "/dev/shm/$ID"
	expect_status 1 run 02-consumer "/$ID" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: fstat /$ID: 100 bytes, not the $REGION of a 02-producer region"
	[ -e "/dev/shm/$ID" ] || fail "a region that is not ours was removed"
	run 01-shm-unlink "/$ID" > /dev/null
}

test_consumer_refuses_a_length_beyond_the_capacity() {
	echo hello | run 02-producer "/$ID"
	# The length is the second 32-bit field; 0x00010001 is one past 65536.
	printf '\001\000\001\000' | dd of="/dev/shm/$ID" bs=1 seek=4 conv=notrunc status=none
	expect_status 1 run 02-consumer "/$ID" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: mmap /$ID: header claims 65537 bytes, more than the capacity of 65536"
	[ ! -s "$T/out" ] || fail "wrote something"
	run 01-shm-unlink "/$ID" > /dev/null
}

test_consumer_refuses_a_region_without_the_magic_number() {
	head -c "$REGION" /dev/urandom > "/dev/shm/$ID"
	printf 'XXXX' | dd of="/dev/shm/$ID" bs=1 conv=notrunc status=none
	expect_status 1 run 02-consumer "/$ID" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: mmap /$ID: no 02-producer header (wrong magic number)"
	rm "/dev/shm/$ID"
}

test_an_object_planted_by_another_user_is_refused_and_left_alone() {
	as_user 12345 sh -c "head -c $REGION /dev/zero > /dev/shm/$ID && chmod 666 /dev/shm/$ID"
	expect_status 1 as_user 12346 "$BIN/02-consumer" "/$ID" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: shm_open /$ID: belongs to another user (pass another NAME)"
	echo data | expect_status 1 as_user 12346 "$BIN/02-producer" "/$ID" 2> /dev/null
	[ "$(stat -c '%s %u' "/dev/shm/$ID")" = "$REGION 12345" ] || fail "object changed"
	rm "/dev/shm/$ID"
}

test_two_pairs_in_parallel_stay_apart() {
	echo one > "$T/one"
	echo two > "$T/two"
	run 02-producer "/$ID-a" < "$T/one"
	run 02-producer "/$ID-b" < "$T/two"
	run 02-consumer "/$ID-b" > "$T/out-b"
	run 02-consumer "/$ID-a" > "$T/out-a"
	same "$T/one" "$T/out-a"
	same "$T/two" "$T/out-b"
}

test_malformed_names_are_usage_errors() {
	local name
	for name in "$ID" "/$ID/x" / ''; do
		expect_status 2 run 02-producer "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 02-producer [NAME]   (default NAME: /ipc-02-$(id -u))"
		expect_status 2 run 02-consumer "$name" 2> "$T/err"
		stderr_is "$T/err" "usage: 02-consumer [NAME]   (default NAME: /ipc-02-$(id -u))"
	done
	expect_status 2 run 02-consumer "/$ID" extra 2> /dev/null
}

test_a_producer_reading_a_terminal_says_how_to_end_the_input() {
	# script(1) gives the producer a terminal; its input ends at once.
	script -qec "$BIN/02-producer /$ID" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "02-producer: reading standard input; end it with Ctrl-D"
	run 02-consumer "/$ID" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_a_fifo_planted_at_the_name_is_refused_without_blocking() {
	as_user 12345 mkfifo -m 666 "/dev/shm/$ID"
	expect_status 1 as_user 12346 timeout 5 "$BIN/02-consumer" "/$ID" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: shm_open /$ID: not a shared memory object (pass another NAME)"
	[ -p "/dev/shm/$ID" ] || fail "the planted FIFO was removed"
	rm "/dev/shm/$ID"
}
