# shellcheck shell=bash
# 07-ring-producer / 07-ring-consumer: a bounded buffer of slots in POSIX
# shared memory, synchronized by two process-shared semaphores.

# A dead partner must be noticed within about two seconds: allow three, or
# ten under valgrind, whose exit (its leak check) takes a while by itself.
NOTICE=3
[ -z "${RUN:-}" ] || NOTICE=10

# ring_layout: set REGION_SIZE and the offsets the cases read and write
# (STATE_AT, EMPTY_AT, FULL_AT, SEM_SIZE, SLOTS_AT, SLOT_BYTES: a slot's
# length is its first word) and the two state values, RING_READY and
# RING_JOINED. They come from struct region as 07-ring-consumer.c spells
# it, compiled by the compiler under test, so they follow the layout and
# the C library. The helper, built once per suite run, also writes words:
# "$LAYOUT FILE OFFSET VALUE" stores VALUE there as a native 32-bit word.
ring_layout() {
	LAYOUT=$SHARED/07-ring-layout
	if [ ! -x "$LAYOUT" ]; then
		{
			printf '#define _POSIX_C_SOURCE 200809L\n'
			printf '#include <%s>\n' fcntl.h semaphore.h stdatomic.h stddef.h stdint.h stdio.h stdlib.h unistd.h
			sed -n -e '/^enum { SLOT_COUNT/p' -e '/^enum { RING_READY/p' \
				-e '/^struct region {/,/^};/p' "$ROOT/07-ring-consumer.c"
			cat <<-'EOF'
				#define AT(member) offsetof(struct region, member)
				int main(int argc, char *argv[])
				{
					if (argc == 4) {
						uint32_t value = (uint32_t)strtoul(argv[3], NULL, 0);
						int fd = open(argv[1], O_WRONLY);
						return fd == -1 || pwrite(fd, &value, 4, atol(argv[2])) != 4;
					}
					printf("REGION_SIZE=%zu STATE_AT=%zu EMPTY_AT=%zu FULL_AT=%zu SEM_SIZE=%zu\n",
					       sizeof(struct region), AT(state), AT(empty), AT(full), sizeof(sem_t));
					printf("SLOTS_AT=%zu SLOT_BYTES=%zu RING_READY=%u RING_JOINED=%u\n", AT(slots),
					       AT(slots[1]) - AT(slots[0]), (unsigned)RING_READY, (unsigned)RING_JOINED);
					return AT(slots[0].length) != AT(slots[0]);
				}
			EOF
		} > "$SHARED/07-ring-layout.c"
		${CC:-cc} -std=c11 -pthread -o "$LAYOUT.$$" "$SHARED/07-ring-layout.c" ||
			fail "cannot build the layout helper with ${CC:-cc}"
		mv -f "$LAYOUT.$$" "$LAYOUT"
	fi
	local layout
	layout=$("$LAYOUT") || fail "a slot's length is not its first word"
	eval "$layout"
}

# word OFFSET: the 32-bit number at OFFSET in the case's region: $REGION,
# by default the one at its name.
word() { od -An -tu4 -j "$1" -N 4 "${REGION:-/dev/shm/$ID-r}" | tr -d ' '; }
# poke OFFSET [VALUE]: overwrite the 32-bit number at OFFSET (with VALUE,
# by default 0xffffffff).
poke() { "$LAYOUT" "${REGION:-/dev/shm/$ID-r}" "$1" "${2:-0xffffffff}" || fail "cannot write the region"; }
# state_is VALUE: the region exists and its state word is VALUE.
state_is() { [ -e "/dev/shm/$ID-r" ] && [ "$(word "$STATE_AT")" = "$1" ]; }
# length_is SLOT VALUE: the length word of slot number SLOT is VALUE.
length_is() { [ "$(word $((SLOTS_AT + $1 * SLOT_BYTES)))" = "$2" ]; }
# says FILE [LINE]: FILE holds exactly LINE (nothing, without LINE),
# besides the notice that a side waits for its partner, which any slow
# start (under valgrind) can print.
says() {
	sed -i '/^07-ring-[a-z]*: waiting for 07-ring-[a-z]* to start$/d' "$1"
	if [ $# = 1 ]; then
		[ ! -s "$1" ] || fail "unexpected message in $1: $(cat "$1")"
	else
		stderr_is "$1" "$2"
	fi
}
no_region() { [ ! -e "/dev/shm/$ID-r" ] || fail "region left behind"; }
# joined: the consumer has joined, so the producer has removed the name.
joined() { [ ! -e "/dev/shm/$ID-r" ]; }
# region_of PID: the region that process PID maps, found by its descriptor,
# as its name is gone once the pair has joined.
region_of() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" != "/dev/shm/$ID-r (deleted)" ] || { printf '%s\n' "$fd"; return; }
	done
	fail "process $1 maps no region"
}
replacing_line() { printf '07-ring-producer: replacing the region at /%s: left by a killed run' "$ID-r"; }
gone_line() { printf '%s: sem_timedwait /%s: %s is gone (the stream was cut short)' "$1" "$ID-r" "$2"; }

