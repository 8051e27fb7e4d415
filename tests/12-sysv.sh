# shellcheck shell=bash
# 12-sysv-producer / 12-sysv-consumer: the 07 ring in a System V segment,
# counted by a System V semaphore set, both under ftok(KEYPATH, 'S').
#
# The segment's layout (struct ring in both sources): offset 0 magic,
# 4 version, 8 the 16 slots of 65540 bytes (a 4-byte length, then 65536
# bytes of data): 1048648 bytes in all.
# The set: 0 empty, 1 full, 2 producer here, 3 consumer here.
SLOTS_AT=8
SLOT_BYTES=65540
# A dead partner must be noticed within about a second: allow three, or
# ten under valgrind, whose exit (its leak check) takes a while by itself.
NOTICE=3
[ -z "${RUN:-}" ] || NOTICE=10

# sysv_tool ARGS...: a small helper, built once per suite run with the
# compiler under test, that makes and pokes System V objects by key
# (System V objects have no file to write with dd):
#   mkset KEYPATH NSEMS        a 0600 set under KEYPATH's 'S' key
#   mkshm KEYPATH BYTES        a 0600 segment under that key
#   poke KEYPATH|=SHMID OFFSET  0xffffffff at OFFSET in the segment
sysv_tool() {
	if [ ! -x "$SHARED/sysv-tool" ]; then
		"${CC:-cc}" -std=c11 -O2 -x c -o "$SHARED/sysv-tool.$$" - <<-'EOF' || fail "cannot build sysv-tool"
			#define _POSIX_C_SOURCE 200809L
			#include <stdio.h>
			#include <stdlib.h>
			#include <string.h>
			#include <sys/sem.h>
			#include <sys/shm.h>
			int main(int argc, char *argv[])
			{
				if (argc != 4)
					return 2;
				key_t key = argv[2][0] == '=' ? 0 : ftok(argv[2], 'S');
				long number = strtol(argv[3], NULL, 10);
				int id;
				if (strcmp(argv[1], "mkset") == 0)
					id = semget(key, (int)number, IPC_CREAT | IPC_EXCL | 0600);
				else if (strcmp(argv[1], "mkshm") == 0)
					id = shmget(key, (size_t)number, IPC_CREAT | IPC_EXCL | 0600);
				else
					id = argv[2][0] == '=' ? atoi(argv[2] + 1) : shmget(key, 0, 0);
				if (key == -1 || id == -1)
					return perror(argv[2]), 1;
				if (strcmp(argv[1], "poke") == 0) {
					unsigned char *at = shmat(id, NULL, 0);
					if (at == (void *)-1)
						return perror("shmat"), 1;
					memset(at + number, 0xff, 4);
				}
				return 0;
			}
		EOF
		mv -f "$SHARED/sysv-tool.$$" "$SHARED/sysv-tool"
	fi
	"$SHARED/sysv-tool" "$@"
}

# set_of KEYPATH / segment_of KEYPATH: the id of the set or segment at
# that path's key, empty if none.
set_of() { ipcs -s | awk -v key="$(ftok_key "$1" "$SPROJ")" 'tolower($1) == key {print $2}'; }
segment_of() { ipcs -m | awk -v key="$(ftok_key "$1" "$SPROJ")" 'tolower($1) == key {print $2}'; }
# semaphore KEYPATH N: the value of semaphore N of that set.
semaphore() { ipcs -s -i "$(set_of "$1")" | awk -v n="$2" '$1 == n {print $2}'; }
# consumer_is_in KEYPATH / producer_is_in KEYPATH: that side's presence is up.
consumer_is_in() { [ -n "$(set_of "$1")" ] && [ "$(semaphore "$1" 3)" = 1 ]; }
producer_is_in() { [ -n "$(set_of "$1")" ] && [ "$(semaphore "$1" 2)" = 1 ]; }
# nothing_left KEYPATH: no set and no segment at the key.
nothing_left() {
	[ -z "$(set_of "$1")" ] || fail "set left behind"
	[ -z "$(segment_of "$1")" ] || fail "segment left behind"
}
# attached_segment PID: the id of the segment PID created (marked for
# removal, so it has no key any more), from ipcs -m -p.
attached_segment() { ipcs -m -p | awk -v pid="$1" '$3 == pid {print $1}'; }

