# shellcheck shell=bash
# bench/ipc-bench (`make bench`): it runs, checks every message, reports
# sane figures and cleans up. It asserts nothing about speed: a benchmark's
# figures belong to the machine, not to the test. (Not run under $RUN: a
# benchmark under valgrind would measure valgrind.)

MECHANISMS='pipe fifo sysv-mq posix-mq unix-stream unix-dgram unix-seqpacket tcp shm-sem-ring shm-spsc-ring sysv-sem-ring eventfd-ring'
RINGS='shm-sem-ring shm-spsc-ring sysv-sem-ring eventfd-ring'
HEADER='mechanism,placement,message_bytes,rtt_median_ns,rtt_p99_ns,msgs_per_s,mb_per_s,ctx_switches_per_msg,syscalls_per_msg,spin_ring_fraction,cacheline_rtt_ns'

# bench ARGS...: the benchmark, bounded like every program the tests run.
bench() { timeout -k 2 "$TMO" "$ROOT/bench/ipc-bench" "$@"; }

# placements: what the machine allows (the program says so in its output).
placements() { if [ "$(nproc)" -ge 2 ]; then echo same-cpu cross-cpu; else echo same-cpu; fi; }

# without_progress FILE: stderr minus the progress lines, and minus the
# note that the host moved the CPUs during a ring (it can, at any time).
without_progress() { grep -v -e '^ipc-bench: \[[0-9]*/[0-9]*\] ' -e '^ipc-bench: the CPUs moved during ' "$1" || true; }

# sysv_queues_of PID...: System V queues last used by these processes.
sysv_queues_of() {
	local pid
	for pid in "$@"; do
		awk -v pid="$pid" 'NR > 1 && ($6 == pid || $7 == pid) {print $2}' /proc/sysvipc/msg
	done
}
has_sysv_queue() { [ -n "$(sysv_queues_of "$1")" ]; }
partner_of() { pgrep -P "$1" | head -n 1; }