# a_waiting_producer [INPUT]: a producer that has made its region and
# waits for a consumer; it reads INPUT (/dev/null), its errors go to $T/perr.
a_waiting_producer() {
	ring_layout
	spawn 07-ring-producer "/$ID-r" < "${1:-/dev/null}" 2> "$T/perr"
	producer=$!
	wait_until state_is "$RING_READY"
}

# stall_a_ring: a producer fed from /dev/zero, a consumer writing to a
# FIFO nobody reads (stall_output), so the ring fills up and stays so.
stall_a_ring() {
	ring_layout
	stall_output
	spawn 07-ring-producer "/$ID-r" < /dev/zero 2> "$T/perr"
	producer=$!
	wait_until state_is "$RING_READY"
	spawn 07-ring-consumer "/$ID-r" > "$STALL" 2> "$T/cerr"
	consumer=$!
	wait_until joined
	wait_until is_blocked $consumer
}

# a_joined_pair: a producer reading a FIFO we write by hand (fd 3, which
# they do not inherit: closing it ends the input), and a consumer writing
# to $T/out; returns once the consumer has joined.
a_joined_pair() {
	ring_layout
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 07-ring-producer "/$ID-r" < "$T/feed" 2> "$T/perr" 3>&-
	producer=$!
	wait_until state_is "$RING_READY"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr" 3>&-
	consumer=$!
	wait_until joined
}

# feed_a_producer: a joined pair, once its first line has gone through.
feed_a_producer() {
	a_joined_pair
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
}

