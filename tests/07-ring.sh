# shellcheck shell=bash
# 07-ring-producer / 07-ring-consumer: a bounded buffer of slots in POSIX
# shared memory, synchronized by two process-shared semaphores.
#
# The region's layout on Linux x86-64 and arm64 (struct region in both
# sources), used below to read and corrupt it in place:
#   offset 0 magic, 4 version, 16 head, 20 tail, 24 producer pid, 28 consumer pid,
#   40 and 72 the two semaphores, 104 the 16 slots of 65540 bytes each
#   (a 4-byte length, then 65536 bytes of data): 1048744 bytes in all.
REGION_SIZE=1048744
# A dead partner must be noticed within about two seconds: allow three, or
# ten under valgrind, whose exit (its leak check) takes a while by itself.
NOTICE=3
[ -z "${RUN:-}" ] || NOTICE=10
SLOT_BYTES=65540
SLOTS_AT=104

# word OFFSET: the 32-bit number at OFFSET in the case's region.
word() { od -An -tu4 -j "$1" -N 4 "/dev/shm/$ID-r" | tr -d ' '; }
# poke OFFSET: overwrite the 32-bit number at OFFSET with 0xffffffff.
poke() { printf '\377\377\377\377' | dd of="/dev/shm/$ID-r" bs=1 seek="$1" conv=notrunc status=none; }
# word_is OFFSET VALUE: the region exists and holds VALUE at OFFSET.
word_is() { [ -e "/dev/shm/$ID-r" ] && [ "$(word "$1")" = "$2" ]; }
# both_arrived: each side has put its pid in the region.
# (An object not yet sized reads as empty words: no number, so false.)
both_arrived() { [ "$(word 24)" -gt 0 ] 2> /dev/null && [ "$(word 28)" -gt 0 ] 2> /dev/null; }
# ring_is_full: every slot is full but the one the consumer is writing out
# (the producer's next slot is the one just behind the consumer's).
ring_is_full() { [ "$(word 16)" = $((($(word 20) + 15) % 16)) ]; }
no_region() { [ ! -e "/dev/shm/$ID-r" ] || fail "region left behind"; }

# stall_a_full_ring: a producer fed from /dev/zero, a consumer writing to a
# FIFO nobody reads (fd 4 holds it open), so the ring fills up and stays so.
stall_a_full_ring() {
	mkfifo "$T/stall"
	exec 4<> "$T/stall"
	spawn 07-ring-producer "/$ID-r" < /dev/zero 2> "$T/perr"
	producer=$!
	spawn 07-ring-consumer "/$ID-r" > "$T/stall" 2> "$T/cerr"
	consumer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until both_arrived
	wait_until ring_is_full
	wait_until is_blocked $consumer
}

# feed_a_producer: a producer reading a FIFO we write by hand (fd 3), and a
# consumer writing to $T/out; returns once the first line has gone through.
feed_a_producer() {
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	consumer=$!
	spawn 07-ring-producer "/$ID-r" < "$T/feed" 2> "$T/perr"
	producer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
}

# round_trip FILE: consumer first, then the producer, then compare.
round_trip() {
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	run 07-ring-producer "/$ID-r" < "$1" 2> "$T/perr"
	finished $consumer 0
	same "$1" "$T/out"
	[ ! -s "$T/cerr" ] && [ ! -s "$T/perr" ] || fail "unexpected messages"
	no_region
}

test_empty_input_gives_empty_output() {
	: > "$T/in"
	round_trip "$T/in"
}

test_one_byte_survives() {
	printf '\0' > "$T/in"
	round_trip "$T/in"
}

test_exactly_one_slot_survives() {
	round_trip "$(input one-slot 65536)"
}

test_many_slots_wrap_around_the_ring_several_times() {
	round_trip "$(input many-slots 3000017)"
}

test_producer_first_copies_100_MB_of_binary_data() {
	local big
	big=$(input big 100000000)
	spawn 07-ring-producer "/$ID-r" < "$big" 2> "$T/perr"
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	run 07-ring-consumer "/$ID-r" > "$T/out"
	finished $producer 0
	same "$big" "$T/out"
	[ ! -s "$T/perr" ] || fail "unexpected message from the producer"
	no_region
}

test_a_consumer_left_waiting_says_so_then_takes_the_stream() {
	printf 'late but complete\n' > "$T/in"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	run 07-ring-producer "/$ID-r" < "$T/in"
	finished $consumer 0
	same "$T/in" "$T/out"
	stderr_is "$T/cerr" "07-ring-consumer: waiting for 07-ring-producer to start"
	no_region
}