test_make_bench_quick_csv_has_every_row_with_sane_figures() {
	# the whole quick run: allowed three times the usual wait on a busy machine
	expect_status 0 timeout -k 2 $((3 * TMO)) make -s --no-print-directory -C "$ROOT" bench BENCH_ARGS='--quick --csv' \
		> "$T/csv" 2> "$T/err"
	[ "$(head -n 1 "$T/csv")" = "$HEADER" ] || fail "wrong CSV header: $(head -n 1 "$T/csv")"
	if without_progress "$T/err" | grep -qv '^ipc-bench: [0-9]* CPUs usable'; then
		fail "unexpected messages: $(cat "$T/err")"
	fi
	awk -F, -v mechanisms="$MECHANISMS" -v rings="$RINGS" -v placements="$(placements)" '
		function bad(why) { print "row " NR ": " why ": " $0 > "/dev/stderr"; failed = 1 }
		function rate_matches() { return $7 >= $6 * $3 / 1e6 * 0.99 - 0.05 && $7 <= $6 * $3 / 1e6 * 1.01 + 0.05 }
		BEGIN { split(rings, r, " "); for (i in r) ring[r[i]] = 1 }
		NR == 1 { next }
		NF != 11 { bad("not 11 fields"); next }
		$1 == "cacheline" {
			if ($3 != 64 || !($4 > 0) || !($5 >= $4) || $6 != "" || $7 != "") bad("cache line figures")
			seen[$1 "," $2 ",64"]++; next
		}
		$1 == "memcpy" {
			if ($2 != "same-cpu" || !($7 > 0) || $4 != "" || $6 != "") bad("memcpy figures")
			seen[$1 "," $3]++; next
		}
		$1 == "spin-ring" {
			# mb_per_s is printed with one decimal: allow its rounding (0.05)
			if ($2 != "cross-cpu" || !($6 > 0) || !($7 > 0) || !rate_matches() || !($11 > 0)) bad("spin ring figures")
			seen[$1 "," $3]++; next
		}
		$1 == "generator" || $1 == "checker" {
			if ($2 != "same-cpu" || !($6 > 0) || !($7 > 0) || !rate_matches()) bad("pattern rates")
			seen[$1 "," $3]++; next
		}
		{
			key = $1 "," $2 "," $3
			seen[key]++
			# MB/s has one decimal: a very slow stream may print 0.0
			if (!($6 > 0) || $7 == "" || $7 < 0) bad("no throughput")
			if (!rate_matches()) bad("MB/s does not match msgs/s")
			if ($8 == "" || $8 < 0) bad("no context switches")
			# a kernel transport makes a call to send and one to receive;
			# the atomic and eventfd rings may make none; the semaphore
			# ring cannot count
			if ($1 == "shm-sem-ring" ? $9 != "" : ($1 == "shm-spsc-ring" || $1 == "eventfd-ring") ? $9 == "" || $9 < 0 : !($9 >= 1.99)) bad("system calls")
			rtt = $3 == 64 || ($3 == 4096 && $1 in ring)
			if (rtt && (!($4 > 0) || !($5 >= $4))) bad("round trip")
			if (!rtt && ($4 != "" || $5 != "")) bad("round trip where none was measured")
			cross = $2 == "cross-cpu"
			# across CPUs, a fraction of the spin ring, unless the host
			# moved the CPUs and no spin ring was measured in that placement
			if ((!cross && $10 != "") || ($10 != "" && $10 < 0)) bad("fraction of the spin ring")
			if ((cross && $1 in ring) != ($11 > 0)) bad("cache line beside a ring")
		}
		END {
			n = split(mechanisms, m, " "); np = split(placements, p, " ")
			ns = split("64 4096 65536", sizes, " ")
			for (i = 1; i <= n; i++) for (j = 1; j <= np; j++) for (k = 1; k <= ns; k++)
				if (seen[m[i] "," p[j] "," sizes[k]] != 1) { print "missing: " m[i] " " p[j] " " sizes[k] > "/dev/stderr"; failed = 1 }
			for (j = 1; j <= np; j++)
				if (seen["cacheline," p[j] ",64"] != 3) { print "cache line before, between and after missing for " p[j] > "/dev/stderr"; failed = 1 }
			if (seen["memcpy,65536"] != 2 || seen["memcpy,67108864"] != 2) { print "memcpy before and after missing" > "/dev/stderr"; failed = 1 }
			for (k = 1; k <= ns; k++) {
				if (np == 2 && seen["spin-ring," sizes[k]] != 3) { print "spin ring missing at " sizes[k] > "/dev/stderr"; failed = 1 }
				if (seen["generator," sizes[k]] != 1 || seen["checker," sizes[k]] != 1) { print "generator or checker missing at " sizes[k] > "/dev/stderr"; failed = 1 }
			}
			want = n * np * ns + 3 * (np + (np == 2 ? ns : 0)) + 2 * 2 + 2 * ns
			if (NR - 1 != want) { print "wrong number of rows: " NR - 1 ", not " want > "/dev/stderr"; failed = 1 }
			exit failed
		}' "$T/csv" || fail "bad CSV (see above)"
}

test_the_table_shows_each_pair_the_references_and_the_targets() {
	# a whole quick run, references included: three times the usual wait
	expect_status 0 timeout -k 2 $((3 * TMO)) "$ROOT/bench/ipc-bench" --quick \
		--mechanisms pipe,shm-spsc-ring > "$T/out" 2> "$T/err"
	local placement mechanism np steps
	np=$(placements | wc -w)
	# per pair a round trip (two for the ring) and 3 streams; references
	# three times, the spin ring's 3 sizes with them on two CPUs; generator
	# and checker once at each size
	steps=$(( np * 4 + np * 5 + 3 * (np + (np == 2 ? 3 : 0)) + 2 * 2 + 2 * 3 ))
	grep -q '^mechanism  *placement  *bytes  *rtt_med  *rtt_p99 ' "$T/out" || fail "no table header"
	for placement in $(placements); do
		for mechanism in pipe shm-spsc-ring; do
			[ "$(grep -c "^$mechanism  *$placement " "$T/out")" = 3 ] || fail "$mechanism $placement: not 3 rows"
		done
		for when in before between after; do
			grep -q "^cacheline ($when) *$placement " "$T/out" || fail "no cache line $when"
		done
	done
	for when in before between after; do
		[ "$when" = between ] || [ "$(grep -c "^memcpy ($when) " "$T/out")" = 2 ] || fail "no memcpy $when"
		if [ "$np" = 2 ]; then
			[ "$(grep -c "^spin-ring ($when) *cross-cpu " "$T/out")" = 3 ] || fail "no spin ring $when"
		fi
	done
	[ "$(grep -c '^generator (before) ' "$T/out")" = 3 ] || fail "no generator rates"
	[ "$(grep -c '^checker (before) ' "$T/out")" = 3 ] || fail "no checker rates"
	if [ "$np" = 2 ]; then
		# a ring figure across CPUs has the cache line measured beside it
		[ "$(grep -Ec '^shm-spsc-ring +cross-cpu .* [0-9]+ (near|far) ' "$T/out")" = 3 ] ||
			fail "no cache line beside the ring"
		grep -q '^targets ' "$T/out" || fail "no targets"
		grep -q '^  atomic ring 65536 B stream / spin ring  *[0-9.-]*  >= 0.8  *\(met\|missed\|no reference in its placement\)$' "$T/out" ||
			fail "no stream target"
	fi
	# not a tty: one progress line per step, then nothing else
	without_progress "$T/err" > "$T/msg"
	[ ! -s "$T/msg" ] || fail "unexpected messages: $(cat "$T/msg")"
	# a ring measured again after the CPUs moved adds its steps
	grep -q '^ipc-bench: the CPUs moved during ' "$T/err" && steps='[0-9]*'
	grep -q "^ipc-bench: \[$steps/$steps\] memcpy" "$T/err" || fail "progress does not reach the end"
}