# round_trip FILE: consumer first, then the producer, then compare.
round_trip() {
	key=$(keyfile k)
	spawn 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	wait_until consumer_is_in "$key"
	run 12-sysv-producer "$key" < "$1" 2> "$T/perr"
	finished $consumer 0
	same "$1" "$T/out"
	said_nothing_else
	nothing_left "$key"
}

# says FILE LINE: FILE holds LINE and nothing else but waiting lines.
says() {
	sed -i '/^12-sysv-[a-z]*: waiting for 12-sysv-[a-z]* to start$/d' "$1"
	stderr_is "$1" "$2"
}

# said_nothing_else: neither side said anything but that it is waiting for
# the other (which a slow start, on a loaded machine or under valgrind, makes
# either side say).
said_nothing_else() {
	sed -i '/^12-sysv-[a-z]*: waiting for 12-sysv-[a-z]* to start$/d' "$T/cerr" "$T/perr"
	[ ! -s "$T/cerr" ] && [ ! -s "$T/perr" ] || fail "unexpected messages: $(cat "$T/cerr" "$T/perr")"
}

# feed_a_producer: a producer reading a FIFO we write by hand (fd 3, which
# neither program holds, so closing it ends the stream), and a consumer
# writing to $T/out; returns once the first line has gone through.
feed_a_producer() {
	key=$(keyfile k)
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr" 3>&-
	consumer=$!
	spawn 12-sysv-producer "$key" < "$T/feed" 2> "$T/perr" 3>&-
	producer=$!
	printf 'first part\n' >&3
	wait_until test -s "$T/out"
}

# stall_a_full_ring: a producer fed from /dev/zero, a consumer writing to a
# FIFO nobody reads, so every slot fills up and stays full.
stall_a_full_ring() {
	key=$(keyfile k)
	stall_output
	spawn 12-sysv-consumer "$key" > "$STALL" 2> "$T/cerr"
	consumer=$!
	spawn 12-sysv-producer "$key" < /dev/zero 2> "$T/perr"
	producer=$!
	wait_until producer_is_in "$key"
	wait_until eval '[ "$(semaphore "$key" 0)" = 0 ]'
	wait_until is_blocked $consumer
}

gone_line() { printf '%s: semtimedop %s: %s is gone (the stream was cut short)' "$1" "$key" "$2"; }

test_empty_input_gives_empty_output() {
	: > "$T/in"
	round_trip "$T/in"
}

test_text_survives() {
	printf 'one line through a System V ring\n' > "$T/in"
	round_trip "$T/in"
}

test_binary_data_with_nul_bytes_wraps_around_the_ring() {
	round_trip "$(input many-slots 3000017)"
}

test_producer_first_copies_100_MB_of_binary_data() {
	local big key
	big=$(input big 100000000)
	key=$(keyfile k)
	spawn 12-sysv-producer "$key" < "$big" 2> "$T/perr"
	local producer=$!
	wait_until test -s "$T/perr"
	run 12-sysv-consumer "$key" > "$T/out"
	finished $producer 0
	same "$big" "$T/out"
	stderr_is "$T/perr" "12-sysv-producer: waiting for 12-sysv-consumer to start"
	nothing_left "$key"
}

test_a_consumer_left_waiting_says_so_then_takes_the_stream() {
	local key
	key=$(keyfile k)
	printf 'late but complete\n' > "$T/in"
	spawn 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	run 12-sysv-producer "$key" < "$T/in"
	finished $consumer 0
	same "$T/in" "$T/out"
	stderr_is "$T/cerr" "12-sysv-consumer: waiting for 12-sysv-producer to start"
	nothing_left "$key"
}

test_the_segment_is_marked_for_removal_once_both_are_attached() {
	feed_a_producer
	[ -z "$(segment_of "$key")" ] || fail "the segment still has its key"
	[ -n "$(attached_segment $consumer)" ] || fail "no segment made by the consumer"
	exec 3>&-
	finished $producer 0
	finished $consumer 0
	nothing_left "$key"
}

test_a_killed_producer_is_reported_within_a_second() {
	feed_a_producer
	kill -KILL $producer
	finished $producer 137
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 12-sysv-consumer 12-sysv-producer)"
	printf 'first part\n' | cmp - "$T/out" || fail "wrong output"
	nothing_left "$key"
}

