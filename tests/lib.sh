# shellcheck shell=bash
# Helpers for the test files; sourced by tests/run.sh, never run alone.
#
# Every test case is a function named test_<what_it_proves> in a file
# tests/NN-*.sh. The runner starts each case in a fresh bash under a time
# limit, with:
#   $T    a private temporary directory, removed afterwards
#   $ID   a token unique to the case; put it in every shm or queue name
#   $BIN  the directory holding the example programs (a copy that every
#         user can reach when the checkout is private: see tests/run.sh)
# After the case, anything it left in /dev/shm, in the POSIX queues (see
# mq_names) or in the System V queues, semaphore sets and segments it
# registered (see keyfile) fails the case, then is removed.

ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
[[ ${BIN:-} == /* ]] || BIN=$(cd "${BIN:-$ROOT}" && pwd)
# Generous: a peer that never comes must end the wait, a slow machine must not.
TMO=${TMO:-20}
KEYFILES=()
# The project ids the System V examples pass to ftok(3): 'q' for 06's
# queues, 'S' for 12's semaphore sets and segments.
QPROJ=113 # 'q'
SPROJ=83  # 'S'

# run PROGRAM ARGS...: start one example, bounded by a timeout, under $RUN.
# shellcheck disable=SC2086 # RUN is a command prefix and must be split
run() {
	note_names "${@:2}"
	timeout -k 2 "$TMO" ${RUN:-} "$BIN/$1" "${@:2}"
}

# spawn PROGRAM ARGS...: start one example in the background, so that $!
# is the program itself (to signal it); reap it with finished. It gets
# SIGINT and SIGQUIT at their defaults, as a terminal's shell starts a job:
# a shell without job control ignores them in a background command, and the
# examples keep a signal ignored at their start ignored (see keeps_ignored).
# shellcheck disable=SC2086
# (<&0: without it, bash gives a background command /dev/null as input.)
spawn() {
	note_names "${@:2}"
	env --default-signal=SIGINT,SIGQUIT ${RUN:-} "$BIN/$1" "${@:2}" <&0 &
}

# NOHUP: a RUN prefix that starts a program with SIGHUP ignored, as nohup
# does: RUN="$NOHUP ${RUN:-}" spawn PROGRAM...
# shellcheck disable=SC2034 # used by the test files
NOHUP="env --ignore-signal=SIGHUP"

# keeps_ignored PID SIGNAL: send SIGNAL, then SIGTERM; PID, started with
# SIGNAL ignored, must die of SIGTERM: a SIGNAL it caught would end it
# first (of two pending at once, the lower number comes first).
keeps_ignored() {
	kill -s "$2" "$1"
	kill -s TERM "$1"
	finished "$1" $((128 + $(signum SIGTERM)))
}

# ignoring_sigchld PROGRAM ARGS...: like run, but with SIGCHLD ignored, as a
# parent may leave it (timeout(1) sets it to its default: a shell inside
# ignores it again, then becomes the program).
# shellcheck disable=SC2086
ignoring_sigchld() {
	timeout -k 2 "$TMO" bash -c 'trap "" CHLD && exec "$@"' _ ${RUN:-} "$BIN/$1" "${@:2}"
}

# note_names ARGS...: remember the arguments that name a POSIX object of
# this case ("/" then a name holding $ID), so that its queues can be found
# even where no /dev/mqueue lists them (see mq_names).
note_names() {
	local arg
	for arg in "$@"; do
		case $arg in /*"$ID"*) [[ $arg == /*/* ]] || printf '%s\n' "$arg" ;; esac
	done >> "$SHARED/.names"
}

# finished PID STATUS: wait (at most $TMO s) for a spawned program to end;
# fail unless it exited with STATUS (128+N: killed by signal N).
finished() {
	local got=0
	wait_until exited "$1"
	wait "$1" || got=$?
	[ "$got" -eq "$2" ] || fail "process $1 exited $got, expected $2"
}

