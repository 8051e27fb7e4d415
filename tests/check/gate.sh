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
	local name=$1 what=$2 status=$3 result=OK
	[ "$status" -eq 0 ] || result=FAIL
	printf '%s: %s — %s (%d s)\n' "$name" "$what" "$result" $((SECONDS - STARTED))
	if [ "$status" -ne 0 ]; then
		tail -n 60 "$LOG" | sed 's/^/     | /'
		printf '     | (all of it: %s)\n' "${LOG#"$PWD"/}"
	fi
	exit "$status"
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