test_a_producer_that_came_and_died_while_the_consumer_was_stopped_is_reported() {
	key=$(keyfile k)
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr" 3>&-
	consumer=$!
	wait_until is_blocked $consumer
	kill -STOP $consumer
	wait_until eval '[ "$(state $consumer)" = T ]'
	spawn 12-sysv-producer "$key" < "$T/feed" 2> "$T/perr" 3>&-
	producer=$!
	printf 'first part\n' >&3
	wait_until eval '[ "$(semaphore "$key" 2)" = 1 ]' # it has joined
	kill -KILL $producer
	finished $producer 137
	echo second | expect_status 1 run 12-sysv-producer "$key" 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: shmget $key: its 12-sysv-producer joined and is gone (its consumer ends that stream: run the pair again)"
	kill -CONT $consumer
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 12-sysv-consumer 12-sysv-producer)"
	nothing_left "$key"
}

test_a_killed_consumer_is_reported_within_a_second() {
	stall_a_full_ring
	kill -KILL $consumer
	finished $consumer 137
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 12-sysv-producer 12-sysv-consumer)"
	nothing_left "$key"
}

test_both_killed_leave_only_a_stale_set_which_the_next_pair_replaces() {
	stall_a_full_ring
	kill -KILL $producer $consumer
	finished $producer 137
	finished $consumer 137
	[ -n "$(set_of "$key")" ] || fail "no set left: nothing to prove"
	[ -z "$(segment_of "$key")" ] || fail "the segment was not marked for removal"
	[ -z "$(attached_segment $consumer)" ] || fail "the segment outlived both"
	printf 'after the crash\n' > "$T/in"
	spawn 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr"
	consumer=$!
	run 12-sysv-producer "$key" < "$T/in"
	finished $consumer 0
	same "$T/in" "$T/out"
	says "$T/cerr" "12-sysv-consumer: replacing the objects at $key: left by a killed run"
	nothing_left "$key"
}

test_a_creator_killed_halfway_is_recognised_and_replaced() {
	needs cmd strace
	local key
	key=$(keyfile k)
	# Killed at its first semop, the one that would mark the set ready.
	# (glibc's semop is the semtimedop system call; musl's is semop.)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		expect_status 137 strace -qq -o /dev/null -e inject=semop,semtimedop:signal=SIGKILL:when=1 \
		"$BIN/12-sysv-consumer" "$key" > /dev/null
	[ -n "$(set_of "$key")" ] && [ -n "$(segment_of "$key")" ] || fail "nothing left to prove"
	printf 'after a half-made set\n' > "$T/in"
	spawn 12-sysv-producer "$key" < "$T/in" 2> "$T/perr"
	local producer=$!
	wait_until test -s "$T/perr"
	run 12-sysv-consumer "$key" > "$T/out" 2> "$T/cerr"
	finished $producer 0
	same "$T/in" "$T/out"
	says "$T/cerr" "12-sysv-consumer: replacing the objects at $key: never initialised: its creator was killed halfway"
	stderr_is "$T/perr" "12-sysv-producer: waiting for 12-sysv-consumer to start"
	nothing_left "$key"
}

test_a_second_producer_is_refused_and_the_pair_goes_on() {
	feed_a_producer
	expect_status 1 run 12-sysv-producer "$key" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: shmget $key: already has a 12-sysv-producer (wait for it to end or pass another KEYPATH)"
	printf 'second part\n' >&3
	exec 3>&-
	finished $producer 0
	finished $consumer 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "the pair was disturbed"
	nothing_left "$key"
}

test_a_second_consumer_is_refused() {
	local key
	key=$(keyfile k)
	spawn 12-sysv-consumer "$key" > /dev/null 2> /dev/null
	local first=$!
	wait_until consumer_is_in "$key"
	expect_status 1 run 12-sysv-consumer "$key" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-consumer: semop $key: already has a 12-sysv-consumer (wait for it to end or pass another KEYPATH)"
	exited $first && fail "the first consumer was disturbed"
	kill -TERM $first
	finished $first 143
	nothing_left "$key"
}