# Messages go to descriptor 9, the case's own stderr (see run_case), so that
# a case redirecting stderr (expect_status ... 2> file) cannot swallow them.
fail() { printf 'FAIL: %s\n' "$*" >&9; exit 1; }
# skip REASON: this case cannot run here (the runner counts it as skipped).
# Called in a subshell (a background job, a pipeline), it ends the case
# too: it leaves a mark for case_cleanup and stops the case's shell.
skip() {
	printf 'SKIP: %s\n' "$*" >&9
	if [ "$BASHPID" != "$$" ]; then
		: > "$T/.skipped"
		kill -TERM "$$"
	fi
	exit 77
}

# expect_status N COMMAND...: run COMMAND, fail unless it exits with N.
expect_status() {
	local want=$1 got=0
	shift
	"$@" || got=$?
	[ "$got" -eq "$want" ] || fail "$* exited $got, expected $want"
}

# same FILE1 FILE2: byte-for-byte equal.
same() { cmp -- "$1" "$2" >&2 || fail "$1 and $2 differ"; }

# stderr_is FILE LINE: FILE holds exactly the one line LINE.
stderr_is() {
	printf '%s\n' "$2" > "$T/.expected-stderr"
	diff -u "$T/.expected-stderr" "$1" >&2 || fail "unexpected message in $1"
}

# wait_until COMMAND...: poll (every 20 ms, up to $TMO s) until COMMAND succeeds.
wait_until() {
	local tries=$((TMO * 50))
	until "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || fail "timed out waiting for: $*"
		sleep 0.02
	done
}

# state PID: the one-letter state of a process (R, S, Z...), none if gone.
state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true; }
# exited PID: the process has ended (a zombie until reaped counts).
exited() { case $(state "$1") in Z | '') true ;; *) false ;; esac; }
# is_blocked PID: the process sleeps in the kernel (waiting for a peer).
is_blocked() { [ "$(state "$1")" = S ]; }

# stall_output: $STALL, a FIFO that nobody reads (descriptor 4 holds it
# open), so a program writing its output there blocks once the pipe is full.
stall_output() {
	STALL=$T/stall
	mkfifo "$STALL"
	exec 4<> "$STALL"
}

# child_of PID: the one child of PID, once it has one.
child_of() {
	wait_until a_child "$1" > /dev/null
	a_child "$1"
}
# a_child PID: a child of PID, if it has one. strace forks short-lived
# children of its own, to probe the kernel, before the program it starts:
# a child of strace counts once it has become something else.
a_child() {
	local pid parent
	parent=$(cat "/proc/$1/comm" 2> /dev/null) || return 1
	for pid in $(pgrep -P "$1"); do
		[ "$parent" = strace ] && [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = strace ] && continue
		echo "$pid"
		return 0
	done
	return 1
}

# quiet_under_head BYTES PROGRAM ARGS...: run PROGRAM with its output into
# `head -c BYTES`; fail unless it died of SIGPIPE, as a filter does, and
# said nothing. What head got is left in $T/head.out.
quiet_under_head() {
	local bytes=$1 codes
	shift
	set +e
	run "$@" 2> "$T/head.err" | head -c "$bytes" > "$T/head.out"
	codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" = $((128 + $(signum SIGPIPE))) ] ||
		fail "$1 exited ${codes[0]} under head, expected death by SIGPIPE"
	[ ! -s "$T/head.err" ] || fail "$1 was not quiet under head: $(cat "$T/head.err")"
	[ "$(wc -c < "$T/head.out")" = "$bytes" ] || fail "head got the wrong amount"
}

# input NAME BYTES: a file of random bytes (NUL bytes included), made once
# per suite run and shared by all cases, since 100 MB takes a moment.
# INPUT_MAX, when set, caps BYTES (the valgrind gate's slow runs use it).
input() {
	local file="$SHARED/$1" bytes=$2
	[ -n "${INPUT_MAX:-}" ] && [ "$bytes" -gt "$INPUT_MAX" ] && bytes=$INPUT_MAX
	if [ ! -f "$file" ]; then
		# ln, not mv: a case in another file may have made it meanwhile and
		# be reading it; the first file made stays, the other is dropped.
		head -c "$bytes" /dev/urandom > "$file.$$"
		ln "$file.$$" "$file" 2> /dev/null || [ -f "$file" ] || fail "input: cannot make $file"
		rm -f "$file.$$"
	fi
	printf '%s\n' "$file"
}