test_sigint_on_a_consumer_waiting_for_its_producer_removes_the_region() {
	spawn 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	wait_until is_blocked $consumer
	kill -INT $consumer
	finished $consumer 130
	stderr_is "$T/cerr" "07-ring-consumer: waiting for 07-ring-producer to start"
	no_region
}

test_sigterm_on_a_producer_waiting_for_its_consumer_removes_the_region() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> "$T/perr"
	local producer=$!
	wait_until test -s "$T/perr"
	wait_until is_blocked $producer
	kill -TERM $producer
	finished $producer 143
	stderr_is "$T/perr" "07-ring-producer: waiting for 07-ring-consumer to start"
	no_region
}

test_a_killed_producer_is_reported_within_two_seconds() {
	feed_a_producer
	kill -KILL $producer
	finished $producer 137
	TMO=$NOTICE finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: sem_timedwait /$ID-r: 07-ring-producer is gone (the stream was cut short)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	no_region
}

test_a_killed_consumer_is_reported_within_two_seconds() {
	stall_a_full_ring
	kill -KILL $consumer
	finished $consumer 137
	TMO=$NOTICE finished $producer 1
	stderr_is "$T/perr" "07-ring-producer: sem_timedwait /$ID-r: 07-ring-consumer is gone (the stream was cut short)"
	no_region
}

test_sigterm_on_a_streaming_producer_removes_the_region_and_fails_the_consumer() {
	feed_a_producer
	kill -TERM $producer
	finished $producer 143
	TMO=$NOTICE finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: sem_timedwait /$ID-r: 07-ring-producer is gone (the stream was cut short)"
	no_region
}

test_sigterm_on_a_streaming_consumer_removes_the_region_and_fails_the_producer() {
	stall_a_full_ring
	kill -TERM $consumer
	finished $consumer 143
	no_region
	TMO=$NOTICE finished $producer 1
	stderr_is "$T/perr" "07-ring-producer: sem_timedwait /$ID-r: 07-ring-consumer is gone (the stream was cut short)"
}

test_a_closed_standard_output_ends_the_consumer_quietly_and_fails_the_producer() {
	local big
	big=$(input big 100000000)
	spawn 07-ring-producer "/$ID-r" < "$big" 2> "$T/perr"
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	set +e
	run 07-ring-consumer "/$ID-r" 2> "$T/cerr" | head -c 10 > "$T/out"
	local codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = 141 ] || fail "consumer exited ${codes[0]}, expected death by SIGPIPE"
	[ ! -s "$T/cerr" ] || fail "consumer was not quiet"
	head -c 10 "$big" | cmp - "$T/out" || fail "head got the wrong bytes"
	TMO=$NOTICE finished $producer 1
	stderr_is "$T/perr" "07-ring-producer: sem_timedwait /$ID-r: 07-ring-consumer is gone (the stream was cut short)"
	no_region
}

test_two_rings_in_parallel_stay_apart() {
	local a b
	a=$(input many-slots 3000017)
	b=$(input small-b 200000)
	spawn 07-ring-consumer "/$ID-a" > "$T/out-a"
	local ca=$!
	spawn 07-ring-producer "/$ID-b" < "$b"
	local pb=$!
	spawn 07-ring-consumer "/$ID-b" > "$T/out-b"
	local cb=$!
	run 07-ring-producer "/$ID-a" < "$a"
	finished $pb 0
	finished $ca 0
	finished $cb 0
	same "$a" "$T/out-a"
	same "$b" "$T/out-b"
}

test_a_second_producer_on_the_same_ring_is_refused() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> /dev/null
	local first=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 24 $first
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: already has a 07-ring-producer (wait for it to end or pass another NAME)"
	exited $first && fail "the first producer was disturbed"
	kill -TERM $first
	finished $first 143
	no_region
}

test_a_region_left_by_a_killed_run_is_refused_with_a_hint() {
	spawn 07-ring-consumer "/$ID-r" > /dev/null 2> /dev/null
	local consumer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 28 $consumer
	kill -KILL $consumer
	finished $consumer 137
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: shm_open /$ID-r: already has a 07-ring-consumer (left by a killed run: remove it or pass another NAME)"
	rm "/dev/shm/$ID-r"
}

test_a_producer_joining_a_killed_consumer_reports_it_and_removes_the_region() {
	spawn 07-ring-consumer "/$ID-r" > /dev/null 2> /dev/null
	local consumer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 28 $consumer
	kill -KILL $consumer
	finished $consumer 137
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: sem_timedwait /$ID-r: 07-ring-consumer is gone (the stream was cut short)"
	no_region
}