test_a_stop_and_continue_interrupts_semtimedop_harmlessly() {
	feed_a_producer
	wait_until is_blocked $consumer
	kill -STOP $consumer $producer
	wait_until eval '[ "$(state $consumer)" = T ]'
	kill -CONT $consumer $producer
	printf 'second part\n' >&3
	exec 3>&-
	finished $producer 0
	finished $consumer 0
	printf 'first part\nsecond part\n' | cmp - "$T/out" || fail "wrong output"
	said_nothing_else
	nothing_left "$key"
}

test_a_producer_stopped_on_a_full_ring_carries_on_after_continue() {
	local key big
	key=$(keyfile k)
	big=$(input many-slots 3000017)
	stall_output
	spawn 12-sysv-consumer "$key" > "$STALL" 2> "$T/cerr" 4>&-
	local consumer=$!
	spawn 12-sysv-producer "$key" < "$big" 2> "$T/perr" 4>&-
	local producer=$!
	wait_until eval '[ "$(semaphore "$key" 0)" = 0 ]'
	wait_until is_blocked $producer
	kill -STOP $producer
	wait_until eval '[ "$(state $producer)" = T ]'
	kill -CONT $producer
	cat "$STALL" > "$T/out" 4>&- &
	finished $producer 0
	finished $consumer 0
	exec 4>&-
	wait
	same "$big" "$T/out"
	said_nothing_else
}

test_sigint_on_a_waiting_consumer_removes_both_objects() {
	local key
	key=$(keyfile k)
	spawn 12-sysv-consumer "$key" > /dev/null 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	kill -INT $consumer
	finished $consumer 130
	nothing_left "$key"
}

test_sigterm_on_a_streaming_consumer_fails_the_producer() {
	stall_a_full_ring
	kill -TERM $consumer
	finished $consumer 143
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 12-sysv-producer 12-sysv-consumer)"
	nothing_left "$key"
}

test_sigterm_on_a_streaming_producer_fails_the_consumer() {
	feed_a_producer
	kill -TERM $producer
	finished $producer 143
	TMO=$NOTICE finished $consumer 1
	says "$T/cerr" "$(gone_line 12-sysv-consumer 12-sysv-producer)"
	nothing_left "$key"
}

test_a_closed_standard_output_ends_the_consumer_quietly_and_fails_the_producer() {
	local big key
	big=$(input big 100000000)
	key=$(keyfile k)
	spawn 12-sysv-producer "$key" < "$big" 2> "$T/perr"
	local producer=$!
	quiet_under_head 10 12-sysv-consumer "$key"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	TMO=$NOTICE finished $producer 1
	says "$T/perr" "$(gone_line 12-sysv-producer 12-sysv-consumer)"
	nothing_left "$key"
}

test_a_set_removed_under_the_pair_is_reported_as_removed() {
	feed_a_producer
	wait_until is_blocked $consumer
	ipcrm -s "$(set_of "$key")"
	finished $consumer 1
	says "$T/cerr" "12-sysv-consumer: semtimedop $key: $(errtext EIDRM) (the set was removed: ipcrm, or logind's RemoveIPC)"
	printf 'more\n' >&3
	finished $producer 1
	says "$T/perr" "12-sysv-producer: semop $key: $(errtext EINVAL) (the set was removed: ipcrm, or logind's RemoveIPC)"
	nothing_left "$key"
}

test_a_set_with_the_wrong_number_of_semaphores_is_refused_and_left_alone() {
	local key
	key=$(keyfile k)
	sysv_tool mkset "$key" 3
	expect_status 1 run 12-sysv-consumer "$key" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-consumer: semget $key: not a 12 set (wrong number of semaphores) (ipcrm it or pass another KEYPATH)"
	expect_status 1 run 12-sysv-producer "$key" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: semget $key: not a 12 set (wrong number of semaphores) (ipcrm it or pass another KEYPATH)"
	[ -n "$(set_of "$key")" ] || fail "the set was removed"
	ipcrm -s "$(set_of "$key")"
}

test_a_segment_of_the_wrong_size_is_refused_and_left_alone() {
	local key
	key=$(keyfile k)
	sysv_tool mkshm "$key" 4096
	expect_status 1 run 12-sysv-consumer "$key" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-consumer: shmget $key: wrong size for a 12 ring (ipcrm it or pass another KEYPATH)"
	[ -z "$(set_of "$key")" ] || fail "the consumer left its set"
	[ -n "$(segment_of "$key")" ] || fail "the segment was removed"
	ipcrm -m "$(segment_of "$key")"
}