# ftok_key PATH PROJ: the key ftok(3) gives on Linux, for ipcs and ipcrm.
ftok_key() {
	local dev ino
	read -r dev ino < <(stat -L -c '%d %i' "$1")
	printf '0x%08x\n' $(( (($2 & 0xff) << 24) | ((dev & 0xff) << 16) | (ino & 0xffff) ))
}

# keyfile NAME: a fresh key path for System V objects; its queue, semaphore
# set and segment are checked and removed after the case. (A segment marked
# for removal has lost its key; it goes with the last process attached.)
keyfile() {
	: > "$T/$1"
	printf '%s\n' "$T/$1" >> "$T/.keyfiles" # $(keyfile ...) is a subshell
	KEYFILES+=("$T/$1")
	printf '%s\n' "$T/$1"
}

# mq_names: the POSIX message queues of the machine, one name a line
# without its "/", as /dev/mqueue lists them. Where it is not mounted, root
# mounts it in a private mount namespace (nobody else sees the mount):
# tests/run.sh does it once and names the directory in $MQ_DIR. Anyone else
# gets status 1: probe the names with mq_exists instead.
mq_names() {
	if [ -n "${MQ_DIR:-}" ]; then
		find "$MQ_DIR" -mindepth 1 -maxdepth 1 -printf '%f\n'
	elif mountpoint -q /dev/mqueue 2> /dev/null; then
		find /dev/mqueue -mindepth 1 -maxdepth 1 -printf '%f\n'
	elif [ "$(id -u)" = 0 ]; then
		mkdir -p "$SHARED/mqueue"
		unshare -m sh -c 'mount -t mqueue none "$1" &&
			find "$1" -mindepth 1 -maxdepth 1 -printf "%f\n"' _ "$SHARED/mqueue" 2> /dev/null
	else
		return 1
	fi
}

# mq_exists /NAME: a POSIX message queue of that name exists, whoever owns
# it; asks mq_open, so it works with or without /dev/mqueue.
mq_exists() { "$SHARED/libc" mq-exists "$1"; }

# queue_exists KEYPATH: a System V queue exists under that path's key.
queue_exists() { ipcs -q | awk '{print $1}' | grep -qix "$(ftok_key "$1" "$QPROJ")"; }

# errtext ENAME: strerror(ENAME) of the C library under test, so that an
# expected error line never depends on one library's wording.
errtext() { "$SHARED/libc" strerror "$1"; }
# signum SIGNAME[+N]: that signal's number in the C library under test
# (real-time numbers differ between libraries: SIGRTMIN+1).
signum() { "$SHARED/libc" signal "$1"; }

# needs WHAT...: a case's prerequisites, its first line (the runner checks
# that it is). One that is missing skips the case with its reason, and the
# runner's summary names each missing prerequisite once. WHAT:
#   root             run as root
#   user-switch      root and setpriv, for as_user (see NO_USER_SWITCH)
#   mount-namespace  root and unshare -m, for a private mount
#   cmd NAME         the command NAME is installed
needs() {
	while [ $# -gt 0 ]; do
		case $1 in
		root) [ "$(id -u)" = 0 ] || skip "needs root: not run as root" ;;
		user-switch)
			[ -z "${NO_USER_SWITCH=$(user_switch_missing)}" ] ||
				skip "needs user-switch: $NO_USER_SWITCH" ;;
		mount-namespace)
			[ "$(id -u)" = 0 ] || skip "needs mount-namespace: not run as root"
			unshare -m true 2> /dev/null ||
				skip "needs mount-namespace: unshare -m fails here (no CAP_SYS_ADMIN?)" ;;
		cmd)
			[ $# -ge 2 ] || fail "needs cmd: which command?"
			shift
			command -v "$1" > /dev/null || skip "needs cmd $1: not installed" ;;
		*) fail "needs: unknown prerequisite $1" ;;
		esac
		shift
	done
}

# user_switch_missing: why this run cannot switch users, or nothing. The
# runner asks once and exports the answer as NO_USER_SWITCH.
user_switch_missing() {
	if [ "$(id -u)" != 0 ]; then
		echo "not run as root (switching users takes root)"
	elif ! command -v setpriv > /dev/null; then
		echo "setpriv is not installed (Debian: util-linux)"
	elif ! setpriv --reuid=65534 --regid=65534 --clear-groups -- true 2> /dev/null; then
		echo "setpriv cannot switch users here"
	fi
}

