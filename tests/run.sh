#!/usr/bin/env bash
# Runs every test case of tests/NN-*.sh (or of the files named as arguments),
# each in a fresh shell under a time limit, then checks that the suite as a
# whole left nothing behind. Ends with the line "N passed, N failed".
#
# The output is TAP as well as text for people: a plan line "1..N", then
# "ok N - file: case", "not ok N - file: case" (its log below it, each line
# starting with "#") or "ok N - file: case # SKIP reason". `prove -e bash
# tests/run.sh` reads it, and so does any CI system that speaks TAP.
set -u
cd "$(dirname "$0")/.." || exit 1
# The cases compare error messages, which other locales translate.
export LC_ALL=C
export BIN=${BIN:-.}
[ -d "$BIN" ] || { echo "Bail out! no directory $BIN: build the programs first (make)"; exit 1; }

# Switching users (as_user, `needs user-switch`): asked once, here.
. tests/lib.sh
NO_USER_SWITCH=$(user_switch_missing)
export NO_USER_SWITCH
# others_reach PATH: the unprivileged user of the permission cases can
# reach PATH (every directory above it searchable, PATH itself executable).
others_reach() { setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$1"; }
notes=()
if [ -z "$NO_USER_SWITCH" ] && ! others_reach "${TMPDIR:-/tmp}"; then
	notes+=("TMPDIR ${TMPDIR:-/tmp} is private: the cases' directories go to /tmp, where other users can reach them")
	export TMPDIR=/tmp
fi

# Files the cases share (the random inputs): made once, removed at the end.
SHARED=$(mktemp -d "${TMPDIR:-/tmp}/ipc-suite.XXXXXXXX")
chmod 711 "$SHARED"
export SHARED
# In every case's object names (see run_case), so that this run's leak gate
# can tell its own objects from those of another suite running at once.
SUITE_TAG=${SHARED##*.}
export SUITE_TAG
trap 'rm -rf "$SHARED"' EXIT
# The queue listing (mq_names) for every case: /dev/mqueue, or for root
# without it, the mount that one process holds in a private mount namespace
# (reached through /proc/PID/root), instead of a mount made per case.
if mountpoint -q /dev/mqueue 2> /dev/null; then
	export MQ_DIR=/dev/mqueue
elif [ "$(id -u)" = 0 ] && mkdir "$SHARED/mqueue"; then
	unshare -m sh -c 'mount -t mqueue none "$1" && : > "$1.ready" && exec sleep infinity' \
		_ "$SHARED/mqueue" < /dev/null > /dev/null 2>&1 &
	mq_holder=$!
	trap 'kill "$mq_holder" 2> /dev/null; rm -rf "$SHARED"' EXIT
	for _ in $(seq 100); do
		[ ! -e "$SHARED/mqueue.ready" ] && kill -0 "$mq_holder" 2> /dev/null || break
		sleep 0.02
	done
	[ ! -e "$SHARED/mqueue.ready" ] || export MQ_DIR=/proc/$mq_holder/root$SHARED/mqueue
fi
# The cases' helper programs, built with the compiler under test (make
# passes its CC), so that they report that C library's texts and numbers.
if ! ${CC:-cc} -std=c11 -O2 -o "$SHARED/libc" tests/helpers/libc.c -lrt; then
	echo "Bail out! cannot build tests/helpers/libc.c with ${CC:-cc}"
	exit 1
fi

# A checkout in a private directory (a home of mode 0700, a mktemp -d):
# the other users of the permission cases could not run the programs, so
# they run copies in $SHARED/bin, which everyone can reach. RUN's command
# (a wrapper such as the valgrind gate's) is copied there too.
BIN=$(cd "$BIN" && pwd)
programs=()
for program in "$BIN"/[0-9][0-9]-*; do
	[ -f "$program" ] && [ -x "$program" ] && programs+=("$program")
done
if [ -z "$NO_USER_SWITCH" ] && [ "${#programs[@]}" -gt 0 ] && ! others_reach "${programs[0]}"; then
	mkdir -m 755 "$SHARED/bin"
	cp -- "${programs[@]}" "$SHARED/bin/"
	notes+=("other users cannot reach $BIN: the cases run copies of its programs in $SHARED/bin")
	BIN=$SHARED/bin
	read -r -a run_words <<< "${RUN:-}"
	if [ "${#run_words[@]}" -gt 0 ] && [ -f "${run_words[0]}" ] && ! others_reach "${run_words[0]}"; then
		cp -- "${run_words[0]}" "$SHARED/bin/.run"
		run_words[0]=$SHARED/bin/.run
		RUN=${run_words[*]}
		export RUN
	fi
fi
# A path a shell would split or expand (a checkout in "my files"): the
# cases get one that it would not, a link, since a command line built as
# a string ("script -c "$BIN/..."") must still name the program.
if [[ $BIN == *[^A-Za-z0-9/._+-]* ]]; then
	ln -s "$BIN" "$SHARED/programs"
	notes+=("the path $BIN needs quoting: the cases reach its programs through $SHARED/programs")
	BIN=$SHARED/programs
fi
CASE_LIMIT=${CASE_LIMIT:-60}
passed=0 failed=0 skipped=0 number=0
declare -A skip_reasons=()

# The suite's leak gate: what this project's programs could have made, as
# it stands before the run and after. It lists, one object a line:
#  - POSIX shared memory and queues (/dev/shm, and /dev/mqueue or mq_names)
#    at the examples' default names, /ipc-NN-<uid>..., or holding a token
#    of this run (every case's $ID holds it);
#  - FIFOs and sockets at the default paths, /tmp/ipc-NN-<uid>.*, or with a
#    token of this run, and abstract sockets (@ipc-NN-<uid>..., @...token);
#    regular files are left alone (a lock file there stays by design);
#  - System V queues, semaphore sets and segments whose key ftok would give
#    for a case's key file, or for $HOME (06's default KEYPATH), whatever
#    the project id: System V objects have no names, only keys.
# Anything else on the machine belongs to someone else and is never blamed.
UID_NOW=$(id -u)
# An example's default name: ipc-NN-<uid>, then nothing or a non-digit.
ours() {
	grep -E -e "(^|[/@.])ipc-[0-9][0-9]-$UID_NOW([^0-9]|\$)" -e "ipctest-$SUITE_TAG-"
}
posix_objects() {
	local queues name number
	find /dev/shm -mindepth 1 -maxdepth 1 -printf 'shm /%f\n' 2> /dev/null | ours
	if queues=$(mq_names); then
		printf '%s\n' "$queues" | sed 's|^|queue /|' | ours
	else
		# No listing: probe the default names and those the cases used.
		for number in $(printf '%s\n' [0-9][0-9]-*.c | cut -c1-2 | sort -u); do
			mq_exists "/ipc-$number-$UID_NOW" && echo "queue /ipc-$number-$UID_NOW"
		done
		[ -f "$SHARED/.names" ] && sort -u "$SHARED/.names" | while IFS= read -r name; do
			mq_exists "$name" && echo "queue $name"
		done
	fi
	find /tmp "${TMPDIR:-/tmp}" -mindepth 1 -maxdepth 1 \( -type p -o -type s \) \
		-printf '%y %p\n' 2> /dev/null | sed 's/^p /fifo /; s/^s /socket /' | ours
	awk 'NR > 1 && $8 ~ /^@/ {print "abstract-socket " $8}' /proc/net/unix 2> /dev/null | ours
	return 0
}
# Every System V object, "kind key id", keys in hex; filtered at the end,
# once the cases have said which key files they made.
sysv_objects() {
	local kind
	for kind in msg sem shm; do
		awk -v kind="$kind" 'NR > 1 { key = $1 < 0 ? $1 + 4294967296 : $1
			printf "sysv-%s 0x%08x %s\n", kind, key, $2 }' "/proc/sysvipc/$kind" 2> /dev/null
	done
}
# The System V objects among the "sysv-KIND KEY ID" lines on stdin whose
# key is ftok's for a case's key file or $HOME, whatever the project id:
# the key's low 24 bits come from the file's device and inode.
sysv_ours() {
	awk 'NR == FNR { mine[sprintf("%06x", ($1 % 256) * 65536 + $2 % 65536)] = 1; next }
		mine[substr($2, 5)] { sub(/^sysv-/, "", $1); print "System V " $1 " key " $2 " id " $3 }' \
		<(stat -L -c '%d %i' "${HOME:-/}" 2> /dev/null; cat "$SHARED/.keyfiles" 2> /dev/null) -
}
# The temporary directory of a case whose cleanup never ran (one killed at
# its time limit), with the FIFOs and sockets left in it; run_case lists them.
left_case_dirs() {
	local dir
	[ -f "$SHARED/.case-dirs" ] || return 0
	while IFS= read -r dir; do
		[ -e "$dir" ] || continue
		printf '%s\n' "$dir"
		find "$dir" \( -type p -o -type s \) -print 2> /dev/null
		rm -rf "$dir"
	done < "$SHARED/.case-dirs"
}
before=$( (posix_objects; sysv_objects) | sort -u)

files=("$@")
[ $# -gt 0 ] || files=(tests/[0-9][0-9]-*.sh)
cases=()
for index in "${!files[@]}"; do
	file=${files[index]}
	[ -f "$file" ] || { echo "Bail out! no test file $file"; exit 1; }
	for case in $(grep -o '^test_[A-Za-z0-9_]*' "$file"); do
		cases+=("$index $file $case")
	done
done

# SUITE_JOBS test files run at once (default: one per CPU, at most 2). The
# cases of one file run one after another, since they may share their
# example's default names; files never share a name, and every case has its
# own $ID and $T. Each case's status and log go to $RESULTS/INDEX.CASE.
JOBS=${SUITE_JOBS:-$(nproc 2> /dev/null || echo 1)}
[ "$JOBS" -le 2 ] 2> /dev/null || JOBS=2
RESULTS=$SHARED/.results
mkdir "$RESULTS"
run_file() {
	local index=$1 file=$2 case started status
	for case in $(grep -o '^test_[A-Za-z0-9_]*' "$file"); do
		[ ! -e "$RESULTS/.stop" ] || return 0
		status=0 started=$EPOCHREALTIME
		# Into a file, not $(...): a program the case failed to stop would
		# hold a pipe open, and the suite would wait for it forever. Its pid
		# in INDEX.running, for stop_suite.
		timeout -k 5 "$CASE_LIMIT" bash -c \
			'. tests/lib.sh && . "$1" && run_case "$2"' _ "$file" "$case" \
			> "$RESULTS/$index.$case.log" 2>&1 < /dev/null &
		echo $! > "$RESULTS/$index.running"
		wait $! || status=$?
		rm -f "$RESULTS/$index.running"
		# SUITE_TIMES=FILE: each case's seconds and name, to find the slow ones.
		[ -z "${SUITE_TIMES:-}" ] ||
			echo "$(bc <<< "$EPOCHREALTIME - $started") ${file#tests/} $case" >> "$SUITE_TIMES"
		echo "$status" > "$RESULTS/$index.$case.tmp"
		mv "$RESULTS/$index.$case.tmp" "$RESULTS/$index.$case.status"
	done
}
# The suite stopped (Ctrl-C, SIGTERM, SIGHUP): no case starts any more, the
# running ones get SIGTERM, which their cleanup handles (timeout passes it
# on), and once they have ended the suite dies of the same signal.
descendants() {
	local child
	for child in $(pgrep -P "$1"); do
		echo "$child"
		descendants "$child"
	done
}
stop_suite() {
	local sig=$1 running tries=0 cases=()
	: > "$RESULTS/.stop"
	# The lanes first (each runs one file's cases), so that none starts another.
	[ -z "${lanes:-}" ] || { pkill -TERM -P "$lanes"; kill -TERM "$lanes"; } 2> /dev/null
	for running in "$RESULTS"/*.running; do
		[ -f "$running" ] && cases+=("$(cat "$running")")
	done
	# Every process of each case: a program that `run` started sits in a
	# process group of its own timeout's, where a signal to the case alone
	# would not reach it, and the case's shell would wait for it.
	for running in "${cases[@]}"; do
		mapfile -t -O "${#cases[@]}" cases < <(descendants "$running")
	done
	kill -TERM "${cases[@]}" 2> /dev/null
	# Bounded: timeout kills a case 5 s after passing the signal on.
	while [ "$tries" -lt 200 ] && kill -0 "${cases[@]}" 2> /dev/null; do
		sleep 0.05
		tries=$((tries + 1))
	done
	[ -z "${mq_holder:-}" ] || kill "$mq_holder" 2> /dev/null
	rm -rf "$SHARED"
	trap - EXIT "$sig"
	kill -s "$sig" $$
}
trap 'stop_suite TERM' TERM
trap 'stop_suite INT' INT
trap 'stop_suite HUP' HUP
(
	for index in "${!files[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
		run_file "$index" "${files[index]}" &
	done
	wait
) &
lanes=$!

# The plan: every case, then the leak gate. Results in the files' order.
echo "1..$((${#cases[@]} + 1))"
for entry in "${cases[@]}"; do
	read -r index file case <<< "$entry"
	name=${case#test_}
	name="${file#tests/}: ${name//_/ }"
	number=$((number + 1))
	# Bounded: every case ends within CASE_LIMIT (and 5 s to be killed).
	while [ ! -f "$RESULTS/$index.$case.status" ] && kill -0 "$lanes" 2> /dev/null; do
		sleep 0.05
	done
	status=$(cat "$RESULTS/$index.$case.status" 2> /dev/null || echo 1)
	log=$RESULTS/$index.$case.log
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $number - $name"
	elif [ "$status" -eq 77 ]; then
		skipped=$((skipped + 1))
		reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
		reason=${reason:-no reason given}
		skip_reasons[$reason]=$((${skip_reasons[$reason]:-0} + 1))
		echo "ok $number - $name # SKIP $reason"
	else
		failed=$((failed + 1))
		echo "not ok $number - $name (exit status $status)"
		[ "$status" -eq 124 ] && echo "timed out after $CASE_LIMIT s" >> "$log"
		sed 's/^/#   | /' "$log"
	fi
done
wait "$lanes"

# The suite's own leak gate: anything of ours that is new is a failure.
number=$((number + 1))
after=$( (posix_objects; sysv_objects) | sort -u)
new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -v '^$')
leaked=$( (printf '%s\n' "$new" | grep -v '^sysv-'
	printf '%s\n' "$new" | grep '^sysv-' | sysv_ours
	left_case_dirs) | grep -v '^$')
if [ -z "$leaked" ]; then
	passed=$((passed + 1))
	echo "ok $number - the suite left nothing behind (shared memory, queues, System V objects, FIFOs, sockets, case directories)"
else
	failed=$((failed + 1))
	echo "not ok $number - the suite left behind:"
	printf '%s\n' "$leaked" | sed 's/^/#   | /'
fi

# Each reason a case was skipped for, once.
for note in "${notes[@]}"; do
	echo "# note: $note"
done
for reason in "${!skip_reasons[@]}"; do
	count=${skip_reasons[$reason]}
	printf '# skipped %d case%s: %s\n' "$count" "$([ "$count" -eq 1 ] || echo s)" "$reason"
done | sort
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
