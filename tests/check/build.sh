#!/usr/bin/env bash
# Gate `make check-build`: every example builds with gcc and with clang,
# warnings as errors: the Makefile's warnings plus the ones below, with
# -O2 and _FORTIFY_SOURCE so that glibc marks the calls whose result must
# not be ignored (read, write...) and the compilers see buffer sizes.
. "$(dirname "$0")/gate.sh"
gate_start build
# Beyond the Makefile's set: each finds bugs IPC code actually has
# (truncated sizes and offsets, signed/unsigned mix-ups in lengths read from
# a peer, format mismatches, dead or duplicated branches). Not gcc's
# -Wlogical-op: it flags the portable `errno == EAGAIN || errno ==
# EWOULDBLOCK`, equal on Linux but not everywhere.
COMMON='-Wconversion -Wnull-dereference -Wpointer-arith
	-Wold-style-definition -Wmissing-declarations -Wredundant-decls
	-Wdouble-promotion -Wimplicit-fallthrough -D_FORTIFY_SOURCE=2'
GCC_ONLY='-Wformat-overflow=2 -Wformat-truncation=2 -Wformat-signedness
	-Wduplicated-cond -Wduplicated-branches -Wjump-misses-init
	-Walloca -Wstack-usage=65536'
CLANG_ONLY='-Wcomma -Wunreachable-code-aggressive -Wshorten-64-to-32
	-Wconditional-uninitialized -Wloop-analysis'

status=0
if need gcc clang make; then
	for cc in gcc clang; do
		extra=$GCC_ONLY
		[ "$cc" = clang ] && extra=$CLANG_ONLY
		# -B: a gate must compile everything again, whatever make remembers.
		make -B -k -s -j"$JOBS" BINDIR="build/$cc" CC="$cc" WERROR=-Werror \
			CFLAGS="-O2 -g ${COMMON//[[:space:]]/ } ${extra//[[:space:]]/ }" >> "$LOG" 2>&1 || status=1
	done
else
	status=1
fi
gate_end build "${#SOURCES[@]} programs with gcc and clang, -Werror, extra warnings, -D_FORTIFY_SOURCE=2" "$status"
