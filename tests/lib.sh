# shellcheck shell=bash
# Helpers for the test files; sourced by tests/run.sh, never run alone.
#
# Every test case is a function named test_<what_it_proves> in a file
# tests/NN-*.sh. The runner starts each case in a fresh bash under a time
# limit, with:
#   $T    a private temporary directory, removed afterwards
#   $ID   a token unique to the case; put it in every shm or queue name
#   $BIN  the directory holding the example programs
# After the case, anything it left in /dev/shm, /dev/mqueue or in the
# System V objects it registered (see keyfile) fails the case, then is removed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${BIN:-$ROOT}" && pwd)
# Generous: a peer that never comes must end the wait, a slow machine must not.
TMO=${TMO:-20}
KEYFILES=()
# The project ids the System V examples pass to ftok(3): 'q' for 06's
# queues, 'S' for 12's semaphore sets and segments.
QPROJ=$(printf '%d' "'q")
SPROJ=$(printf '%d' "'S")

# run PROGRAM ARGS...: start one example, bounded by a timeout, under $RUN.
# shellcheck disable=SC2086 # RUN is a command prefix and must be split
run() { timeout -k 2 "$TMO" ${RUN:-} "$BIN/$1" "${@:2}"; }

# spawn PROGRAM ARGS...: start one example in the background, so that $!
# is the program itself (to signal it); reap it with finished.
# shellcheck disable=SC2086
# (<&0: without it, bash gives a background command /dev/null as input.)
spawn() { ${RUN:-} "$BIN/$1" "${@:2}" <&0 & }

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
skip() { printf 'SKIP: %s\n' "$*" >&9; exit 77; }

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
	wait_until pgrep -P "$1" > /dev/null
	pgrep -P "$1" | head -n 1
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
		head -c "$bytes" /dev/urandom > "$file.$$"
		mv -f "$file.$$" "$file"
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
	KEYFILES+=("$T/$1")
	printf '%s\n' "$T/$1"
}

# queue_exists KEYPATH: a System V queue exists under that path's key.
queue_exists() { ipcs -q | awk '{print $1}' | grep -qix "$(ftok_key "$1" "$QPROJ")"; }

# errtext ENAME: strerror(ENAME) of the C library under test, so that an
# expected error line never depends on one library's wording.
errtext() { "$SHARED/libc" strerror "$1"; }
# signum SIGNAME[+N]: that signal's number in the C library under test
# (real-time numbers differ between libraries: SIGRTMIN+1).
signum() { "$SHARED/libc" signal "$1"; }

# needs WHAT...: a case's prerequisites, as its first line; one missing
# skips the case with its reason. WHAT: root, user-switch (root and
# setpriv), mount-namespace (root and unshare -m), cmd NAME.
needs() {
	while [ $# -gt 0 ]; do
		case $1 in
		root) [ "$(id -u)" = 0 ] || skip "needs root" ;;
		user-switch)
			[ "$(id -u)" = 0 ] && command -v setpriv > /dev/null ||
				skip "needs root and setpriv to switch users" ;;
		mount-namespace)
			[ "$(id -u)" = 0 ] && unshare -m true 2> /dev/null ||
				skip "needs root and unshare -m for a private mount" ;;
		cmd)
			shift
			command -v "$1" > /dev/null || skip "needs the command $1" ;;
		*) fail "needs: unknown prerequisite $1" ;;
		esac
		shift
	done
}

# as_user UID COMMAND...: run COMMAND as an unprivileged user, since root
# passes every permission check and would prove nothing.
# Switching users takes root: elsewhere the case is skipped.
as_user() {
	[ "$(id -u)" = 0 ] || skip "permission checks need root to switch users"
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}

case_cleanup() {
	local status=$? left='' job key file
	# The case ran under set -e; here a job that ended on its own between
	# jobs -p and kill must not cut the cleanup short.
	set +e
	for job in $(jobs -p); do kill -TERM "$job" 2>/dev/null; done
	wait 2>/dev/null
	for file in /dev/shm/*"$ID"* /dev/mqueue/*"$ID"*; do
		[ -e "$file" ] && left="$left $file" && rm -f "$file"
	done
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
	rm -rf "$T"
	if [ -n "$left" ]; then
		printf 'FAIL: left behind:%s\n' "$left" >&9
		exit 1
	fi
	exit "$status"
}

# run_case FUNCTION: what the runner calls, in a fresh bash per case.
run_case() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/ipc-test.XXXXXXXX")
	# For the suite's leak gate: this directory must be gone at the end.
	printf '%s\n' "$T" >> "$SHARED/.case-dirs"
	ID=ipctest-${SUITE_TAG:-0}-${T##*.}
	exec 9>&2
	trap case_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	set -e
	"$1"
}
