#!/usr/bin/env bash
# `make check`: runs the gates named as arguments (tests/check/NAME.sh), one
# after the other so that the two test-suite runs never share the machine's
# IPC namespaces, then one line for the whole: how many gates failed.
cd "$(dirname "$0")/../.." || exit 1
started=$SECONDS failed=()
for gate in "$@"; do
	bash "tests/check/$gate.sh" || failed+=("$gate")
done
if [ "${#failed[@]}" -eq 0 ]; then
	echo "check: $# gates — OK ($((SECONDS - started)) s)"
else
	echo "check: ${#failed[@]} of $# gates failed: ${failed[*]} — FAIL ($((SECONDS - started)) s)"
	exit 1
fi
