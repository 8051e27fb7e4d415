#!/usr/bin/env bash
# Gate `make check-strict`: no example relies on something beyond C11 and
# POSIX.1-2008 without saying so. Each source is compiled as it stands,
# with no feature macro on the command line, under
#   -std=c11 -pedantic-errors -Werror
# so a GNU C extension (statement expressions, typeof, zero-length arrays...)
# is an error, and so is any function or constant its own
# `#define _POSIX_C_SOURCE 200809L` does not declare. Then every other
# feature macro in a source (_GNU_SOURCE, _DEFAULT_SOURCE, _XOPEN_SOURCE...)
# must carry a comment saying why (on its line or just above), and must be
# needed: the file compiled without that line has to fail.
. "$(dirname "$0")/gate.sh"
gate_start strict
STRICT=(-std=c11 -pedantic-errors -Werror -Wall -Wextra -fsyntax-only)
FEATURE='^[[:space:]]*#[[:space:]]*define[[:space:]]+_[A-Z0-9_]*_SOURCE([[:space:]]|$)'

check_source() {
	local source=$1 cc line number macro
	# The POSIX level must be set before the first #include to count.
	if ! awk '/^[[:space:]]*#[[:space:]]*include/ { exit 1 }
		/^[[:space:]]*#[[:space:]]*define[[:space:]]+_POSIX_C_SOURCE[[:space:]]+200809L/ { found = 1; exit 0 }
		END { exit !found }' "$source"; then
		echo "$source: no '#define _POSIX_C_SOURCE 200809L' before the first #include"
		return 1
	fi
	for cc in gcc clang; do
		"$cc" "${STRICT[@]}" "$source" 2>&1 || return 1
	done
	while IFS=: read -r number line; do
		macro=$(printf '%s\n' "$line" | awk '{ sub(/^[[:space:]]*#[[:space:]]*define[[:space:]]+/, ""); print $1 }')
		[ "$macro" = _POSIX_C_SOURCE ] && continue
		if ! printf '%s\n' "$line" | grep -q -e '/\*' -e '//' &&
			! sed -n "$((number - 1))p" "$source" | grep -Eq '\*/[[:space:]]*$|^[[:space:]]*//'; then
			echo "$source:$number: $macro needs a comment saying what it is for"
			return 1
		fi
		if sed "${number}d" "$source" | gcc "${STRICT[@]}" -x c - > /dev/null 2>&1; then
			echo "$source:$number: $macro is not needed: the file builds without it"
			return 1
		fi
	done < <(grep -En "$FEATURE" "$source")
}

status=0
if need gcc clang; then
	for source in "${SOURCES[@]}"; do
		check_source "$source" >> "$LOG" 2>&1 || status=1
	done
else
	status=1
fi
gate_end strict "${#SOURCES[@]} sources as C11 + POSIX.1-2008 only (-std=c11 -pedantic-errors), other feature macros explained and needed" "$status"