# round_trip FILE [NAME]: consumer first, then the producer, then compare.
round_trip() {
	local name=${2:-/$ID-r}
	spawn 07-ring-consumer "$name" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	run 07-ring-producer "$name" < "$1" 2> "$T/perr"
	finished $consumer 0
	same "$1" "$T/out"
	says "$T/cerr"
	says "$T/perr"
	[ ! -e "/dev/shm/${name#/}" ] || fail "region left behind"
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

test_a_name_of_255_bytes_after_the_slash_is_accepted() {
	local name
	name=/$ID-$(printf 'x%.0s' {1..300})
	name=${name:0:256}
	printf 'a long name\n' > "$T/in"
	round_trip "$T/in" "$name"
}

test_producer_first_waits_for_its_consumer_then_copies_100_MB_of_binary_data() {
	local big
	ring_layout
	big=$(input big 100000000)
	spawn 07-ring-producer "/$ID-r" < "$big" 2> "$T/perr"
	local producer=$!
	wait_until test -s "$T/perr"
	state_is "$RING_READY" || fail "the producer has not made its region, or took no consumer for one"
	run 07-ring-consumer "/$ID-r" > "$T/out"
	finished $producer 0
	same "$big" "$T/out"
	stderr_is "$T/perr" "07-ring-producer: waiting for 07-ring-consumer to start"
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

test_sigint_on_a_producer_waiting_for_its_consumer_removes_the_region() {
	a_waiting_producer
	wait_until test -s "$T/perr"
	kill -INT $producer
	finished $producer $((128 + $(signum SIGINT)))
	stderr_is "$T/perr" "07-ring-producer: waiting for 07-ring-consumer to start"
	no_region
}

test_sigterm_on_a_consumer_waiting_for_its_producer_ends_it_and_leaves_nothing() {
	spawn 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	wait_until is_blocked $consumer
	kill -TERM $consumer
	finished $consumer $((128 + $(signum SIGTERM)))
	stderr_is "$T/cerr" "07-ring-consumer: waiting for 07-ring-producer to start"
	no_region
}

test_sigquit_and_sigusr1_on_a_waiting_producer_remove_the_region() {
	local sig
	for sig in SIGQUIT SIGUSR1; do
		a_waiting_producer
		kill -s "$sig" $producer
		finished $producer $((128 + $(signum "$sig")))
		no_region
	done
}

test_sigalrm_on_a_streaming_producer_removes_the_region_and_fails_the_consumer() {
	feed_a_producer
	kill -ALRM $producer
	finished $producer $((128 + $(signum SIGALRM)))
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	no_region
}

test_a_real_time_signal_on_a_streaming_consumer_removes_the_region_and_fails_the_producer() {
	stall_a_ring
	kill -s "$(signum SIGRTMIN+1)" $consumer
	finished $consumer $((128 + $(signum SIGRTMIN+1)))
	no_region
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
}

test_a_killed_producer_is_reported_within_two_seconds() {
	feed_a_producer
	kill -KILL $producer
	finished $producer $((128 + $(signum SIGKILL)))
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	no_region
}

test_a_killed_consumer_is_reported_within_two_seconds() {
	stall_a_ring
	kill -KILL $consumer
	finished $consumer $((128 + $(signum SIGKILL)))
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	no_region
}

test_sigterm_on_a_streaming_producer_removes_the_region_and_fails_the_consumer() {
	feed_a_producer
	kill -TERM $producer
	finished $producer $((128 + $(signum SIGTERM)))
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	no_region
}

test_sigterm_on_a_streaming_consumer_removes_the_region_and_fails_the_producer() {
	stall_a_ring
	kill -TERM $consumer
	finished $consumer $((128 + $(signum SIGTERM)))
	no_region
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
}

test_a_closed_standard_output_ends_the_consumer_quietly_and_fails_the_producer() {
	local big
	big=$(input big 100000000)
	spawn 07-ring-producer "/$ID-r" < "$big" 2> "$T/perr"
	local producer=$!
	quiet_under_head 10 07-ring-consumer "/$ID-r"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	no_region
}

# limited BLOCKS PROGRAM ARGS...: run PROGRAM under ulimit -f BLOCKS.
limited() { (ulimit -f "$1" && run "${@:2}"); }

test_a_file_size_limit_on_the_output_is_an_error_that_fails_the_producer() {
	ring_layout
	# A limit far below the input, and above a ring's worth of slots.
	local blocks=$((REGION_SIZE / 1024 + 1024)) big
	big=$(input many-slots 3000017)
	[ $((blocks * 1024)) -lt 3000017 ] || fail "the input is too small for this limit"
	spawn 07-ring-producer "/$ID-r" < "$big" 2> "$T/perr"
	local producer=$!
	expect_status 1 limited "$blocks" 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	stderr_is "$T/cerr" "07-ring-consumer: write standard output: $(errtext EFBIG)"
	head -c $((blocks * 1024)) "$big" | cmp - "$T/out" || fail "wrong output before the limit"
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	no_region
}

test_a_closed_standard_input_fails_the_producer_and_then_the_consumer() {
	# Under valgrind (RUN), valgrind itself fills a closed 0, 1 or 2.
	[ -z "${RUN:-}" ] || skip "valgrind fills closed standard descriptors itself"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	expect_status 1 run 07-ring-producer "/$ID-r" <&- 2> "$T/perr"
	stderr_is "$T/perr" "07-ring-producer: read standard input: $(errtext EBADF)"
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	[ ! -s "$T/out" ] || fail "the consumer wrote something"
	no_region
}

test_a_closed_standard_output_fails_the_consumer_and_then_the_producer() {
	# Under valgrind (RUN), valgrind itself fills a closed 0, 1 or 2.
	[ -z "${RUN:-}" ] || skip "valgrind fills closed standard descriptors itself"
	printf 'nowhere to go\n' > "$T/in"
	spawn 07-ring-consumer "/$ID-r" >&- 2> "$T/cerr"
	local consumer=$!
	expect_status 1 run 07-ring-producer "/$ID-r" < "$T/in" 2> "$T/perr"
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: write standard output: $(errtext EBADF)"
	no_region
}

test_a_full_dev_shm_is_no_space_left_and_leaves_nothing() {
	needs mount-namespace
	# A private /dev/shm of 64 KiB, far smaller than the region.
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout -k 2 "$TMO" unshare -m sh -c 'mount -t tmpfs -o size=64k none /dev/shm || exit 99
		${RUN:-} "$1" "$2" < /dev/null 2> "$3"
		echo "$?" > "$4"; ls -A /dev/shm > "$5"' \
		_ "$BIN/07-ring-producer" "/$ID-r" "$T/err" "$T/status" "$T/left" ||
		fail "cannot mount a tmpfs in a private namespace"
	[ "$(cat "$T/status")" = 1 ] || fail "the producer exited $(cat "$T/status"), expected 1"
	stderr_is "$T/err" "07-ring-producer: posix_fallocate /$ID-r: $(errtext ENOSPC)"
	[ ! -s "$T/left" ] || fail "left in the full /dev/shm: $(cat "$T/left")"
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

test_a_second_producer_is_refused_while_the_first_waits_for_its_consumer() {
	printf 'still the first\n' > "$T/in"
	printf 'not the second\n' > "$T/in2"
	a_waiting_producer "$T/in"
	expect_status 1 run 07-ring-producer "/$ID-r" < "$T/in2" 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: already has a 07-ring-producer (wait for it to end or pass another NAME)"
	run 07-ring-consumer "/$ID-r" > "$T/out"
	finished $producer 0
	same "$T/in" "$T/out"
	says "$T/perr"
	no_region
}

# hold_lock BYTE: a process that holds a record lock on BYTE of the region,
# as a live partner does; its pid in $holder. It ends with the case's files.
hold_lock() {
	python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
open(sys.argv[3], "w").close()
time.sleep(60)' "/dev/shm/$ID-r" "$1" "$T/locked" &
	holder=$!
	wait_until test -e "$T/locked"
}

test_a_consumer_that_holds_the_lock_is_taken_for_a_live_one_by_both_sides() {
	a_waiting_producer
	kill -KILL $producer
	finished $producer $((128 + $(signum SIGKILL)))
	hold_lock 0
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fcntl /$ID-r: already has a 07-ring-consumer (wait for it to end or pass another NAME)"
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: already has a 07-ring-consumer (wait for it to end or pass another NAME)"
	kill $holder
	wait $holder || :
	rm "/dev/shm/$ID-r"
}

test_a_region_its_producer_is_still_making_is_taken_for_a_live_producer() {
	ring_layout
	# What a second producer sees while the first is between shm_open and
	# its RING_READY: the region's size, state 0, the producer's lock held.
	truncate -s "$REGION_SIZE" "/dev/shm/$ID-r"
	hold_lock 1
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: already has a 07-ring-producer (wait for it to end or pass another NAME)"
	kill $holder
	wait $holder || :
	rm "/dev/shm/$ID-r"
}

test_a_second_pair_at_the_same_name_makes_its_own_ring_and_the_first_is_undisturbed() {
	feed_a_producer
	wait_until joined
	printf 'another ring\n' > "$T/in2"
	spawn 07-ring-consumer "/$ID-r" > "$T/out2" 2> "$T/cerr2"
	local consumer2=$!
	run 07-ring-producer "/$ID-r" < "$T/in2"
	finished $consumer2 0
	same "$T/in2" "$T/out2"
	says "$T/cerr2"
	printf 'second part\n' >&3
	exec 3>&-
	finished $producer 0
	finished $consumer 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	says "$T/cerr"
	says "$T/perr"
	no_region
}

# has_open PID: process PID has the object at /$ID-r open.
has_open() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" != "/dev/shm/$ID-r" ] || return 0
	done
	return 1
}
# stopped_by_sigstop: the program strace started has stopped on the SIGSTOP
# injected at its call (strace says so in $T/stops). Its state alone cannot
# tell: a traced program shows "t" at every stop strace makes on the way,
# the one before that call has run too.
stopped_by_sigstop() { grep -q -e '--- stopped by SIGSTOP ---' "$T/stops" 2> /dev/null; }
# new_ready_region INODE: a region other than INODE is at /$ID-r, ready.
new_ready_region() { [ "$(stat -c %i "/dev/shm/$ID-r" 2> /dev/null)" != "$1" ] && state_is "$RING_READY"; }
# replaced_round_trip [COMMAND...]: a producer replaces the stale region at
# /$ID-r, says so in one line, and then carries a stream as usual; COMMAND,
# if given, runs once its new region is ready, before the consumer starts.
replaced_round_trip() {
	local stale
	stale=$(stat -c %i "/dev/shm/$ID-r")
	printf 'after the replacement\n' > "$T/in"
	spawn 07-ring-producer "/$ID-r" < "$T/in" 2> "$T/perr"
	local producer=$!
	# A consumer started before the replacement would meet the stale
	# region, and report its producer gone: wait for the new one.
	wait_until new_ready_region "$stale"
	[ $# -eq 0 ] || "$@"
	run 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	finished $producer 0
	same "$T/in" "$T/out"
	says "$T/perr" "$(replacing_line)"
	says "$T/cerr"
	no_region
}

test_a_region_left_by_a_killed_producer_is_replaced_by_the_next_one() {
	a_waiting_producer
	kill -KILL $producer
	finished $producer $((128 + $(signum SIGKILL)))
	replaced_round_trip
}

test_a_consumer_joining_a_killed_producer_reports_it_and_the_next_producer_replaces_it() {
	a_waiting_producer
	kill -KILL $producer
	finished $producer $((128 + $(signum SIGKILL)))
	expect_status 1 run 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "$(gone_line 07-ring-consumer 07-ring-producer)"
	state_is "$RING_JOINED" || fail "the consumer did not join, or removed the region"
	replaced_round_trip
}

test_the_name_goes_once_the_consumer_joins_so_a_killed_pair_leaves_nothing() {
	a_joined_pair
	[ ! -s "$T/out" ] || fail "the consumer wrote before any input"
	kill -KILL $producer $consumer
	finished $producer $((128 + $(signum SIGKILL)))
	finished $consumer $((128 + $(signum SIGKILL)))
	exec 3>&-
	no_region
}

# A consumer killed after joining, before its producer removed the name:
# forged here by marking a killed producer's region as joined.
test_a_joined_region_without_a_consumer_is_refused_and_the_next_producer_replaces_it() {
	a_waiting_producer
	kill -KILL $producer
	finished $producer $((128 + $(signum SIGKILL)))
	poke "$STATE_AT" "$RING_JOINED"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: mmap /$ID-r: already has a 07-ring-consumer (left by a killed run: a new 07-ring-producer replaces it)"
	replaced_round_trip
}

# With no pid in the region, a forged arrival cannot pass for a consumer:
# only a process that holds the consumer's lock can.
test_a_forged_arrival_mark_is_not_taken_for_a_live_consumer() {
	a_waiting_producer
	poke "$STATE_AT" "$RING_JOINED"
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	no_region
}

test_usage_errors_exit_2() {
	expect_status 2 run 07-ring-consumer /a /b 2> "$T/err"
	stderr_is "$T/err" "usage: 07-ring-consumer [NAME]   (default NAME: /ipc-07-$(id -u))"
	expect_status 2 run 07-ring-producer -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 07-ring-producer [NAME]   (default NAME: /ipc-07-$(id -u))"
	local name long
	# One byte more than NAME_MAX after the slash, which 01 and 02 refuse too.
	long=/$ID-$(printf 'x%.0s' {1..300})
	for name in '' / /. /.. "$ID-r" "/$ID/r" "${long:0:257}"; do
		expect_status 2 run 07-ring-producer "$name" < /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 07-ring-producer [NAME]   (default NAME: /ipc-07-$(id -u))"
		expect_status 2 run 07-ring-consumer "$name" > /dev/null 2> "$T/err"
		stderr_is "$T/err" "usage: 07-ring-consumer [NAME]   (default NAME: /ipc-07-$(id -u))"
	done
}

test_a_control_byte_in_a_name_is_shown_escaped() {
	printf 'junk' > "/dev/shm/$ID-r
x"
	expect_status 1 run 07-ring-producer "/$ID-r
x" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r\\012x: $(errtext EEXIST) (not a 07 ring: remove it or pass another NAME)"
	rm "/dev/shm/$ID-r
x"
}

test_a_garbage_region_is_refused_and_left_alone() {
	ring_layout
	{ printf 'junk'; head -c $((REGION_SIZE - 4)) /dev/urandom; } > "/dev/shm/$ID-r"
	cp "/dev/shm/$ID-r" "$T/orig"
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: $(errtext EEXIST) (not a 07 ring: remove it or pass another NAME)"
	expect_status 1 run 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: pread /$ID-r: not a 07 ring (wrong magic number) (remove it or pass another NAME)"
	same "$T/orig" "/dev/shm/$ID-r"
	[ ! -s "$T/out" ] || fail "garbage reached the output"
	rm "/dev/shm/$ID-r"
}

test_a_truncated_region_is_refused_by_the_consumer() {
	a_waiting_producer
	truncate -s 4096 "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fstat /$ID-r: wrong type or size for a 07 ring (remove it or pass another NAME)"
	kill -TERM $producer
	finished $producer $((128 + $(signum SIGTERM)))
	no_region
}

# truncated_under_a_waiting_producer: only another process can truncate
# the region (its pages are reserved): the producer's next look raises
# SIGBUS, a stop signal like the others; it dies of it, quietly, and the
# region is removed.
truncated_under_a_waiting_producer() {
	a_waiting_producer
	truncate -s 0 "/dev/shm/$ID-r"
	finished $producer $((128 + $(signum SIGBUS)))
	sed -i '/waiting for/d' "$T/perr"
	[ ! -s "$T/perr" ] || fail "unexpected message: $(cat "$T/perr")"
	no_region
}

test_truncating_the_region_under_a_waiting_producer_removes_it() { truncated_under_a_waiting_producer; }

# The kernel raises the SIGBUS of a shrunk mapping even where it is ignored:
# ignored at the start, it is still caught, and the region removed.
test_truncating_the_region_under_a_producer_started_with_sigbus_ignored_removes_it() {
	RUN="env --ignore-signal=SIGBUS ${RUN:-}" truncated_under_a_waiting_producer
}

# A producer stopped by a signal in the moment after its removal of the
# name must not remove the name again (clean_up asks fstat): by then it
# may be another producer's region (held there by a SIGSTOP as its unlink
# returns, while a second pair starts at the name).
test_a_producer_stopped_as_it_removes_the_name_leaves_the_next_producers_region() {
	needs cmd strace
	ring_layout
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	strace -qq -o "$T/stops" -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=SIGSTOP:when=1 \
		"$BIN/07-ring-producer" "/$ID-r" < "$T/feed" 2> "$T/perr" 3>&- &
	local tracer=$! first
	first=$(child_of $tracer)
	wait_until state_is "$RING_READY"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr" 3>&-
	local consumer=$!
	wait_until stopped_by_sigstop
	no_region
	printf 'the second pair\n' > "$T/in2"
	spawn 07-ring-producer "/$ID-r" < "$T/in2" 2> "$T/perr2"
	local second=$!
	wait_until state_is "$RING_READY"
	kill -TERM "$first"
	kill -CONT "$first"
	TMO=$NOTICE finished $tracer $((128 + $(signum SIGTERM)))
	state_is "$RING_READY" || fail "the stopped producer removed the second one's region"
	run 07-ring-consumer "/$ID-r" > "$T/out2" 2> "$T/cerr2"
	finished $second 0
	same "$T/in2" "$T/out2"
	says "$T/perr2"
	says "$T/cerr2"
	TMO=$NOTICE finished $consumer 1
	stderr_is "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	exec 3>&-
	no_region
}

# A link to the region elsewhere in /dev/shm keeps its link count above 0
# once the producer has removed the name: a producer stopped mid-stream must
# still leave the name alone, which may be the next pair's by then.
test_a_link_to_the_region_never_makes_a_stopped_producer_remove_the_next_pairs() {
	ring_layout
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 07-ring-producer "/$ID-r" < "$T/feed" 2> "$T/perr" 3>&-
	local first=$!
	wait_until state_is "$RING_READY"
	ln "/dev/shm/$ID-r" "/dev/shm/$ID-link"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr" 3>&-
	local consumer=$!
	wait_until test ! -e "/dev/shm/$ID-r"
	printf 'the second pair\n' > "$T/in2"
	spawn 07-ring-producer "/$ID-r" < "$T/in2" 2> "$T/perr2"
	local second=$!
	wait_until state_is "$RING_READY"
	kill -TERM $first
	finished $first $((128 + $(signum SIGTERM)))
	rm "/dev/shm/$ID-link"
	state_is "$RING_READY" || fail "the stopped producer removed the second one's region"
	run 07-ring-consumer "/$ID-r" > "$T/out2" 2> "$T/cerr2"
	finished $second 0
	same "$T/in2" "$T/out2"
	TMO=$NOTICE finished $consumer 1
	stderr_is "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
	exec 3>&-
	no_region
}

# Empty, but no region of ours could be a FIFO: refused at once (the line
# says why; a wait for a producer would end in "still empty"), left alone.
test_a_fifo_at_the_name_is_refused_and_left_alone() {
	mkfifo "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-producer "/$ID-r" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-producer: shm_open /$ID-r: $(errtext EEXIST) (not a 07 ring: remove it or pass another NAME)"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fstat /$ID-r: wrong type or size for a 07 ring (remove it or pass another NAME)"
	[ -p "/dev/shm/$ID-r" ] || fail "the FIFO was removed"
	rm "/dev/shm/$ID-r"
}

# What a producer killed (or stopped by a signal) between its shm_open and
# its posix_fallocate leaves: an empty object that nobody holds a lock on.
test_an_empty_object_is_refused_after_two_seconds_and_the_next_producer_replaces_it() {
	ring_layout
	: > "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: fstat /$ID-r: still empty after 2 s (left by a killed run: a new 07-ring-producer replaces it)"
	[ -e "/dev/shm/$ID-r" ] || fail "the consumer removed the object"
	replaced_round_trip
}

# A consumer that opened the empty object before a producer replaced it
# looks at the name again, and takes the new producer's stream.
test_a_consumer_waiting_on_an_empty_object_joins_the_producer_that_replaces_it() {
	ring_layout
	: > "/dev/shm/$ID-r"
	printf 'after the replacement\n' > "$T/in"
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	wait_until has_open $consumer
	run 07-ring-producer "/$ID-r" < "$T/in" 2> "$T/perr"
	finished $consumer 0
	same "$T/in" "$T/out"
	says "$T/perr" "$(replacing_line)"
	says "$T/cerr"
	no_region
}

# What a producer killed between posix_fallocate and its RING_READY leaves.
test_a_sized_region_whose_state_word_stays_0_is_refused_after_two_seconds_and_replaced() {
	ring_layout
	truncate -s "$REGION_SIZE" "/dev/shm/$ID-r"
	expect_status 1 run 07-ring-consumer "/$ID-r" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "07-ring-consumer: pread /$ID-r: still empty after 2 s (left by a killed run: a new 07-ring-producer replaces it)"
	head -c "$REGION_SIZE" /dev/zero | cmp - "/dev/shm/$ID-r" || fail "the consumer wrote into the region"
	replaced_round_trip
}

test_a_producer_killed_while_it_makes_its_region_is_replaced_by_the_next_one() {
	needs cmd strace
	ring_layout
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		expect_status 137 strace -qq -o /dev/null -e inject=fallocate:signal=SIGKILL:when=1 \
		"$BIN/07-ring-producer" "/$ID-r" < /dev/null
	local state
	state=$(word "$STATE_AT")
	[ -e "/dev/shm/$ID-r" ] && [ "${state:-0}" = 0 ] || fail "no half-made region left to prove"
	replaced_round_trip
}

# A producer stopped (Ctrl-Z, here a SIGSTOP as it reserves its pages)
# still holds its lock on its empty object: the consumer waits for it past
# the 2 s it gives an object nobody holds, and takes its stream once it goes on.
test_a_consumer_waits_for_a_producer_stopped_while_it_makes_its_region() {
	needs cmd strace
	ring_layout
	printf 'after the stop\n' > "$T/in"
	strace -qq -o "$T/stops" -e trace=fallocate -e inject=fallocate:signal=SIGSTOP:when=1 \
		"$BIN/07-ring-producer" "/$ID-r" < "$T/in" 2> "$T/perr" &
	local tracer=$! producer
	producer=$(child_of $tracer)
	wait_until stopped_by_sigstop
	spawn 07-ring-consumer "/$ID-r" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	wait_until has_open $consumer
	sleep 2.5 # what is asserted is time passing: past the 2 s for an unheld object
	local waited=1
	! exited $consumer || waited=0
	kill -CONT "$producer" # first: a stopped process would outlive the case
	[ "$waited" = 1 ] || { kill -TERM "$producer"; fail "the consumer gave up: $(cat "$T/cerr")"; }
	finished $consumer 0
	TMO=$NOTICE finished "$tracer" 0
	same "$T/in" "$T/out"
	says "$T/cerr"
	no_region
}

# The name of an empty object may be taken in the moment between another
# producer's shm_open and its lock: stopped there (by a SIGSTOP as its
# shm_open returns), it finds its object gone once it has the lock, tries
# again, and is refused.
test_a_producer_whose_new_region_was_taken_for_a_killed_runs_tries_again() {
	needs cmd strace
	ring_layout
	# Which call of open or openat is shm_open's: count them in a run
	# stopped once ready (the loader opens files first, as many as it needs).
	strace -qq -o "$T/trace" -e trace=open,openat "$BIN/07-ring-producer" "/$ID-r" \
		< /dev/null 2> /dev/null &
	local tracer=$!
	wait_until state_is "$RING_READY"
	kill -TERM "$(child_of $tracer)"
	wait $tracer || :
	no_region
	local call nth
	read -r call nth < <(awk -v name="/$ID-r\"" '{ call = substr($0, 1, index($0, "(") - 1); n[call]++ }
		index($0, name) && /O_EXCL/ { print call, n[call]; exit }' "$T/trace")
	[ -n "$nth" ] || fail "no shm_open in $(cat "$T/trace")"
	strace -qq -o "$T/stops" -e trace="$call" -e inject="$call":signal=SIGSTOP:when="$nth" \
		"$BIN/07-ring-producer" "/$ID-r" < /dev/null 2> "$T/first" &
	tracer=$!
	local first
	first=$(child_of $tracer)
	wait_until stopped_by_sigstop
	[ -e "/dev/shm/$ID-r" ] && [ ! -s "/dev/shm/$ID-r" ] || fail "no empty region to take"
	replaced_round_trip first_tries_again
}
# first_tries_again: the stopped producer goes on, finds its object gone,
# and is refused by the one that replaced it.
first_tries_again() {
	kill -CONT "$first"
	TMO=$NOTICE finished "$tracer" 1
	stderr_is "$T/first" "07-ring-producer: shm_open /$ID-r: already has a 07-ring-producer (wait for it to end or pass another NAME)"
}

# The consumer is stopped while the producer fills the first slot; that
# slot's length, scribbled, is then the first thing it reads.
test_an_out_of_range_slot_length_in_the_region_is_caught() {
	a_joined_pair
	kill -STOP $consumer
	local REGION
	REGION=$(region_of $consumer)
	printf 'x' >&3
	wait_until length_is 0 1
	poke "$SLOTS_AT"
	kill -CONT $consumer
	finished $consumer 1
	stderr_is "$T/cerr" "07-ring-consumer: mmap /$ID-r: slot length out of range (the region is corrupt)"
	[ ! -s "$T/out" ] || fail "the consumer wrote something"
	exec 3>&-
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 07-ring-producer 07-ring-consumer)"
	no_region
}

test_a_region_of_another_user_is_refused_and_left_alone() {
	needs user-switch
	ring_layout
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

# The semaphores' words belong to the C library, which may abort (glibc
# does, in either program) or count on (musl): what must hold either way
# is that nobody exits 0 with a wrong output, waits forever or leaves the
# region.
test_scribbled_semaphores_never_give_a_wrong_output_a_hang_or_a_leftover() {
	feed_a_producer
	head -c "$SEM_SIZE" /dev/zero | tr '\0' '\377' |
		dd of="$(region_of $consumer)" bs="$SEM_SIZE" seek="$FULL_AT" oflag=seek_bytes conv=notrunc status=none
	printf 'second part\n' >&3
	exec 3>&-
	local cstatus=0 pstatus=0
	wait_until exited $consumer
	wait $consumer || cstatus=$?
	TMO=$NOTICE wait_until exited $producer
	wait $producer || pstatus=$?
	no_region
	if [ $cstatus = 0 ]; then
		printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "exit 0 with a wrong output"
		[ $pstatus = 0 ] || fail "the consumer succeeded, the producer exited $pstatus"
	elif [ $cstatus = $((128 + $(signum SIGABRT))) ]; then
		: # the C library aborted in the consumer
	else
		# Caught by the sequence check, or the producer aborted first.
		[ $cstatus = 1 ] || fail "the consumer exited $cstatus, expected 0, 1 or death by SIGABRT"
		[ "$(cat "$T/cerr")" = "07-ring-consumer: mmap /$ID-r: slot out of sequence (the region is corrupt)" ] ||
			says "$T/cerr" "$(gone_line 07-ring-consumer 07-ring-producer)"
		[ $pstatus != 0 ] || fail "the producer exited 0 without delivering its data"
	fi
}

# Started under nohup, a producer waiting for its consumer keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	RUN="$NOHUP ${RUN:-}" a_waiting_producer
	keeps_ignored $producer HUP
	no_region
}
