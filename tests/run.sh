#!/usr/bin/env bash
# Runs every test case of tests/NN-*.sh (or of the files named as arguments),
# each in a fresh shell under a time limit, then checks that the suite as a
# whole left nothing behind. Ends with the line "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
# The cases compare error messages, which other locales translate.
export LC_ALL=C
export BIN=${BIN:-.}
# Files the cases share (the random inputs): made once, removed at the end.
SHARED=$(mktemp -d "${TMPDIR:-/tmp}/ipc-suite.XXXXXXXX")
export SHARED
# In every case's object names (see run_case), so that this run's leak gate
# can tell its own objects from those of another suite running at once.
SUITE_TAG=${SHARED##*.}
export SUITE_TAG
trap 'rm -rf "$SHARED"' EXIT
# The cases' helper programs, built with the compiler under test (make
# passes its CC), so that they report that C library's texts and numbers.
if ! ${CC:-cc} -std=c11 -O2 -o "$SHARED/libc" tests/helpers/libc.c; then
	echo "cannot build tests/helpers/libc.c with ${CC:-cc}"
	exit 1
fi
CASE_LIMIT=${CASE_LIMIT:-60}
passed=0 failed=0 skipped=0

# What the whole machine holds that the suite could leak: compared at the end.
snapshot() {
	find /dev/shm /dev/mqueue -mindepth 1 -maxdepth 1 ! -name '*ipctest-*' 2>/dev/null
	find /dev/shm /dev/mqueue -mindepth 1 -maxdepth 1 -name "*ipctest-$SUITE_TAG-*" 2>/dev/null
	ipcs -q -s -m 2>/dev/null | awk '$1 ~ /^0x/ {print $1, $2}'
	# FIFOs and sockets at the examples' default paths (/tmp/ipc-NN-<uid>.*)
	# or named with a case's token.
	find /tmp "${TMPDIR:-/tmp}" -maxdepth 1 \( -name 'ipc-*' -o -name "*ipctest-$SUITE_TAG-*" \) \
		\( -type p -o -type s \) -print 2>/dev/null | sort -u
}
# The temporary directory of a case whose cleanup never ran (one killed at
# its time limit), with the FIFOs and sockets left in it; run_case lists them.
left_case_dirs() {
	local dir
	[ -f "$SHARED/.case-dirs" ] || return 0
	while IFS= read -r dir; do
		[ -e "$dir" ] || continue
		printf '%s\n' "$dir"
		find "$dir" \( -type p -o -type s \) -print 2>/dev/null
		rm -rf "$dir"
	done < "$SHARED/.case-dirs"
}
before=$(snapshot)

files=("$@")
[ $# -gt 0 ] || files=(tests/[0-9][0-9]-*.sh)
for file in "${files[@]}"; do
	for case in $(grep -o '^test_[A-Za-z0-9_]*' "$file"); do
		name=${case#test_}
		name=${name//_/ }
		status=0
		# Into a file, not $(...): a program the case failed to stop would
		# hold a pipe open, and the suite would wait for it forever.
		timeout -k 5 "$CASE_LIMIT" bash -c \
			'. tests/lib.sh && . "$1" && run_case "$2"' _ "$file" "$case" \
			> "$SHARED/.case-log" 2>&1 || status=$?
		log=$(cat "$SHARED/.case-log")
		if [ "$status" -eq 0 ]; then
			passed=$((passed + 1))
			printf 'ok   %s: %s\n' "${file#tests/}" "$name"
		elif [ "$status" -eq 77 ]; then
			skipped=$((skipped + 1))
			printf 'skip %s: %s (%s)\n' "${file#tests/}" "$name" "$(printf '%s' "$log" | sed -n 's/^SKIP: //p' | tail -n 1)"
		else
			[ "$status" -eq 124 ] && log="$log
timed out after $CASE_LIMIT s"
			failed=$((failed + 1))
			printf 'FAIL %s: %s (exit status %s)\n' "${file#tests/}" "$name" "$status"
			printf '%s\n' "$log" | sed 's/^/     | /'
		fi
	done
done

# The suite's own leak gate: anything new on the machine is a failure.
after=$(snapshot)
leaked=$(comm -13 <(printf '%s\n' "$before" | sort) <(printf '%s\n' "$after" | sort) | grep -v '^$'
	left_case_dirs)
if [ -z "$leaked" ]; then
	passed=$((passed + 1))
	echo 'ok   the suite left nothing in /dev/shm, /dev/mqueue, ipcs or FIFOs and sockets in /tmp'
else
	failed=$((failed + 1))
	echo 'FAIL the suite left behind:'
	printf '%s\n' "$leaked" | sed 's/^/     | /'
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
