#!/bin/sh
# `make bench-peers`: the peer middleware beside our rings, in one run.
#
#   sh bench/peers/run.sh [ipc-bench options]   (make bench-peers BENCH_ARGS=...)
#
# Eclipse iceoryx (Debian: iceoryx, libiceoryx-binding-c-dev) is installed
# if it is missing and we may (root with apt-get); otherwise this says what
# to install and exits 1. The peer program is built into build/bench-peers/,
# iox-roudi is started, and then ipc-bench (the references and the two
# rings of 07's design and of C11 atomics) and the peer run one after the
# other, their rows printed side by side. RouDi leaves shared memory and
# sockets named after the user in /dev/shm and /tmp; as root the whole run
# happens in a private mount namespace, with /dev/shm and /tmp of its own,
# so nothing of it outlives the run or meets another program's objects.
set -eu
cd "$(dirname "$0")/../.."
say() { echo "bench-peers: $*" >&2; }
OUT=build/bench-peers

# The C binding's headers, newest version first found last.
find_header() {
	header=
	for dir in /usr/include/iceoryx/v*/iceoryx_binding_c; do
		if [ -d "$dir" ]; then header=$dir; fi # not &&: with none, set -e would end us here
	done
}

if [ "${1:-}" != --inside ]; then
	find_header
	if [ -z "$header" ] || ! command -v iox-roudi > /dev/null; then
		if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
			say "installing iceoryx and libiceoryx-binding-c-dev"
			apt-get install -y -q iceoryx libiceoryx-binding-c-dev > /dev/null 2>&1 ||
				{ say "apt-get install iceoryx libiceoryx-binding-c-dev failed: install them, then run again"; exit 1; }
			find_header
		fi
	fi
	if [ -z "$header" ] || ! command -v iox-roudi > /dev/null; then
		say "iceoryx is not installed: on Debian 12 or later, apt-get install iceoryx libiceoryx-binding-c-dev"
		exit 1
	fi
	mkdir -p "$OUT"
	${CC:-cc} -std=c11 -O2 -I"$(dirname "$header")" -o "$OUT/iceoryx-peer" \
		bench/peers/iceoryx-peer.c -liceoryx_binding_c ||
		{ say "the peer does not build against $(dirname "$header")"; exit 1; }
	if [ "$(id -u)" = 0 ] && unshare -m true 2> /dev/null; then
		exec unshare -m sh bench/peers/run.sh --inside "$@"
	fi
	say "not root: RouDi's shared memory goes to the real /dev/shm and /tmp"
else
	shift
	mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /tmp
fi

# ipc-bench takes every option; the peer those it shares with it.
bench_args="$*"
peer_args=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) peer_args="$peer_args $1" ;;
	--sizes | --placement) peer_args="$peer_args $1 $2"; shift ;;
	esac
	shift
done


iox-roudi > "$OUT/roudi.log" 2>&1 &
roudi=$!
tries=500
until [ -e /dev/shm/iceoryx_mgmt ]; do
	tries=$((tries - 1))
	[ "$tries" -gt 0 ] && kill -0 "$roudi" 2> /dev/null ||
		{ say "iox-roudi did not start (see $OUT/roudi.log)"; exit 1; }
	sleep 0.02
done
stop_roudi() { kill -INT "$roudi" 2> /dev/null || true; wait "$roudi" 2> /dev/null || true; }
trap stop_roudi EXIT

# shellcheck disable=SC2086 # option lists, split on purpose
bench/ipc-bench --csv --mechanisms shm-sem-ring,shm-spsc-ring $bench_args > "$OUT/ours.csv" 2> "$OUT/ours.err" ||
	{ grep -v '^ipc-bench: \[' "$OUT/ours.err" >&2; say "ipc-bench failed"; exit 1; }
grep '^ipc-bench: [0-9]* CPUs' "$OUT/ours.err" || true
# shellcheck disable=SC2086
"$OUT/iceoryx-peer" $peer_args > "$OUT/peer.csv" 2> "$OUT/peer.err" ||
	{ grep "^iceoryx-peer:" "$OUT/peer.err" >&2; say "the peer failed (its log: $OUT/peer.err)"; exit 1; }

# Side by side: the spin ring measured between (just before the rings),
# our two rings and the peer, with each stream as a fraction of the spin
# ring at its size.
awk -F, '
	FNR == 1 && NR == 1 { next }
	$1 == "spin-ring" && ++spins[$3] == 2 { spin[$3] = $7 } # the one between, before the rings
	$1 == "cacheline" && $2 == "cross-cpu" { line = $4 }
	$1 == "shm-sem-ring" || $1 == "shm-spsc-ring" || $1 == "iceoryx" { row[++n] = $0 }
	END {
		printf "%-14s %-9s %8s %8s %11s %9s %7s %8s\n", "mechanism", "placement", "bytes",
			"rtt_med", "msgs/s", "MB/s", "x_spin", "csw/msg"
		for (i = 1; i <= n; i++) {
			split(row[i], f, ",")
			x = f[2] == "cross-cpu" && spin[f[3]] > 0 ? sprintf("%.2f", f[7] / spin[f[3]]) : "-"
			printf "%-14s %-9s %8s %8s %11s %9.0f %7s %8s\n", f[1], f[2], f[3],
				f[4] == "" ? "-" : f[4], f[6], f[7], x, f[8]
		}
		printf "\nx_spin: MB/s / the spin ring measured just before the rings, at that size (cross-cpu).\n"
		printf "The cache line crossed the CPUs in %s ns at the end of the run.\n", line
	}' "$OUT/ours.csv" "$OUT/peer.csv"
