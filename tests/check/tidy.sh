#!/usr/bin/env bash
# Gate `make check-tidy`: clang-tidy with the checks in .clang-tidy (unchecked
# return values, signal safety, bounds and leaks found by the analyser) on
# every example. A finding may be silenced only by a NOLINT(check) comment
# that says why it is a false positive.
#
# Signal safety: clang-tidy's bugprone-signal-handler only follows handlers
# installed with signal(), and the examples use sigaction(). So each source
# is checked as a copy that ends with a function passing every handler named
# in a `sa_handler = NAME` or `sa_sigaction = NAME` to signal(): the check
# then follows each handler and everything it calls. The copy keeps the
# source's line numbers, and findings are shown under the source's name.
. "$(dirname "$0")/gate.sh"
gate_start tidy
COPIES=$OUT/tidy
rm -rf "$COPIES"
mkdir -p "$COPIES"

copy_with_handlers() {
	local source=$1 copy=$COPIES/$1 name n=0
	mkdir -p "$(dirname "$copy")"
	cp "$source" "$copy"
	{
		echo
		echo 'void lint_register_handlers(void);'
		echo 'void lint_register_handlers(void)'
		echo '{'
		for name in $(grep -Eo 'sa_handler[[:space:]]*=[[:space:]]*&?[A-Za-z_][A-Za-z0-9_]*' "$source" | grep -Eo '[A-Za-z_][A-Za-z0-9_]*$' | grep -v '^SIG_' | sort -u); do
			echo "	(void)signal(SIGINT, $name);"
		done
		# A three-argument handler is reached through a one-argument one.
		for name in $(grep -Eo 'sa_sigaction[[:space:]]*=[[:space:]]*&?[A-Za-z_][A-Za-z0-9_]*' "$source" | grep -Eo '[A-Za-z_][A-Za-z0-9_]*$' | sort -u); do
			n=$((n + 1))
			echo "}"
			echo "static void lint_handler_$n(int sig) { $name(sig, NULL, NULL); }"
			echo "void lint_register_$n(void);"
			echo "void lint_register_$n(void) { (void)signal(SIGINT, lint_handler_$n);"
		done
		echo '}'
	} >> "$copy"
}

# False positive, dropped with its notes: errno is glibc's macro for a call
# to __errno_location(), which clang-tidy 14 does not know to be safe in a
# handler; POSIX lets a handler use errno (a handler that calls something
# that may change errno should save and restore it: review that by eye).
drop_errno_findings() {
	awk '/: (error|warning): / { skip = /'"'"'__errno_location'"'"' may not be asynchronous-safe/ }
		!skip'
}

status=0
if need clang-tidy; then
	for source in "${LINT_SOURCES[@]}"; do
		copy_with_handlers "$source"
	done
	# One clang-tidy per source, $JOBS at a time; the copies sit in
	# build/check/tidy, so they are told where .clang-tidy is.
	printf '%s\n' "${LINT_SOURCES[@]}" |
		xargs -r -P "$JOBS" -I{} clang-tidy --quiet --config-file=.clang-tidy \
			"$COPIES/{}" -- -std=c11 -I. -Ibench 2>&1 |
		grep -v -e '^[0-9]* warnings\? generated\.$' -e '^Suppressed [0-9]* warnings' \
			-e '^Use -header-filter' -e 'treated as errors$' |
		sed "s|$COPIES/||g" | drop_errno_findings >> "$LOG"
	# Any finding left fails the gate (clang-tidy's own status would count
	# the errno findings dropped above).
	if grep -q -e ': error: ' -e ': warning: ' "$LOG"; then
		status=1
		# The findings again, one line each, where the gate's excerpt shows them.
		findings=$(grep -e ': error: ' -e ': warning: ' "$LOG" | sed 's/,-warnings-as-errors\]/]/')
		printf '== findings:\n%s\n' "$findings" >> "$LOG"
	fi
else
	status=1
fi
gate_end tidy "${#LINT_SOURCES[@]} sources, unchecked results, signal safety, bounds, leaks (.clang-tidy)" "$status"
