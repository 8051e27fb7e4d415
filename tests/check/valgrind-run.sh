#!/bin/sh
# The RUN prefix of the valgrind gate (tests/check/valgrind.sh): the test
# suite starts every program through it. exec: the program keeps this pid,
# so the tests' signals reach it (valgrind runs it in the same process).
# One log per process in $VG_LOGS; the gate reads them. --trace-syscalls
# puts the process's exit status in its log (the exit_group line), so the
# gate knows which runs ended with status 0.
exec valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --track-fds=yes --trace-syscalls=yes \
	--log-file="$VG_LOGS/vg.%p.log" "$@"