test_a_garbage_header_is_refused_by_the_producer_without_harm() {
	local key
	key=$(keyfile k)
	spawn 12-sysv-consumer "$key" > "$T/out" 2> /dev/null
	local consumer=$!
	wait_until consumer_is_in "$key"
	sysv_tool poke "$key" 0
	expect_status 1 run 12-sysv-producer "$key" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: shmat $key: not a 12 ring (wrong magic number) (ipcrm it or pass another KEYPATH)"
	exited $consumer && fail "the consumer was disturbed"
	[ "$(semaphore "$key" 2)" = 0 ] || fail "the producer joined the ring"
	kill -TERM $consumer
	finished $consumer 143
	nothing_left "$key"
}

test_another_version_of_the_ring_is_refused() {
	local key
	key=$(keyfile k)
	spawn 12-sysv-consumer "$key" > "$T/out" 2> /dev/null
	local consumer=$!
	wait_until consumer_is_in "$key"
	sysv_tool poke "$key" 4
	expect_status 1 run 12-sysv-producer "$key" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: shmat $key: a 12 ring of another version or shape (ipcrm it or pass another KEYPATH)"
	kill -TERM $consumer
	finished $consumer 143
	nothing_left "$key"
}

test_an_out_of_range_slot_length_is_caught() {
	stall_a_full_ring
	local segment slot
	segment=$(attached_segment $consumer)
	for slot in $(seq 0 15); do
		sysv_tool poke "=$segment" $((SLOTS_AT + slot * SLOT_BYTES))
	done
	cat "$STALL" > /dev/null &
	finished $consumer 1
	says "$T/cerr" "12-sysv-consumer: shmat $key: slot length out of range (the ring is corrupt)"
	TMO=$NOTICE finished $producer 1
	nothing_left "$key"
}

test_objects_of_another_user_are_refused_and_left_alone() {
	needs user-switch
	local key
	key=$(keyfile k)
	chmod 711 "$T"
	chmod 644 "$key"
	setpriv --reuid=12345 --regid=12345 --clear-groups -- "$BIN/12-sysv-consumer" "$key" > /dev/null 2>&1 &
	local theirs=$!
	wait_until consumer_is_in "$key"
	expect_status 1 run 12-sysv-consumer "$key" > /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-consumer: semget $key: an object at this key is not ours (another user's, or not 0600) (pass another KEYPATH)"
	expect_status 1 run 12-sysv-producer "$key" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: semget $key: an object at this key is not ours (another user's, or not 0600) (pass another KEYPATH)"
	[ "$(semaphore "$key" 2)" = 0 ] || fail "the producer joined their ring"
	exited $theirs && fail "their consumer was disturbed"
	kill -TERM $theirs
	finished $theirs 143
	nothing_left "$key"
}

test_a_missing_keypath_is_an_error() {
	expect_status 1 run 12-sysv-consumer "$T/missing" 2> "$T/err"
	stderr_is "$T/err" "12-sysv-consumer: ftok $T/missing: $(errtext ENOENT) (KEYPATH must be an existing file)"
	expect_status 1 run 12-sysv-producer "$T/missing" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "12-sysv-producer: ftok $T/missing: $(errtext ENOENT) (KEYPATH must be an existing file)"
}

test_usage_errors_exit_2() {
	expect_status 2 run 12-sysv-consumer a b 2> "$T/err"
	stderr_is "$T/err" 'usage: 12-sysv-consumer [KEYPATH]   (default KEYPATH: $HOME)'
	expect_status 2 run 12-sysv-producer -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" 'usage: 12-sysv-producer [KEYPATH]   (default KEYPATH: $HOME)'
	expect_status 2 run 12-sysv-producer '' < /dev/null 2> "$T/err"
	stderr_is "$T/err" 'usage: 12-sysv-producer [KEYPATH]   (default KEYPATH: $HOME)'
}

# Started under nohup, a waiting consumer keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	local key
	key=$(keyfile k)
	RUN="$NOHUP ${RUN:-}" spawn 12-sysv-consumer "$key" > /dev/null 2> "$T/cerr"
	local consumer=$!
	wait_until test -s "$T/cerr"
	keeps_ignored $consumer HUP
	nothing_left "$key"
}
