# shellcheck shell=bash
# 18-supervise: a time limit for a command, with signalfd and pidfds, and
# the same behaviour through the fallback where pidfds are missing.

# MODES: pidfd, as the kernel gives it; fallback, with pidfd_open failing
# with ENOSYS (strace's fault injection), as under valgrind or an old
# kernel. Under RUN (the valgrind gate) both use RUN, which has no pidfds.
MODES="pidfd fallback"
NO_PIDFD="strace -f -qq -o /dev/null -e inject=pidfd_open:error=ENOSYS"

# in_mode MODE COMMAND...: run COMMAND (which starts 18-supervise with run or
# spawn) in that mode.
in_mode() {
	local mode=$1
	shift
	if [ "$mode" = fallback ] && [ -z "${RUN:-}" ]; then
		needs cmd strace
		RUN=$NO_PIDFD "$@"
	else
		"$@"
	fi
}

# supervisor_of MODE PID: the pid of 18-supervise spawned as PID (under
# strace, its child).
supervisor_of() {
	if [ "$1" = fallback ] && [ -z "${RUN:-}" ]; then child_of "$2"; else echo "$2"; fi
}

sig() { echo $((128 + $(signum "$1"))); }

test_the_exit_status_or_the_signal_of_command_is_ours() {
	local mode
	for mode in $MODES; do
		in_mode "$mode" expect_status 0 run 18-supervise 10 true
		in_mode "$mode" expect_status 7 run 18-supervise 10 sh -c 'exit 7'
		in_mode "$mode" expect_status "$(sig SIGTERM)" run 18-supervise 10 sh -c 'kill -TERM $$'
		in_mode "$mode" expect_status "$(sig SIGKILL)" run 18-supervise 0 sh -c 'kill -KILL $$'
		in_mode "$mode" expect_status 0 run 18-supervise 10 sh -c 'for i in 1 2 3 4 5 6 7 8; do true & done; wait'
	done
}

test_the_time_limit_sends_sigterm_and_exits_124() {
	local mode started elapsed
	for mode in $MODES; do
		started=$(date +%s%N)
		in_mode "$mode" expect_status 124 run 18-supervise 0.5 sleep 10 2> "$T/err"
		elapsed=$((($(date +%s%N) - started) / 1000000))
		[ "$elapsed" -ge 500 ] || fail "$mode: signalled after $elapsed ms, before 0.5 s"
		stderr_is "$T/err" "18-supervise: sleep still running after 0.5 s: sent signal $(signum SIGTERM)"
	done
}

test_s_sends_another_signal() {
	local mode
	for mode in $MODES; do
		# A second: time enough for sh to set its trap, even under valgrind.
		in_mode "$mode" expect_status 124 run 18-supervise -s INT 1 \
			sh -c 'trap "echo INT; exit 0" INT; while :; do sleep 0.05; done' > "$T/out" 2> "$T/err"
		echo INT | cmp - "$T/out" || fail "$mode: the command did not get SIGINT"
		stderr_is "$T/err" "18-supervise: sh still running after 1 s: sent signal $(signum SIGINT)"
		in_mode "$mode" expect_status "$(sig SIGKILL)" run 18-supervise -s KILL 0.2 sleep 10 2> /dev/null
		in_mode "$mode" expect_status 124 run 18-supervise -s "$(signum SIGUSR1)" 0.2 sleep 10 2> "$T/err"
		stderr_is "$T/err" "18-supervise: sleep still running after 0.2 s: sent signal $(signum SIGUSR1)"
	done
}

test_k_kills_a_command_that_ignores_the_signal() {
	local mode
	for mode in $MODES; do
		in_mode "$mode" expect_status "$(sig SIGKILL)" run 18-supervise -k 0.3 1 \
			sh -c 'trap "" TERM; exec sleep 10' 2> "$T/err"
		{
			echo "18-supervise: sh still running after 1 s: sent signal $(signum SIGTERM)"
			echo "18-supervise: sh still running 0.3 s after that: sent signal $(signum SIGKILL)"
		} | diff -u - "$T/err" >&2 || fail "$mode: wrong messages"
	done
}

test_k_0_sends_no_sigkill_as_timeout_does() {
	local mode spawned supervisor
	for mode in $MODES; do
		in_mode "$mode" spawn 18-supervise -k 0 1 sh -c 'trap "" TERM; exec sleep 30' 2> "$T/err"
		spawned=$!
		supervisor=$(supervisor_of "$mode" $spawned)
		wait_until grep -q 'sent signal' "$T/err"
		# A SIGKILL after 0 s would come at once: a moment lets it.
		sleep 0.3
		! exited "$supervisor" || fail "$mode: -k 0 sent SIGKILL: $(cat "$T/err")"
		kill -KILL "$(child_of "$supervisor")"
		finished $spawned "$(sig SIGKILL)"
		stderr_is "$T/err" "18-supervise: sh still running after 1 s: sent signal $(signum SIGTERM)"
	done
}

