# shellcheck shell=bash
# 02-producer / 02-consumer: one message through POSIX shared memory.

# bare PROGRAM ARGS...: run one example like run, but never under $RUN:
# valgrind would open its log at the lowest free descriptor (a closed one
# of the case's), and its own log would be held to a file-size limit too.
bare() { timeout -k 2 "$TMO" "$BIN/$1" "${@:2}"; }

REGION=$((8 + 65536)) # header (magic, length) + capacity

# file_limited BLOCKS FILE PROGRAM ARGS...: run an example under ulimit -f
# BLOCKS with its output into FILE; its standard error goes through a pipe
# into $T/err (a file would be limited too). Returns the example's status.
file_limited() {
	local blocks=$1 out=$2
	shift 2
	(ulimit -f "$blocks" && bare "$@" > "$out") 2>&1 | cat > "$T/err"
	return "${PIPESTATUS[0]}"
}

# reader_gone: descriptor 5 is the write end of a pipe whose reader has
# closed, so that a write there fails with EPIPE (or raises SIGPIPE).
reader_gone() {
	mkfifo "$T/gone"
	exec 6<> "$T/gone"
	exec 5> "$T/gone"
	exec 6<&-
}

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
	stderr_is "$T/err" "02-consumer: shm_open /$ID: $(errtext ENOENT) (run ./02-producer first)"
}

test_a_second_producer_does_not_overwrite_unread_data() {
	echo first > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	echo second | expect_status 1 run 02-producer "/$ID" 2> "$T/err"
	stderr_is "$T/err" "02-producer: shm_open /$ID: $(errtext EEXIST) (run ./02-consumer to empty it, or ./01-shm-unlink it)"
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
	needs user-switch
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
	for name in "$ID" "/$ID/x" / '' /. /.. "/$(printf '%0256d' 0)"; do
		expect_status 2 run 02-producer "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 02-producer [NAME]   (default NAME: /ipc-02-$(id -u))"
		expect_status 2 run 02-consumer "$name" 2> "$T/err"
		stderr_is "$T/err" "usage: 02-consumer [NAME]   (default NAME: /ipc-02-$(id -u))"
	done
	expect_status 2 run 02-consumer "/$ID" extra 2> /dev/null
}

test_a_producer_reading_a_terminal_says_how_to_end_the_input() {
	needs cmd script
	# script(1) gives the producer a terminal; its input ends at once.
	script -qec "$BIN/02-producer /$ID" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "02-producer: reading standard input; end it with Ctrl-D"
	run 02-consumer "/$ID" > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
}

test_a_fifo_planted_at_the_name_is_refused_without_blocking() {
	needs user-switch
	as_user 12345 mkfifo -m 666 "/dev/shm/$ID"
	expect_status 1 as_user 12346 timeout 5 "$BIN/02-consumer" "/$ID" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "02-consumer: shm_open /$ID: not a shared memory object (pass another NAME)"
	[ -p "/dev/shm/$ID" ] || fail "the planted FIFO was removed"
	rm "/dev/shm/$ID"
}

test_a_name_of_255_bytes_after_the_slash_is_accepted() {
	local name
	name=/$ID$(printf '%0*d' $((255 - ${#ID})) 0)
	echo hello > "$T/in"
	run 02-producer "$name" < "$T/in"
	run 02-consumer "$name" > "$T/out"
	same "$T/in" "$T/out"
}

test_a_full_dev_shm_is_an_error_line_and_leaves_no_half_made_object() {
	needs mount-namespace
	echo hello > "$T/in"
	# A private /dev/shm of 64 KiB cannot hold the region's 65544 bytes.
	# shellcheck disable=SC2016 # expanded by the inner shell
	expect_status 1 timeout -k 2 "$TMO" unshare -m sh -c '
		mount -t tmpfs -o size=64k none /dev/shm || exit 99
		status=0
		$RUN "$1" "$2" < "$3" 2> "$4" || status=$?
		ls -A /dev/shm > "$5"
		exit $status' _ "$BIN/02-producer" "/$ID" "$T/in" "$T/err" "$T/left"
	stderr_is "$T/err" "02-producer: posix_fallocate /$ID: $(errtext ENOSPC)"
	[ ! -s "$T/left" ] || fail "left in the full /dev/shm: $(cat "$T/left")"
}

test_a_file_size_limit_is_reported_and_cleaned_up_on_both_sides() {
	echo hello > "$T/in"
	# On Linux the limit applies to /dev/shm's files too.
	expect_status 1 file_limited 8 /dev/null 02-producer "/$ID" < "$T/in"
	stderr_is "$T/err" "02-producer: ftruncate /$ID: $(errtext EFBIG)"
	[ ! -e "/dev/shm/$ID" ] || fail "the producer left its object"
	head -c 65536 /dev/urandom > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	expect_status 1 file_limited 1 "$T/out" 02-consumer "/$ID"
	stderr_is "$T/err" "02-consumer: write standard output: $(errtext EFBIG)"
	head -c 1024 "$T/in" | cmp - "$T/out" || fail "wrong first kilobyte"
	# Not consumed: the data stays for another try.
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

test_closed_standard_descriptors_take_no_object_of_ours() {
	expect_status 1 bare 02-producer "/$ID" <&- 2> "$T/err"
	stderr_is "$T/err" "02-producer: read standard input: $(errtext EBADF)"
	[ ! -e "/dev/shm/$ID" ] || fail "object created"
	echo hello > "$T/in"
	bare 02-producer "/$ID" < "$T/in" >&- 2>&-
	expect_status 1 bare 02-consumer "/$ID" <&- >&- 2> "$T/err"
	stderr_is "$T/err" "02-consumer: write standard output: $(errtext EBADF)"
	bare 02-consumer "/$ID" <&- 2>&- > "$T/out"
	same "$T/in" "$T/out"
}

test_a_closed_pipe_ends_the_consumer_quietly_and_keeps_the_data() {
	echo hello > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	reader_gone
	expect_status $((128 + $(signum SIGPIPE))) run 02-consumer "/$ID" >&5 2> "$T/err"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

test_a_consumer_stopped_by_sigquit_or_sigterm_dies_of_it_and_keeps_the_data() {
	local sig consumer
	ulimit -c 0 # SIGQUIT's default action also dumps core
	head -c 65536 /dev/urandom > "$T/in"
	run 02-producer "/$ID" < "$T/in"
	stall_output
	head -c 4096 /dev/zero >&4 # the region no longer fits: the write blocks
	for sig in QUIT TERM; do
		# bash starts a background command with SIGQUIT ignored: env
		# gives the consumer the default action a terminal's would have.
		# shellcheck disable=SC2086 # RUN is a command prefix and must be split
		env --default-signal=QUIT ${RUN:-} "$BIN/02-consumer" "/$ID" > "$STALL" &
		consumer=$!
		wait_until is_blocked $consumer
		kill -"$sig" $consumer
		finished $consumer $((128 + $(signum "SIG$sig")))
	done
	run 02-consumer "/$ID" > "$T/out"
	same "$T/in" "$T/out"
}

# Started under nohup, a producer waiting for its input keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	mkfifo "$T/in"
	exec 3<> "$T/in"
	RUN="$NOHUP ${RUN:-}" spawn 02-producer "/$ID" < "$T/in"
	local producer=$!
	wait_until is_blocked $producer
	keeps_ignored $producer HUP
	exec 3>&-
	[ ! -e "/dev/shm/$ID" ] || fail "object left behind"
}