# as_user UID COMMAND...: run COMMAND as an unprivileged user, since root
# passes every permission check and would prove nothing. A case that uses
# it starts with `needs user-switch`; elsewhere as_user skips the case.
as_user() {
	[ -z "${NO_USER_SWITCH=$(user_switch_missing)}" ] ||
		skip "needs user-switch: $NO_USER_SWITCH"
	local uid=$1
	shift
	note_names "$@"
	setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}

# case_queues: this case's POSIX queues that still exist, one "/NAME" a
# line: listed where mq_names can, else probed by the names run, spawn and
# as_user were given.
case_queues() {
	local names name
	if names=$(mq_names); then
		printf '%s\n' "$names" | grep -F -- "$ID" | sed 's|^|/|'
	elif [ -f "$SHARED/.names" ]; then
		grep -F -- "$ID" "$SHARED/.names" | sort -u | while IFS= read -r name; do
			mq_exists "$name" && printf '%s\n' "$name"
		done
	fi
	return 0
}

case_cleanup() {
	local status=$? left='' job key file
	[ ! -f "$T/.skipped" ] || status=77
	# The case ran under set -e; here a job that ended on its own between
	# jobs -p and kill must not cut the cleanup short.
	set +e
	for job in $(jobs -p); do kill -TERM "$job" 2>/dev/null; done
	wait 2>/dev/null
	for file in /dev/shm/*"$ID"*; do
		[ -e "$file" ] && left="$left $file" && rm -f "$file"
	done
	for file in $(case_queues); do
		left="$left queue:$file"
		"$SHARED/libc" mq-unlink "$file"
	done
	# keyfile is called as $(keyfile NAME), whose KEYFILES+= dies with
	# the subshell: the key files it made are listed in $T/.keyfiles.
	[ -f "$T/.keyfiles" ] && mapfile -t -O "${#KEYFILES[@]}" KEYFILES < "$T/.keyfiles"
	for file in "${KEYFILES[@]}"; do
		for key in $(ipcs -q | awk '{print $1}' | grep -ix "$(ftok_key "$file" "$QPROJ")"); do
			left="$left queue:$key"
			ipcrm -Q "$key"
		done
		for key in $(ipcs -s | awk '{print $1}' | grep -ix "$(ftok_key "$file" "$SPROJ")"); do
			left="$left semaphores:$key"
			ipcrm -S "$key"
		done
		for key in $(ipcs -m | awk '{print $1}' | grep -ix "$(ftok_key "$file" "$SPROJ")"); do
			left="$left segment:$key"
			ipcrm -M "$key"
		done
	done
	# For the suite's leak gate, which sees System V objects only by key:
	# where the keys of this case's key files came from.
	for file in "${KEYFILES[@]}"; do
		stat -L -c '%d %i' "$file"
	done >> "$SHARED/.keyfiles" 2> /dev/null
	rm -rf "$T"
	if [ -n "$left" ]; then
		printf 'FAIL: left behind:%s\n' "$left" >&9
		exit 1
	fi
	exit "$status"
}

# needs_comes_first FUNCTION: fail unless any `needs` is the case's first
# line, where a reader (and the summary) expects its prerequisites.
needs_comes_first() {
	local line number=0
	while IFS= read -r line; do
		number=$((number + 1))
		[ "$number" -le 3 ] || [[ ! $line =~ ^[[:space:]]*needs([[:space:]]|\;|$) ]] ||
			fail "$1: needs must be the first line of the case"
	done <<< "$(declare -f "$1")"
	return 0
}

# run_case FUNCTION: what the runner calls, in a fresh bash per case.
run_case() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/ipc-test.XXXXXXXX")
	# For the suite's leak gate: this directory must be gone at the end.
	printf '%s\n' "$T" >> "$SHARED/.case-dirs"
	ID=ipctest-${SUITE_TAG:-0}-${T##*.}
	exec 9>&2
	trap case_cleanup EXIT
	needs_comes_first "$1"
	trap 'exit 143' TERM
	trap 'exit 130' INT
	set -e
	"$1"
}
