#!/usr/bin/env bash
# Gate `make check-cppcheck`: cppcheck's warnings (bugs such as bounds,
# leaks of memory and descriptors, with POSIX's functions known to it),
# portability and performance findings, on every example. A finding may be
# silenced only in the source, by a `// cppcheck-suppress ID` comment that
# also says why it is a false positive.
. "$(dirname "$0")/gate.sh"
gate_start cppcheck
status=0
if need cppcheck; then
	cppcheck --quiet --std=c11 --library=posix --platform=unix64 \
		--enable=warning,portability,performance --inline-suppr \
		--error-exitcode=1 -j "$JOBS" \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		"${LINT_SOURCES[@]}" >> "$LOG" 2>&1 || status=1
else
	status=1
fi
gate_end cppcheck "${#LINT_SOURCES[@]} sources, warnings, portability, performance, POSIX library" "$status"
