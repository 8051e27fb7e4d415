#!/usr/bin/env bash
# Gate `make check-valgrind`: the whole test suite again with every program
# the tests start (run, spawn) under valgrind's memcheck, then every log:
#  - no memcheck error (invalid reads and writes, uninitialised values,
#    bad frees) in any process, and no definite leak in any process that
#    ended by exit (one killed by a signal never got to free its memory);
#  - no descriptor left open at a successful exit (status 0) beyond 0, 1
#    and 2. Descriptors the process inherited are not its own, and a
#    process that died (die(): status 1, or by a signal) is not asked to
#    have closed what it held: the kernel does, and nothing is lost.
# Valgrind's descriptor report never changes its exit status, hence the
# logs. Valgrind is slow to start, so the tests' waits are longer here
# (TMO, CASE_LIMIT); INPUT_MAX (tests/lib.sh) caps the big random inputs.
. "$(dirname "$0")/gate.sh"
gate_start valgrind
rm -rf build/valgrind
# Cases that switch users run programs under valgrind too: the logs go
# where they can write (see open_dir).
open_dir valgrind-logs
export VG_LOGS=$OPEN
# RUN is split into words, and every user must reach it: the wrapper runs
# from a copy in a directory of its own under /tmp, whatever the checkout's
# path ("my files") and mode.
WRAPPER=$(mktemp -d /tmp/ipc-valgrind.XXXXXXXX)
trap 'rm -rf "$WRAPPER" "${OPEN_MOVES[@]}"' EXIT
chmod 755 "$WRAPPER"
cp tests/check/valgrind-run.sh "$WRAPPER/valgrind-run.sh"
status=0
need gcc make valgrind || status=1
if [ "$status" -eq 0 ]; then
	# -gdwarf-4: valgrind 3.19 does not read all of DWARF 5.
	make -B -s -j"$JOBS" BINDIR=build/valgrind CC=gcc WERROR= CFLAGS='-O1 -g -gdwarf-4' \
		>> "$LOG" 2>&1 || status=1
fi
if [ "$status" -eq 0 ]; then
	RUN=$WRAPPER/valgrind-run.sh TMO=${TMO:-60} CASE_LIMIT=${CASE_LIMIT:-300} \
		INPUT_MAX=${INPUT_MAX:-20000000} BIN=build/valgrind \
		bash tests/run.sh >> "$LOG" 2>&1 || status=1
	suite=$(tail -n 1 "$LOG")
	# One line per finding: "log: what".
	findings=$(awk '
		FNR == 1 { fd = "" }
		/ Command: / { command[FILENAME] = $0; sub(/.* Command: /, "", command[FILENAME]) }
		match($0, /ERROR SUMMARY: [0-9]+/) {
			errors[FILENAME] = substr($0, RSTART + 15, RLENGTH - 15) + 0
		}
		/are definitely lost in loss record/ { leaks[FILENAME]++ }
		/Process terminating with default action of signal/ { signalled[FILENAME] = 1 }
		match($0, /exit_group\( *[0-9]+/) {
			status = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", status)
			exit_status[FILENAME] = status + 0
		}
		# A descriptor report: "Open file descriptor N: what", then where
		# it was opened, or "<inherited from parent>", then an empty line.
		fd != "" && /<inherited from parent>/ { fd = "" }
		fd != "" && match($0, /\([0-9][0-9]-[^()]*\.c:[0-9]+\)/) {
			left_open[FILENAME] = left_open[FILENAME] "\n    " fd " (opened at " substr($0, RSTART + 1, RLENGTH - 2) ")"
			fd = ""
		}
		fd != "" && /^==[0-9]+== *$/ {
			left_open[FILENAME] = left_open[FILENAME] "\n    " fd
			fd = ""
		}
		match($0, /Open (file descriptor|AF_[A-Za-z0-9]+ socket) [0-9]+.*/) {
			fd = substr($0, RSTART + 5, RLENGTH - 5); number = fd
			sub(/:.*/, "", number); sub(/.* /, "", number)
			sub(/: *$/, "", fd)
			if (number + 0 <= 2) fd = ""
		}
		END {
			# A process killed by a signal never reached the end where it
			# frees what it holds: like LeakSanitizer, ignore its leaks.
			for (f in errors) {
				n = errors[f] - (signalled[f] ? leaks[f] : 0)
				if (n > 0)
					print f ": " command[f] ": " n " memcheck errors (see the log)"
			}
			for (f in left_open)
				if ((f in exit_status) && exit_status[f] == 0)
					print f ": " command[f] " exited 0 with descriptors open:" left_open[f]
		}
	' "$VG_LOGS"/vg.*.log 2>/dev/null)
	if [ -n "$findings" ]; then
		status=1
		printf '%s\n' "$findings" | sed "s|$PWD/||" >> "$LOG"
	fi
fi
logs=$(find "$VG_LOGS" -name 'vg.*.log' | wc -l)
gate_end valgrind "test suite under memcheck and --track-fds: ${suite:-not run}, $logs processes checked" "$status"