test_s_takes_the_signal_numbers_a_c_library_keeps_below_sigrtmin() {
	local mode number
	# The kernel's 32 to 34, which glibc (32, 33) or musl (32 to 34) keep
	# for themselves. COMMAND may have inherited them ignored (glibc's
	# posix_spawn, in make, ignores 32 and 33 for its child), which only a
	# raw rt_sigaction undoes: an all-zero action is the default on every
	# architecture. Then sleep dies of each; with -k: not sent, not 124.
	cat > "$T/default.c" <<-'EOF'
		#include <signal.h>
		#include <sys/syscall.h>
		#include <unistd.h>
		int main(int argc, char *argv[])
		{
			unsigned long action[8] = { 0 };
			for (int sig = 32; sig <= 34; sig++)
				if (syscall(SYS_rt_sigaction, sig, action, NULL, _NSIG / 8) == -1)
					return 125;
			if (argc > 1)
				execvp(argv[1], argv + 1);
			return 127;
		}
	EOF
	"${CC:-cc}" -o "$T/default" "$T/default.c" || fail "cannot build a helper with ${CC:-cc}"
	for mode in $MODES; do
		for number in 32 33 34; do
			in_mode "$mode" expect_status 124 run 18-supervise -s $number -k 10 0.5 \
				"$T/default" sleep 30 2> "$T/err"
			stderr_is "$T/err" "18-supervise: $T/default still running after 0.5 s: sent signal $number"
		done
	done
}

test_sigint_sigterm_and_sighup_are_passed_on() {
	local mode signal spawned supervisor
	# Job control: a background job that is not its own group has SIGINT
	# ignored, and a shell cannot trap a signal ignored on entry.
	set -m
	for mode in $MODES; do
		for signal in INT TERM HUP; do
			: > "$T/out"
			in_mode "$mode" spawn 18-supervise 0 sh -c \
				'trap "echo got $1; exit 3" "$1"; echo ready; while :; do sleep 0.05; done' _ "$signal" > "$T/out"
			spawned=$!
			supervisor=$(supervisor_of "$mode" $spawned)
			wait_until grep -q ready "$T/out"
			kill -s "$signal" "$supervisor"
			finished $spawned 3
			printf 'ready\ngot %s\n' "$signal" | cmp - "$T/out" || fail "$mode $signal: wrong output"
		done
	done
}

test_a_signal_ignored_at_our_start_stays_ignored_and_is_not_passed_on() {
	needs cmd perl
	local mode spawned supervisor
	# perl, unlike sh, can catch a signal ignored at its start (nohup's
	# SIGHUP); its status says which signal reached it.
	for mode in $MODES; do
		: > "$T/out"
		trap '' HUP
		in_mode "$mode" spawn 18-supervise 0 perl -e '$| = 1;
			$SIG{HUP} = sub { print "HUP\n"; exit 3 }; $SIG{TERM} = sub { print "TERM\n"; exit 4 };
			print "ready\n"; sleep 1 while 1' > "$T/out"
		spawned=$!
		trap - HUP
		supervisor=$(supervisor_of "$mode" $spawned)
		wait_until grep -q ready "$T/out"
		kill -HUP "$supervisor"
		kill -TERM "$supervisor"
		finished $spawned 4
		printf 'ready\nTERM\n' | cmp - "$T/out" || fail "$mode: SIGHUP was passed on"
	done
}

# unbounded PROGRAM ARGS...: start one example as run does, but not under
# timeout(1), which would set SIGCHLD back to its default (the runner's
# time limit bounds the case).
# shellcheck disable=SC2086 # RUN is a command prefix and must be split
unbounded() { ${RUN:-} "$BIN/$1" "${@:2}"; }

test_an_ignored_sigchld_cannot_reap_command_and_command_gets_it_back() {
	local mode
	(trap '' CHLD && grep '^SigIgn' /proc/self/status) > "$T/want"
	for mode in $MODES; do
		(trap '' CHLD && in_mode "$mode" unbounded 18-supervise 10 grep '^SigIgn' /proc/self/status) \
			> "$T/got" 2> "$T/err" || fail "$mode: exited $?: $(cat "$T/err")"
		[ ! -s "$T/err" ] || fail "$mode: not quiet: $(cat "$T/err")"
		# valgrind (RUN) gives SIGCHLD's default at exec to any program.
		[ -n "${RUN:-}" ] || same "$T/want" "$T/got"
	done
}