test_a_corrupted_last_byte_stops_every_mechanism_with_an_error() {
	local mechanism left
	for mechanism in $MECHANISMS; do
		expect_status 1 bench --mechanisms "$mechanism" --sizes 65536 --placement same \
			--reps 1 --rep-ms 1 --corrupt 10 --no-references > "$T/out" 2> "$T/err"
		without_progress "$T/err" > "$T/msg"
		printf '%s\n' \
			'ipc-bench: verify message 10 of 65536 bytes: wrong content on arrival (the transport lost or corrupted data)' \
			'ipc-bench: the partner process ended during a measurement' > "$T/want"
		diff -u "$T/want" "$T/msg" >&2 || fail "$mechanism: unexpected messages"
		if grep -q "^$mechanism " "$T/out"; then fail "$mechanism: a figure was printed"; fi
	done
	for left in /dev/shm/ipc-bench-* /dev/mqueue/ipc-bench-* /tmp/ipc-bench-*; do
		[ ! -e "$left" ] || fail "left behind: $left"
	done
}

# --store makes every ring build its messages aside and copy them in (or
# build them in place): each way must deliver every message, and a
# corrupted one must still stop the run, in every ring.
test_every_ring_checks_its_messages_with_each_way_of_storing() {
	local ring store
	for store in stores memcpy streaming; do
		for ring in $RINGS; do
			expect_status 0 bench --mechanisms "$ring" --sizes 4104,65536 --placement same \
				--reps 1 --rep-ms 1 --store "$store" --no-references > "$T/out" 2> /dev/null
			[ "$(grep -c "^$ring " "$T/out")" = 3 ] || fail "$ring, --store $store: rows missing"
			expect_status 1 bench --mechanisms "$ring" --sizes 65536 --placement same \
				--reps 1 --rep-ms 1 --store "$store" --corrupt 10 --no-references \
				> /dev/null 2> "$T/err"
			grep -q '^ipc-bench: verify message 10 of 65536 bytes: wrong content on arrival' "$T/err" ||
				fail "$ring, --store $store: the corrupted message was not caught"
		done
	done
}

# With no spin, every wait of the atomic ring sleeps on its futex: the
# batched wake-ups and the flushes must still deliver every message, or
# the run hangs until the timeout.
test_the_atomic_ring_delivers_when_every_wait_sleeps() {
	expect_status 0 bench --quick --mechanisms shm-spsc-ring --sizes 64,65536,1048576 \
		--spin-us 0 --no-references > "$T/out" 2> /dev/null
	[ "$(grep -c '^shm-spsc-ring ' "$T/out")" = $((3 * $(placements | wc -w))) ] || fail "rows missing"
}