test_a_negative_peer_pid_in_the_region_is_caught() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> /dev/null
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 24 $producer
	poke 24
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: mmap /$ID-r: invalid pid for 07-ring-producer (the region is corrupt)"
	TMO=$NOTICE finished $producer 1
	no_region
}

test_a_region_of_another_version_is_refused_and_left_alone() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> /dev/null
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 24 $producer
	poke 4
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: mmap /$ID-r: a 07 ring of another version or shape (remove it or pass another NAME)"
	[ "$(word 28)" = 0 ] || fail "the consumer joined the ring"
	kill -TERM $producer
	finished $producer 143
	no_region
}

test_usage_errors_exit_2() {
	expect_status 2 run 07-ring-consumer /a /b 2> "$T/err"
	stderr_is "$T/err" "usage: 07-ring-consumer [NAME]   (default NAME: /ipc-07-$(id -u))"
	expect_status 2 run 07-ring-producer -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 07-ring-producer [NAME]   (default NAME: /ipc-07-$(id -u))"
	local name
	# The last one is longer than NAME_MAX, as 01 and 02 refuse it.
	for name in '' / "$ID-r" "/$ID/r" "/$ID-$(printf 'x%.0s' {1..300})"; do
		expect_status 2 run 07-ring-producer "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 07-ring-producer [NAME]   (default NAME: /ipc-07-$(id -u))"
		expect_status 2 run 07-ring-consumer "$name" > /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 07-ring-consumer [NAME]   (default NAME: /ipc-07-$(id -u))"
	done
}

test_a_garbage_region_is_refused_and_left_alone() {
	{ printf 'junk'; head -c $((REGION_SIZE - 4)) /dev/urandom; } > "/dev/shm/$ID-r"
	cp "/dev/shm/$ID-r" "$T/orig"
	expect_status 1 run 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: mmap /$ID-r: not a 07 ring (wrong magic number) (remove it or pass another NAME)"
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: mmap /$ID-r: not a 07 ring (wrong magic number) (remove it or pass another NAME)"
	same "$T/orig" "/dev/shm/$ID-r"
	[ ! -s "$T/out" ] || fail "garbage reached the output"
	rm "/dev/shm/$ID-r"
}

test_a_truncated_region_is_refused_by_the_side_attaching_to_it() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> /dev/null
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 24 $producer
	truncate -s 4096 "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fstat /$ID-r: wrong size for a 07 ring (remove it or pass another NAME)"
	kill -TERM $producer
	finished $producer 143
	no_region
}

test_truncating_the_region_under_a_waiting_side_is_an_error_not_a_crash() {
	spawn 07-ring-producer "/$ID-r" < /dev/null 2> "$T/perr"
	local producer=$!
	wait_until test -e "/dev/shm/$ID-r"
	wait_until word_is 24 $producer
	truncate -s 0 "/dev/shm/$ID-r"
	finished $producer 1
	sed -i '/waiting for/d' "$T/perr"
	stderr_is "$T/perr" "07-ring-producer: mmap /$ID-r: Bus error (the region was truncated by another process)"
	no_region
}

test_an_object_its_creator_never_initialized_is_refused_after_two_seconds() {
	: > "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fstat /$ID-r: still empty after 2 s (remove it or pass another NAME)"
	rm "/dev/shm/$ID-r"
}

test_an_out_of_range_slot_index_in_the_region_is_caught() {
	stall_a_full_ring
	poke 20
	cat "$T/stall" > /dev/null &
	finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: mmap /$ID-r: slot index out of range (the region is corrupt)"
	TMO=$NOTICE finished $producer 1
	no_region
}

test_an_out_of_range_slot_length_in_the_region_is_caught() {
	stall_a_full_ring
	poke $((SLOTS_AT + $(word 20) * SLOT_BYTES))
	cat "$T/stall" > /dev/null &
	finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: mmap /$ID-r: slot length out of range (the region is corrupt)"
	TMO=$NOTICE finished $producer 1
	no_region
}

test_a_region_of_another_user_is_refused_and_left_alone() {
	as_user 12345 cp /dev/null "/dev/shm/$ID-r"
	as_user 12345 truncate -s "$REGION_SIZE" "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: shm_open /$ID-r: belongs to another user (pass another NAME)"
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: belongs to another user (pass another NAME)"
	head -c "$REGION_SIZE" /dev/zero | cmp - "/dev/shm/$ID-r" || fail "the region was changed"
	[ "$(stat -c %u "/dev/shm/$ID-r")" = 12345 ] || fail "the region was replaced"
	rm "/dev/shm/$ID-r"
}