test_command_starts_with_no_signal_blocked() {
	local mode
	for mode in $MODES; do
		in_mode "$mode" run 18-supervise 10 grep SigBlk /proc/self/status > "$T/out"
		printf 'SigBlk:\t0000000000000000\n' | cmp - "$T/out" || fail "$mode: $(cat "$T/out")"
	done
}

test_a_supervisor_killed_with_sigkill_takes_command_with_it() {
	local mode spawned supervisor command
	for mode in $MODES; do
		in_mode "$mode" spawn 18-supervise 0 sleep 30
		spawned=$!
		supervisor=$(supervisor_of "$mode" $spawned)
		command=$(child_of "$supervisor")
		wait_until grep -q '^Name:.*sleep' "/proc/$command/status"
		kill -KILL "$supervisor"
		finished $spawned "$(sig SIGKILL)"
		wait_until exited "$command"
	done
}

test_a_supervisor_dead_before_the_death_signal_was_set_never_runs_command() {
	needs cmd strace
	# strace holds the child at the entry of its prctl(PR_SET_PDEATHSIG,
	# SIGKILL) for as long as it runs (-I1: and lets SIGTERM end it). The
	# supervisor dies in that window, then strace lets the prctl go: the
	# death signal comes too late, and only getppid can stop COMMAND.
	RUN="strace -I1 -f -qq -o /dev/null -e inject=prctl:delay_enter=60000000" \
		spawn 18-supervise 0 touch "$T/ran" 2> "$T/err"
	local spawned=$! supervisor child
	supervisor=$(child_of $spawned)
	child=$(child_of "$supervisor")
	wait_until grep -q "^[0-9]* 0x1 $(printf '0x%x' "$(signum SIGKILL)") " "/proc/$child/syscall"
	kill -KILL "$supervisor"
	wait_until eval '! grep -q "^PPid:[[:space:]]*$supervisor\$" "/proc/$child/status"'
	kill -TERM $spawned
	finished $spawned "$(sig SIGTERM)"
	wait_until exited "$child"
	[ ! -e "$T/ran" ] || fail "COMMAND ran without its supervisor"
	[ ! -s "$T/err" ] || fail "not quiet: $(cat "$T/err")"
}

test_a_command_that_cannot_be_run_gives_127_or_126() {
	local mode
	: > "$T/plain"
	for mode in $MODES; do
		in_mode "$mode" expect_status 127 run 18-supervise 10 "$T/nonexistent" 2> "$T/err"
		stderr_is "$T/err" "18-supervise: exec $T/nonexistent: $(errtext ENOENT)"
		in_mode "$mode" expect_status 126 run 18-supervise 10 "$T/plain" 2> "$T/err"
		stderr_is "$T/err" "18-supervise: exec $T/plain: $(errtext EACCES)"
	done
}

test_a_control_byte_in_the_command_name_cannot_forge_a_line() {
	local mode
	for mode in $MODES; do
		in_mode "$mode" expect_status 127 run 18-supervise 10 "$T/no"$'\n'"such" 2> "$T/err"
		stderr_is "$T/err" "18-supervise: exec $T/no\\012such: $(errtext ENOENT)"
	done
	printf '#!/bin/sh\nexec sleep 10\n' > "$T/sl"$'\033'"eep"
	chmod +x "$T/sl"$'\033'"eep"
	expect_status 124 run 18-supervise 0.1 "$T/sl"$'\033'"eep" 2> "$T/err"
	stderr_is "$T/err" \
		"18-supervise: $T/sl\\033eep still running after 0.1 s: sent signal $(signum SIGTERM)"
}

test_a_closed_output_ends_command_and_us_quietly() {
	quiet_under_head 10 18-supervise 10 yes
}

test_bad_usage_exits_2() {
	local usage bad
	usage="usage: 18-supervise [-s SIGNAL] [-k SECONDS] SECONDS COMMAND [ARG...]   (SIGNAL: TERM by default, a name or a number; SECONDS: 0 to 1000000)"
	for bad in "" "10" "-s BOGUS 1 true" "-s 0 1 true" "-s 99 1 true" "-k x 1 true" \
		"-1 true" "x true" "1x true" "-k" "-s" "2000000 true" "inf true" "-x 1 true"; do
		# shellcheck disable=SC2086 # each word of $bad is an argument
		expect_status 2 run 18-supervise $bad > "$T/out" 2> "$T/err"
		stderr_is "$T/err" "$usage"
		[ ! -s "$T/out" ] || fail "output for '$bad'"
	done
}