# Every catchable signal whose default is to end the process: the queues
# go, the partner ends, and the benchmark dies of that signal.
test_every_fatal_signal_removes_the_queues_and_ends_the_partner() {
	local sig pid partner
	for sig in SIGINT SIGQUIT SIGXCPU SIGRTMIN+3; do
		env --default-signal=SIGINT,SIGQUIT \
			"$ROOT/bench/ipc-bench" --mechanisms sysv-mq --placement same --sizes 64 --reps 1 \
			--rep-ms 1 --count 100000000 --no-references > /dev/null 2>&1 &
		pid=$!
		wait_until has_sysv_queue $pid
		partner=$(partner_of $pid)
		[ -n "$partner" ] || fail "no partner process"
		kill -s "$(signum "$sig")" $pid 2> /dev/null || kill "-$(signum "$sig")" $pid
		finished $pid $((128 + $(signum "$sig")))
		wait_until exited "$partner"
		[ -z "$(sysv_queues_of $pid "$partner")" ] || fail "$sig: queues left behind"
	done
}

# Started under nohup, the benchmark keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	local pid partner
	$NOHUP "$ROOT/bench/ipc-bench" --mechanisms sysv-mq --placement same --sizes 64 --reps 1 \
		--rep-ms 1 --count 100000000 --no-references > /dev/null 2>&1 &
	pid=$!
	wait_until has_sysv_queue $pid
	partner=$(partner_of $pid)
	[ -n "$partner" ] || fail "no partner process"
	keeps_ignored $pid HUP
	wait_until exited "$partner"
	[ -z "$(sysv_queues_of $pid "$partner")" ] || fail "queues left behind"
}

# A SIGCHLD that no child sent (kill -CHLD) must not pass for the
# partner's end: the run goes on and succeeds.
test_a_stray_sigchld_does_not_end_the_run() {
	"$ROOT/bench/ipc-bench" --mechanisms pipe --placement same --sizes 64,4096 --reps 1 --rep-ms 100 \
		--no-references > "$T/out" 2> "$T/err" &
	local pid=$! step
	# the pipe's three steps (a round trip, two streams), each running for
	# at least 100 ms with the partner alive
	for step in 1 2 3; do
		wait_until grep -q "^ipc-bench: \[$step/" "$T/err"
		kill -CHLD $pid 2> /dev/null || break # the run may be over already
	done
	finished $pid 0
	if grep -q 'partner process ended' "$T/err"; then fail "a stray SIGCHLD ended the run"; fi
	[ "$(grep -c '^pipe  *same-cpu  *64 ' "$T/out")" = 1 ] || fail "no figures"
}

# Started with standard error closed, the first descriptor it opens would
# be 2: its progress lines would go into the socket under test.
test_a_closed_stderr_leaves_the_transports_alone() {
	expect_status 0 bench --mechanisms unix-stream,pipe --placement same --sizes 64 --reps 1 \
		--rep-ms 2 --no-references > "$T/out" 2>&-
	[ "$(grep -c '^\(unix-stream\|pipe\)  *same-cpu  *64 ' "$T/out")" = 2 ] || fail "figures missing"
}

# A full /dev/shm is one error line, exit 1, and nothing left behind, not
# a death by SIGBUS at the first store into the region.
test_a_full_dev_shm_is_one_error_line() {
	needs mount-namespace
	# shellcheck disable=SC2016 # expanded by the inner shell
	expect_status 1 unshare -m sh -c 'left=$1; shift; mount -t tmpfs -o size=256k tmpfs /dev/shm || exit 9
		"$@"; status=$?; ls -A /dev/shm > "$left"; exit $status' sh "$T/left" \
		timeout -k 2 "$TMO" "$ROOT/bench/ipc-bench" --mechanisms shm-spsc-ring \
		--placement same --sizes 64 --reps 1 --rep-ms 1 --no-references > /dev/null 2> "$T/err"
	without_progress "$T/err" > "$T/msg"
	grep -Eqx "ipc-bench: posix_fallocate /ipc-bench-[0-9]+-ring: $(errtext ENOSPC)" "$T/msg" ||
		fail "unexpected messages: $(cat "$T/msg")"
	[ "$(grep -c '' "$T/msg")" = 1 ] || fail "more than one line: $(cat "$T/msg")"
	[ ! -s "$T/left" ] || fail "left in /dev/shm: $(cat "$T/left")"
}

