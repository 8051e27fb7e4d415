# shellcheck shell=bash
# 09-unix-server / 09-unix-client: an echo server on a Unix domain socket.

# answers PATH: a server accepts connections there. The socket file appears
# at bind(), a moment before listen(), so its existence alone is not enough;
# an empty client is the honest check (and is served like any other).
answers() { [ -S "$1" ] && "$BIN/09-unix-client" "$1" < /dev/null > /dev/null 2>&1; }

# start_server PATH: a server in the background, its stderr in $T/server.err;
# sets $server to its pid and returns once it answers.
start_server() {
	spawn 09-unix-server "$1" 2> "$T/server.err"
	server=$!
	wait_until answers "$1"
}

# stop_server PATH: SIGTERM, which must remove the socket and kill the server.
stop_server() {
	kill -TERM "$server"
	finished "$server" $((128 + $(signum SIGTERM)))
	[ ! -e "$1" ] || fail "socket left behind"
}


test_a_server_stopped_after_another_took_its_path_leaves_the_others_socket() {
	start_server "$T/s"
	# What a second server does when both found the same stale socket: it
	# removes the path the first has just bound, and binds its own there.
	rm "$T/s"
	python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(sys.argv[1])' "$T/s"
	kill -TERM "$server"
	finished "$server" $((128 + $(signum SIGTERM)))
	[ -S "$T/s" ] || fail "the other server's socket was removed"
	rm "$T/s"
}
test_text_comes_back_unchanged() {
	printf 'hello through a Unix socket\n' > "$T/in"
	start_server "$T/s"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
	[ ! -s "$T/server.err" ] || fail "the server was not quiet"
}

test_100_MB_of_binary_data_come_back_without_deadlock() {
	local big
	big=$(input big 100000000)
	start_server "$T/s"
	run 09-unix-client "$T/s" < "$big" > "$T/out"
	same "$big" "$T/out"
	stop_server "$T/s"
}

test_empty_input_gives_empty_output() {
	start_server "$T/s"
	run 09-unix-client "$T/s" < /dev/null > "$T/out"
	[ ! -s "$T/out" ] || fail "output not empty"
	stop_server "$T/s"
}

