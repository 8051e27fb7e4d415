# shellcheck shell=bash
# Sourced by every gate of `make check` (tests/check/*.sh): where the gates
# write, and the one line each prints. Run from the top of the project.
#
# A gate calls gate_start, does its work with the detail going to $LOG, and
# ends with gate_end NAME "WHAT IT CHECKED" STATUS: one line on stdout,
#   NAME: WHAT — OK (12 s)        or        NAME: WHAT — FAIL (12 s)
# followed, on failure only, by the end of $LOG (all of it stays in build/check/).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
OUT=$PWD/build/check
mkdir -p "$OUT"
# Every [0-9][0-9]-*.c, whoever added it: the gates never need a list.
SOURCES=()
for source in [0-9][0-9]-*.c; do
	[ -e "$source" ] && SOURCES+=("$source")
done
# The static analysers also read the benchmark, which is not an example
# (so the build and strict gates, made for standalone examples, skip it).
# shellcheck disable=SC2034 # read by the gate scripts that source this file
LINT_SOURCES=("${SOURCES[@]}" bench/*.c)
# Up to 2 jobs at once: the gates must finish in minutes on a 2-core machine.
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

gate_start() {
	LOG=$OUT/$1.log
	: > "$LOG"
	STARTED=$SECONDS
}

gate_end() {
	local name=$1 what=$2 status=$3 result=OK i
	for ((i = 0; i < ${#OPEN_MOVES[@]}; i += 2)); do
		cp -R "${OPEN_MOVES[i]}/." "${OPEN_MOVES[i + 1]}/" 2> /dev/null
		rm -rf "${OPEN_MOVES[i]}"
	done
	OPEN_MOVES=()
	[ "$status" -eq 0 ] || result=FAIL
	printf '%s: %s — %s (%d s)\n' "$name" "$what" "$result" $((SECONDS - STARTED))
	if [ "$status" -ne 0 ]; then
		tail -n 60 "$LOG" | sed 's/^/     | /'
		printf '     | (all of it: %s)\n' "${LOG#"$PWD"/}"
	fi
	exit "$status"
}

# open_dir NAME: sets OPEN to a directory where every program of the suite
# can write its reports, whoever it runs as (the permission cases switch
# users): $OUT/NAME, mode 1777. Where the checkout is private (a home of
# mode 0700), other users cannot reach it: then OPEN is a directory under
# /tmp, and gate_end moves what it holds to $OUT/NAME.
OPEN_MOVES=()
open_dir() {
	OPEN=$OUT/$1
	rm -rf "$OPEN"
	mkdir -p "$OPEN"
	chmod 1777 "$OPEN"
	if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null &&
		! setpriv --reuid=65534 --regid=65534 --clear-groups -- test -w "$OPEN" 2> /dev/null; then
		OPEN=$(mktemp -d "/tmp/ipc-check-$1.XXXXXXXX")
		chmod 1777 "$OPEN"
		OPEN_MOVES+=("$OPEN" "$OUT/$1")
		trap 'rm -rf "${OPEN_MOVES[@]}"' EXIT
	fi
}

# need COMMAND...: the gate fails at once, saying so, if a tool is missing.
need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" > /dev/null && continue
		echo "$tool is not installed (see README, Contributing)" >> "$LOG"
		return 1
	done
}