test_a_killed_partner_stops_the_run_with_an_error_and_removes_the_queues() {
	"$ROOT/bench/ipc-bench" --mechanisms sysv-mq --placement same --sizes 64 --reps 1 --rep-ms 1 \
		--count 100000000 --no-references > "$T/out" 2> "$T/err" &
	local pid=$! partner
	wait_until has_sysv_queue $pid
	partner=$(partner_of $pid)
	kill -KILL "$partner"
	finished $pid 1
	without_progress "$T/err" > "$T/msg"
	stderr_is "$T/msg" 'ipc-bench: the partner process ended during a measurement'
	if grep -q '^sysv-mq ' "$T/out"; then fail "figures printed after a failure"; fi
	[ -z "$(sysv_queues_of $pid "$partner")" ] || fail "queues left behind"
}

test_usage_errors_exit_2_and_help_exits_0() {
	local usage='usage: ipc-bench [--csv] [--quick] [--mechanisms LIST] [--sizes LIST] [--reps N]'
	expect_status 2 bench --bogus 2> "$T/err"
	[ "$(head -n 1 "$T/err")" = "$usage" ] || fail "wrong usage line: $(head -n 1 "$T/err")"
	expect_status 2 bench --sizes 12 2> /dev/null
	expect_status 2 bench --mechanisms pipe,carrier-pigeon 2> /dev/null
	expect_status 2 bench --reps 2> /dev/null
	expect_status 2 bench --store carrier-pigeon 2> /dev/null
	expect_status 0 bench --help > "$T/out"
	[ "$(head -n 1 "$T/out")" = "$usage" ] || fail "--help does not start with the usage line"
	grep -q -- '--quick' "$T/out" || fail "--help does not explain --quick"
}

# `make bench-peers` runs the peer beside our rings, or says in one line
# why it cannot (iceoryx missing and not installable here).
test_make_bench_peers_runs_or_says_why_not() {
	local status=0
	timeout -k 2 $((3 * TMO)) make -s --no-print-directory -C "$ROOT" bench-peers \
		BENCH_ARGS='--quick --sizes 64 --placement cross --reps 1' > "$T/out" 2> "$T/err" || status=$?
	if [ "$status" = 0 ]; then
		grep -Eq '^iceoryx +cross-cpu +64 +[0-9]+ +[0-9]+ ' "$T/out" || fail "no iceoryx row: $(cat "$T/out")"
		grep -Eq '^shm-spsc-ring +cross-cpu +64 +[0-9]+ ' "$T/out" || fail "no ring row beside it"
	else
		grep -q '^bench-peers: ' "$T/err" || fail "make bench-peers exited $status without saying why: $(cat "$T/err")"
	fi
}

# The chart labels every streamed size in bytes, KiB or MiB, whatever the
# order awk keeps them in, and draws the spin ring and the axis titles.
test_make_plot_labels_each_size_and_draws_the_references() {
	{
		head -n 1 "$ROOT/bench/results.csv"
		printf 'cacheline,cross-cpu,64,441,591,,,,,,\n'
		local b
		for b in 64 4096 65536 1048576; do
			printf 'spin-ring,cross-cpu,%s,,,1000,%s.0,,,,290\n' "$b" "$b"
			printf 'shm-spsc-ring,cross-cpu,%s,480,800,900,%s.0,0.0,0.0,0.9,280\n' "$b" "$b"
		done
	} > "$T/results.csv"
	printf 'ipc-bench: 2 CPUs usable (a test)\n' > "$T/machine"
	sh "$ROOT/bench/plot.sh" "$T/results.csv" "$T/machine" > "$T/chart.svg"
	local label
	for label in '64 B' '4 KiB' '64 KiB' '1 MiB'; do
		grep -q "class=\"tick\">$label<" "$T/chart.svg" || fail "no tick labelled $label"
	done
	! grep -q 'e-0[0-9] MiB\|0\.[0-9]* MiB' "$T/chart.svg" || fail "a size shown as a fraction of a MiB"
	grep -q 'spin-ring (limit)' "$T/chart.svg" || fail "no spin ring curve"
	grep -q 'message size (bytes, log scale)' "$T/chart.svg" || fail "no axis title"
	grep -q 'ipc-bench: 2 CPUs usable (a test)' "$T/chart.svg" || fail "no machine line"
}