test_nul_bytes_and_line_ends_survive() {
	printf 'a\0b\0\0c\r\n\0\377' > "$T/in"
	start_server "$T/s"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_several_clients_one_after_another() {
	local i
	start_server "$T/s"
	for i in 1 2 3 4 5; do
		head -c $((i * 70000)) "$(input small-a 300000)" > "$T/in"
		run 09-unix-client "$T/s" < "$T/in" > "$T/out"
		same "$T/in" "$T/out"
	done
	stop_server "$T/s"
}

test_a_second_client_waits_for_the_first() {
	start_server "$T/s"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 09-unix-client "$T/s" < "$T/feed" > "$T/out-1" 3>&-
	local first=$!
	printf 'first\n' >&3
	wait_until test -s "$T/out-1"
	printf 'second\n' > "$T/in-2"
	spawn 09-unix-client "$T/s" < "$T/in-2" > "$T/out-2" 3>&-
	local second=$!
	wait_until is_blocked $second
	[ ! -s "$T/out-2" ] || fail "the second client was served during the first"
	exec 3>&-
	finished $first 0
	finished $second 0
	printf 'first\n' | cmp - "$T/out-1" || fail "first client: wrong output"
	printf 'second\n' | cmp - "$T/out-2" || fail "second client: wrong output"
	stop_server "$T/s"
}

test_a_client_with_no_server_gets_a_clear_error() {
	expect_status 1 run 09-unix-client "$T/s" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: connect $T/s: $(errtext ENOENT) (is 09-unix-server running?)"
	[ ! -e "$T/s" ] || fail "the client made a file"
}

test_usage_errors_exit_2() {
	expect_status 2 run 09-unix-server a b 2> "$T/err"
	stderr_is "$T/err" "usage: 09-unix-server [PATH]   (default PATH: /tmp/ipc-09-$(id -u).sock)"
	expect_status 2 run 09-unix-client -x < /dev/null 2> "$T/err"
	stderr_is "$T/err" "usage: 09-unix-client [PATH]   (default PATH: /tmp/ipc-09-$(id -u).sock)"
	expect_status 2 run 09-unix-server '' 2> /dev/null
	expect_status 2 run 09-unix-client '' < /dev/null 2> /dev/null
}

test_a_path_too_long_for_a_socket_address_is_a_clear_error() {
	local long
	long=$T/$(printf 'x%.0s' {1..120})
	expect_status 1 run 09-unix-server "$long" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
	expect_status 1 run 09-unix-client "$long" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: connect $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
	[ ! -e "${long:0:107}" ] || fail "a truncated path was bound"
}

test_a_regular_file_at_path_is_refused_and_left_untouched() {
	printf 'precious\n' > "$T/file"
	cp "$T/file" "$T/orig"
	expect_status 1 run 09-unix-server "$T/file" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/file: File exists and is not a socket (remove it or pass another PATH)"
	same "$T/orig" "$T/file"
}

test_a_symlink_to_a_stale_socket_is_refused() {
	start_server "$T/real"
	kill -KILL "$server"
	finished "$server" 137
	ln -s "$T/real" "$T/link"
	expect_status 1 run 09-unix-server "$T/link" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/link: File exists and is not a socket (remove it or pass another PATH)"
	[ -L "$T/link" ] && [ -S "$T/real" ] || fail "something was removed"
}

test_a_stale_socket_left_by_a_killed_server_is_replaced() {
	start_server "$T/s"
	kill -KILL "$server"
	finished "$server" 137
	[ -S "$T/s" ] || fail "SIGKILL should have left the socket"
	expect_status 1 run 09-unix-client "$T/s" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: connect $T/s: $(errtext ECONNREFUSED) (is 09-unix-server running?)"
	printf 'after the crash\n' > "$T/in"
	start_server "$T/s"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_a_live_server_is_not_stolen() {
	start_server "$T/s"
	local first=$server
	expect_status 1 run 09-unix-server "$T/s" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/s: another server is listening on it (stop it or pass another PATH)"
	printf 'still mine\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	server=$first
	stop_server "$T/s"
}

test_a_socket_of_another_user_is_refused_and_left_alone() {
	needs user-switch
	chmod 711 "$T"
	mkdir -m 1777 "$T/shared"
	setpriv --reuid=12345 --regid=12345 --clear-groups -- \
		"$BIN/09-unix-server" "$T/shared/s" 2> /dev/null &
	local other=$!
	wait_until test -S "$T/shared/s"
	kill -KILL $other
	finished $other 137
	expect_status 1 as_user 12346 "$BIN/09-unix-server" "$T/shared/s" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/shared/s: Socket exists and belongs to another user (pass another PATH)"
	[ "$(stat -c %u "$T/shared/s")" = 12345 ] || fail "the socket was replaced"
}

test_the_socket_is_private_to_its_owner() {
	start_server "$T/s"
	[ "$(stat -c %a "$T/s")" = 600 ] || fail "socket mode is $(stat -c %a "$T/s")"
	stop_server "$T/s"
}

test_a_client_that_vanishes_mid_stream_does_not_bring_the_server_down() {
	needs cmd perl # for a client that never reads
	start_server "$T/s"
	# Sends for ever and never reads, so bytes are in flight when it dies.
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
		syswrite($s, "x" x 65536) or die "send: $!";
		print "sent\n"; STDOUT->flush;
		1 while syswrite($s, "x" x 65536);' "$T/s" > "$T/perl" &
	local vanishing=$!
	wait_until test -s "$T/perl"
	kill -KILL $vanishing
	finished $vanishing 137
	wait_until test -s "$T/server.err"
	# Whether the server was reading, writing or blocked in a write when the
	# peer died decides which call notices and how; either way, one line and
	# on to the next client.
	grep -Fxq -e "09-unix-server: send $T/s: $(errtext EPIPE) (client gone; serving the next one)" \
		-e "09-unix-server: send $T/s: $(errtext ECONNRESET) (client gone; serving the next one)" \
		-e "09-unix-server: recv $T/s: $(errtext ECONNRESET) (client gone; serving the next one)" "$T/server.err" ||
		fail "unexpected message: $(cat "$T/server.err")"
	printf 'next\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	[ "$(wc -l < "$T/server.err")" = 1 ] || fail "more than one line on stderr"
	stop_server "$T/s"
}

test_a_closed_standard_output_ends_the_client_quietly() {
	local big
	big=$(input big 100000000)
	start_server "$T/s"
	quiet_under_head 10 09-unix-client "$T/s" < "$big"
	head -c 10 "$big" | cmp - "$T/head.out" || fail "head got the wrong bytes"
	printf 'next\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_a_killed_server_makes_the_client_fail_loudly() {
	start_server "$T/s"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 09-unix-client "$T/s" < "$T/feed" > "$T/out" 2> "$T/err"
	local client=$!
	printf 'part\n' >&3
	wait_until test -s "$T/out"
	kill -KILL "$server"
	finished "$server" 137
	finished $client 1
	stderr_is "$T/err" "09-unix-client: recv $T/s: the server closed the connection before the end"
	rm "$T/s"
}

test_sigterm_on_a_server_busy_with_a_stalled_client_removes_the_socket_and_kills_it() {
	start_server "$T/s"
	# The client's output goes nowhere, so the server ends up blocked
	# sending to it: the signal must still get through.
	stall_output
	spawn 09-unix-client "$T/s" < /dev/zero > "$STALL"
	wait_until is_blocked $!
	wait_until is_blocked "$server"
	stop_server "$T/s"
}

test_a_client_reading_a_terminal_says_how_to_end_the_input() {
	needs cmd script # for a terminal
	start_server "$T/s"
	# script gives the client a terminal; its input at once ends (Ctrl-D).
	script -qec "$BIN/09-unix-client $T/s" /dev/null < /dev/null | tr -d '\r' > "$T/err"
	stderr_is "$T/err" "09-unix-client: reading standard input; end it with Ctrl-D"
	stop_server "$T/s"
}

test_a_second_server_is_refused_at_once_while_the_backlog_is_full() {
	start_server "$T/s"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	# The first client is served and never ends; the next ones fill the
	# backlog (8), and the rest wait in connect for a place in it.
	local i clients=()
	for i in $(seq 20); do
		spawn 09-unix-client "$T/s" < "$T/feed" > /dev/null 2>&1 3>&-
		clients+=($!)
	done
	for i in "${clients[@]}"; do wait_until is_blocked "$i"; done
	expect_status 1 run 09-unix-server "$T/s" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/s: another server is listening on it (stop it or pass another PATH)"
	[ -S "$T/s" ] || fail "the live server's socket is gone"
	stop_server "$T/s"
}

test_a_server_started_with_1100_descriptors_open_still_serves() {
	# Descriptors 3 to 1100 taken, so the server's own are past
	# FD_SETSIZE (1024), which select could not watch; it uses none. The
	# soft limit is often 1024: raised to the hard limit, which anyone may.
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge 1200 ] ||
		skip "the hard limit on open files ($hard, ulimit -Hn) is below 1200"
	(
		ulimit -n "$hard"
		for fd in $(seq 3 1100); do eval "exec $fd< /dev/null"; done
		exec ${RUN:-} "$BIN/09-unix-server" "$T/s"
	) 2> "$T/server.err" &
	server=$!
	wait_until answers "$T/s"
	local lowest
	lowest=$(find "/proc/$server/fd" -lname 'socket:*' -printf '%f\n' | sort -n | head -n 1)
	[ "$lowest" -ge 1024 ] || fail "the listener is descriptor $lowest, below FD_SETSIZE"
	printf 'from high descriptors\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
	[ ! -s "$T/server.err" ] || fail "the server was not quiet"
}

test_a_client_with_standard_input_closed_fails_and_frees_the_server() {
	start_server "$T/s"
	# Not under $RUN: valgrind would take descriptor 0 for its log.
	expect_status 1 timeout -k 2 "$TMO" "$BIN/09-unix-client" "$T/s" <&- > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: read standard input: $(errtext EBADF)"
	[ ! -s "$T/out" ] || fail "output not empty"
	printf 'next\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_a_client_with_standard_output_closed_fails_loudly() {
	start_server "$T/s"
	printf 'nowhere to go\n' > "$T/in"
	# Not under $RUN: valgrind opens its log at the lowest free descriptor,
	# 1 here, so under it standard output would not be closed at all.
	expect_status 1 timeout -k 2 "$TMO" "$BIN/09-unix-client" "$T/s" < "$T/in" >&- 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: write standard output: $(errtext EBADF)"
	printf 'next\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_accept_out_of_descriptors_is_reported_and_the_server_goes_on() {
	needs cmd prlimit # to lower a running server's limit
	start_server "$T/s"
	# Lower the server's limit to its lowest free descriptor: accept has
	# none left to give.
	local lowest=0 soft
	while [ -e "/proc/$server/fd/$lowest" ]; do lowest=$((lowest + 1)); done
	soft=$(prlimit --pid "$server" --nofile --output SOFT --noheadings)
	prlimit --pid "$server" --nofile="$lowest:"
	printf 'late\n' > "$T/in"
	spawn 09-unix-client "$T/s" < "$T/in" > "$T/out"
	local client=$!
	wait_until test -s "$T/server.err"
	prlimit --pid "$server" --nofile="$soft:"
	finished $client 0
	same "$T/in" "$T/out"
	# A try a second: a server that spun would have written thousands.
	local lines
	lines=$(wc -l < "$T/server.err")
	[ "$lines" -le 5 ] || fail "$lines lines on stderr: the server spins"
	if grep -qvxF "09-unix-server: accept $T/s: $(errtext EMFILE) (trying again in a second)" "$T/server.err"; then
		fail "unexpected message: $(cat "$T/server.err")"
	fi
	stop_server "$T/s"
}

test_a_server_started_with_standard_descriptors_closed_keeps_them_for_itself() {
	# Not under $RUN: valgrind would take the closed descriptors for itself.
	"$BIN/09-unix-server" "$T/s" <&- >&- 2>&- &
	server=$!
	wait_until answers "$T/s"
	local fd
	for fd in 0 1 2; do
		[ "$(readlink "/proc/$server/fd/$fd")" = /dev/null ] ||
			fail "descriptor $fd is $(readlink "/proc/$server/fd/$fd"), not /dev/null"
	done
	# Else the listener and each client's socket would take 0 and 1, the
	# standard streams; with them held, it serves and sleeps as usual.
	printf 'first\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	wait_until is_blocked "$server"
	printf 'second\n' > "$T/in"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

test_a_directory_at_path_is_refused_as_a_directory() {
	mkdir "$T/dir"
	expect_status 1 run 09-unix-server "$T/dir" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/dir: $(errtext EISDIR) (pass the path of a socket)"
	expect_status 1 run 09-unix-client "$T/dir" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: connect $T/dir: $(errtext EISDIR) (pass the path of a socket)"
	[ -d "$T/dir" ] || fail "the directory is gone"
}

test_a_path_with_a_newline_cannot_forge_a_second_error_line() {
	local path=$T/no$'\n'where/s
	expect_status 1 run 09-unix-server "$path" 2> "$T/err"
	stderr_is "$T/err" "09-unix-server: bind $T/no\\012where/s: $(errtext ENOENT)"
	expect_status 1 run 09-unix-client "$path" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "09-unix-client: connect $T/no\\012where/s: $(errtext ENOENT) (is 09-unix-server running?)"
}

# killed_by SIGNAL: an idle server stopped by a fatal signal removes its
# socket and dies of that signal.
killed_by() {
	start_server "$T/s"
	wait_until is_blocked "$server"
	kill -n "$(signum "$1")" "$server"
	finished "$server" $((128 + $(signum "$1")))
	[ ! -e "$T/s" ] || fail "socket left behind after $1"
}

test_sigint_removes_the_socket_and_kills_the_server() { killed_by SIGINT; }
test_sighup_removes_the_socket_and_kills_the_server() { killed_by SIGHUP; }
test_sigquit_removes_the_socket_and_kills_the_server() { killed_by SIGQUIT; }
test_sigusr1_removes_the_socket_and_kills_the_server() { killed_by SIGUSR1; }
test_a_real_time_signal_removes_the_socket_and_kills_the_server() { killed_by SIGRTMIN+1; }

test_a_client_past_the_file_size_limit_reports_it_and_the_server_goes_on() {
	start_server "$T/s"
	head -c 100000 "$(input small-a 300000)" > "$T/in"
	# One block of 1024 bytes: SIGXFSZ, ignored, makes write fail instead.
	# Not under $RUN: valgrind's own log would pass the limit.
	(
		ulimit -f 1
		expect_status 1 timeout -k 2 "$TMO" "$BIN/09-unix-client" "$T/s" < "$T/in" > "$T/out" 2> "$T/err"
	)
	stderr_is "$T/err" "09-unix-client: write standard output: $(errtext EFBIG)"
	head -c 1024 "$T/in" | cmp - "$T/out" || fail "the output is not the first 1024 bytes"
	run 09-unix-client "$T/s" < "$T/in" > "$T/out"
	same "$T/in" "$T/out"
	stop_server "$T/s"
}

# Started under nohup, an idle server keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	RUN="$NOHUP ${RUN:-}" start_server "$T/s"
	wait_until is_blocked "$server"
	keeps_ignored "$server" HUP
	[ ! -e "$T/s" ] || fail "socket left behind"
}
