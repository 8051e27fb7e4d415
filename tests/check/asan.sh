#!/usr/bin/env bash
# Gate `make check-asan`: the whole test suite again, every program built
# with AddressSanitizer and UndefinedBehaviorSanitizer (both sides of every
# pair, since the suite starts them all from $BIN). A sanitizer report fails
# the gate even when the test passed: a case that expects exit status 1
# cannot tell a die() from a sanitizer's exit, so every report is written
# to build/check/asan-reports/ and any file there is a failure.
#
# Programs that end by a re-raised signal (Ctrl-C, SIGTERM, SIGPIPE) skip
# LeakSanitizer's check at exit; every other way out runs it, children
# included. Cases that switch users (as_user) write their reports there
# too: the directory is one they can reach and write (see open_dir).
. "$(dirname "$0")/gate.sh"
gate_start asan
rm -rf build/asan
open_dir asan-reports
REPORTS=$OPEN
status=0
if need clang make; then
	# clang: gcc 12's runtime prints UBSan's reports on stderr whatever
	# log_path says, where a test expecting a message would swallow them.
	make -B -s -j"$JOBS" BINDIR=build/asan CC=clang WERROR= \
		CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		>> "$LOG" 2>&1 || status=1
fi
if [ "$status" -eq 0 ]; then
	# detect_leaks=0: LeakSanitizer stops the process with ptrace at exit,
	# which fails for 17-eventfd and 18-supervise here ("LeakSanitizer has
	# encountered a fatal error"); leaks are the valgrind gate's, which
	# checks every program.
	export ASAN_OPTIONS="log_path=$REPORTS/asan:exitcode=99:abort_on_error=0:detect_leaks=0:detect_stack_use_after_return=1:strict_string_checks=1"
	export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:exitcode=99:halt_on_error=1:print_stacktrace=1"
	BIN=build/asan bash tests/run.sh >> "$LOG" 2>&1 || status=1
	suite=$(tail -n 1 "$LOG")
	for report in "$REPORTS"/*; do
		[ -e "$report" ] || continue
		status=1
		{ echo "== $report"; head -n 30 "$report"; } >> "$LOG"
	done
fi
gate_end asan "test suite on ASan+UBSan builds: ${suite:-not run}, $(find "$REPORTS" -type f | wc -l) sanitizer reports" "$status"
