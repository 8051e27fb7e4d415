#!/usr/bin/env bash
# Gate `make check-suite`, the first of `make check`: the test suite on the
# build make has just made (BIN and CC as `make test` passes them). Its line
# ends with the suite's own; a failure lists the failing cases with their
# logs at the end of build/check/suite.log, where the gate's excerpt shows them.
. "$(dirname "$0")/gate.sh"
gate_start suite
status=0
bash tests/run.sh >> "$LOG" 2>&1 || status=1
result=$(tail -n 1 "$LOG")
if [ "$status" -ne 0 ]; then
	failures=$(awk '/^not ok / { shown = 1; print; next }
		shown && /^#   \|/ { print; next } { shown = 0 }' "$LOG")
	printf '== what failed:\n%s\n' "$failures" >> "$LOG"
fi
gate_end suite "the test suite: $result" "$status"
