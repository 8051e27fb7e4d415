# shellcheck shell=bash
# 16-seqpacket-server / 16-seqpacket-client: one message per line, the
# reply reversed, and the caller's credentials, on a path or abstract name.

# answers [-a] NAME: a server accepts connections there (an empty client
# connects, checks the server's uid and leaves; it is served like any other).
answers() { "$BIN/16-seqpacket-client" "$@" < /dev/null > /dev/null 2>&1; }

# start_server [-a] NAME: a server in the background, its log in
# $T/server.err; sets $server and returns once it answers.
start_server() {
	spawn 16-seqpacket-server "$@" 2> "$T/server.err"
	server=$!
	wait_until answers "$@"
}

# stop_server: SIGTERM, which removes a socket file and kills the server.
stop_server() {
	kill -TERM "$server"
	finished "$server" $((128 + $(signum SIGTERM)))
}

# reversed FILE: what the server must send back for FILE.
reversed() { rev < "$1"; }


test_a_server_stopped_after_another_took_its_path_leaves_the_others_socket() {
	start_server "$T/s"
	# What a second server does when both found the same stale socket: it
	# removes the path the first has just bound, and binds its own there.
	rm "$T/s"
	python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' "$T/s"
	kill -TERM "$server"
	finished "$server" $((128 + $(signum SIGTERM)))
	[ -S "$T/s" ] || fail "the other server's socket was removed"
	rm "$T/s"
}
test_each_line_comes_back_reversed_as_rev_prints_it() {
	local mode name
	for mode in path abstract; do
		if [ $mode = path ]; then name=("$T/s"); else name=(-a "$ID"); fi
		start_server "${name[@]}"
		printf 'hello\nseqpacket world\n\n\nlast line without a newline' > "$T/in"
		run 16-seqpacket-client "${name[@]}" < "$T/in" > "$T/out"
		reversed "$T/in" | cmp - "$T/out" || fail "$mode: not what rev prints"
		seq 10000 > "$T/in"
		run 16-seqpacket-client "${name[@]}" < "$T/in" > "$T/out"
		reversed "$T/in" | cmp - "$T/out" || fail "$mode: 10000 lines"
		run 16-seqpacket-client "${name[@]}" < /dev/null > "$T/out"
		[ ! -s "$T/out" ] || fail "$mode: output for empty input"
		stop_server
	done
	[ ! -e "$T/s" ] || fail "the socket file is left"
}

test_nul_bytes_and_a_line_of_exactly_4096_bytes_come_back() {
	start_server "$T/s"
	printf 'a\0b\0\0c\n\377x\n' > "$T/in"
	printf 'c\0\0b\0a\nx\377\n' > "$T/expected"
	run 16-seqpacket-client "$T/s" < "$T/in" > "$T/out"
	same "$T/expected" "$T/out"
	{ head -c 4094 /dev/zero | tr '\0' a; printf 'b\n'; } > "$T/in"
	run 16-seqpacket-client "$T/s" < "$T/in" > "$T/out"
	reversed "$T/in" | cmp - "$T/out" || fail "the 4096-byte message"
	stop_server
}

test_a_message_over_4096_bytes_is_refused_with_a_reply_and_the_server_goes_on() {
	local size
	start_server "$T/s"
	for size in 4097 5000 70000; do
		{ printf 'short\n'; head -c $((size - 1)) /dev/zero | tr '\0' x; printf '\nnever sent\n'; } > "$T/in"
		if [ $size -gt 65536 ]; then
			expect_status 1 run 16-seqpacket-client "$T/s" < "$T/in" > "$T/out" 2> "$T/err"
			stderr_is "$T/err" "16-seqpacket-client: read standard input: a line over 64 KiB (split it)"
		else
			expect_status 1 run 16-seqpacket-client "$T/s" < "$T/in" > "$T/out" 2> "$T/err"
			stderr_is "$T/err" "16-seqpacket-client: server $T/s: message of $size bytes is over the 4096-byte limit"
			grep -q "^16-seqpacket-server: client pid [0-9]*: message of $size bytes is over the 4096-byte limit\$" \
				"$T/server.err" || fail "the server did not log it"
		fi
		printf 'trohs\n' | cmp - "$T/out" || fail "$size: wrong output"
	done
	printf 'next\n' | run 16-seqpacket-client "$T/s" > "$T/out"
	printf 'txen\n' | cmp - "$T/out" || fail "the next client was not served"
	stop_server
}

test_the_server_logs_each_callers_pid_and_uid() {
	start_server "$T/s"
	spawn 16-seqpacket-client "$T/s" < /dev/null
	local client=$!
	finished $client 0
	wait_until grep -q "^16-seqpacket-server: client pid $client uid $(id -u) connected\$" "$T/server.err"
	stop_server
}

test_another_user_is_kept_out_by_the_file_on_a_path_and_by_its_uid_on_an_abstract_name() {
	needs user-switch
	chmod 711 "$T"
	start_server "$T/s"
	expect_status 1 as_user 65534 "$BIN/16-seqpacket-client" "$T/s" <<< 'hi' > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect $T/s: $(errtext EACCES)"
	stop_server
	start_server -a "$ID"
	expect_status 1 as_user 65534 "$BIN/16-seqpacket-client" -a "$ID" <<< 'hi' > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect @$ID: the server is uid $(id -u), not 65534 (another user holds the name)"
	# The client refuses the server by itself and may end before the server
	# has logged: wait for the server's last line, then look at both.
	wait_until grep -q "^16-seqpacket-server: client pid [0-9]*: refused: uid 65534 is not $(id -u)\$" \
		"$T/server.err"
	grep -q "^16-seqpacket-server: client pid [0-9]* uid 65534 connected\$" "$T/server.err" ||
		fail "the other user did not get through to the server"
	[ ! -s "$T/out" ] || fail "the other user got a reply"
	stop_server
}

test_a_server_of_another_user_on_an_abstract_name_is_refused_by_the_client() {
	needs user-switch
	# exec: $! must be the server itself, for kill to reach it.
	(exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$BIN/16-seqpacket-server" -a "$ID" 2> "$T/server.err") &
	server=$!
	wait_until grep -q "@$ID\$" /proc/net/unix
	expect_status 1 run 16-seqpacket-client -a "$ID" <<< 'secret' > "$T/out" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect @$ID: the server is uid 65534, not $(id -u) (another user holds the name)"
	kill -TERM $server
	finished $server $((128 + $(signum SIGTERM)))
}

test_a_client_killed_mid_session_leaves_the_server_asleep() {
	start_server "$T/s"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 16-seqpacket-client "$T/s" < "$T/feed" > "$T/out" 3>&-
	local client=$! before after
	printf 'one\n' >&3
	wait_until grep -q eno "$T/out"
	kill -KILL $client
	finished $client $((128 + $(signum SIGKILL)))
	wait_until is_blocked "$server"
	# The unix(7) example spins here. A sleeping server uses no CPU time
	# (fields 14 and 15 of /proc/PID/stat, in clock ticks) over 0.3 s.
	before=$(awk '{print $14 + $15}' "/proc/$server/stat")
	sleep 0.3
	after=$(awk '{print $14 + $15}' "/proc/$server/stat")
	[ "$after" -le $((before + 1)) ] || fail "the server spent $((after - before)) ticks after the client died"
	printf 'two\n' | run 16-seqpacket-client "$T/s" > "$T/out"
	printf 'owt\n' | cmp - "$T/out" || fail "the next client was not served"
	stop_server
}

test_a_killed_server_makes_the_client_fail_loudly() {
	start_server "$T/s"
	mkfifo "$T/feed"
	exec 3<> "$T/feed"
	spawn 16-seqpacket-client "$T/s" < "$T/feed" > "$T/out" 2> "$T/err" 3>&-
	local client=$!
	printf 'one\n' >&3
	wait_until grep -q eno "$T/out"
	kill -KILL "$server"
	finished "$server" $((128 + $(signum SIGKILL)))
	printf 'two\n' >&3
	finished $client 1
	stderr_is "$T/err" "16-seqpacket-client: recv $T/s: the server closed the connection"
}

test_an_abstract_name_has_no_file_and_is_gone_with_its_server() {
	start_server -a "$ID"
	grep -q "@$ID\$" /proc/net/unix || fail "@$ID is not in /proc/net/unix"
	[ -z "$(find "$T" /tmp -maxdepth 1 -name "*$ID*" -print -quit)" ] || fail "a file was made"
	expect_status 1 run 16-seqpacket-server -a "$ID" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind @$ID: $(errtext EADDRINUSE) (another server is listening on it)"
	stop_server
	! grep -q "@$ID\$" /proc/net/unix || fail "@$ID outlived its server"
	expect_status 1 run 16-seqpacket-client -a "$ID" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect @$ID: $(errtext ECONNREFUSED) (is 16-seqpacket-server running?)"
}

test_a_path_is_handled_as_in_09() {
	start_server "$T/s"
	[ "$(stat -c %a "$T/s")" = 600 ] || fail "socket mode $(stat -c %a "$T/s")"
	expect_status 1 run 16-seqpacket-server "$T/s" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $T/s: another server is listening on it (stop it or pass another NAME)"
	kill -KILL "$server"
	finished "$server" $((128 + $(signum SIGKILL)))
	[ -S "$T/s" ] || fail "SIGKILL should have left the socket"
	start_server "$T/s"
	printf 'again\n' | run 16-seqpacket-client "$T/s" > "$T/out"
	printf 'niaga\n' | cmp - "$T/out" || fail "the stale socket was not replaced"
	stop_server
	[ ! -e "$T/s" ] || fail "SIGTERM left the socket"
	printf 'precious\n' > "$T/file"
	expect_status 1 run 16-seqpacket-server "$T/file" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $T/file: File exists and is not a socket (remove it or pass another NAME)"
	printf 'precious\n' | cmp - "$T/file" || fail "the file was touched"
	ln -s "$T/file" "$T/link"
	expect_status 1 run 16-seqpacket-server "$T/link" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $T/link: File exists and is not a socket (remove it or pass another NAME)"
	mkdir "$T/dir"
	expect_status 1 run 16-seqpacket-server "$T/dir" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $T/dir: $(errtext EISDIR) (pass the path of a socket)"
	expect_status 1 run 16-seqpacket-client "$T/nothing" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect $T/nothing: $(errtext ENOENT) (is 16-seqpacket-server running?)"
}

test_a_name_too_long_for_the_address_is_an_error() {
	local long
	long=$T/$(printf 'x%.0s' {1..120})
	expect_status 1 run 16-seqpacket-server "$long" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
	expect_status 1 run 16-seqpacket-client "$long" < /dev/null 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-client: connect $long: $(errtext ENAMETOOLONG) (a socket path must be shorter)"
	long=$(printf 'y%.0s' {1..108})
	expect_status 1 run 16-seqpacket-server -a "$long" 2> "$T/err"
	stderr_is "$T/err" "16-seqpacket-server: bind $long: $(errtext ENAMETOOLONG) (an abstract name has at most 107 bytes)"
}

test_a_closed_output_ends_the_client_quietly() {
	start_server "$T/s"
	seq 3000 > "$T/in"
	quiet_under_head 10 16-seqpacket-client "$T/s" < "$T/in"
	stop_server
}

test_usage_errors_exit_2() {
	local program bad
	for program in 16-seqpacket-server 16-seqpacket-client; do
		for bad in "a b" "-x" "-a a b" "-a -a"; do
			# shellcheck disable=SC2086 # each word of $bad is an argument
			expect_status 2 run $program $bad < /dev/null > "$T/out" 2> "$T/err"
			stderr_is "$T/err" "usage: $program [-a] [NAME]   (default NAME: /tmp/ipc-16-$(id -u).sock, with -a: ipc-16-$(id -u))"
		done
		expect_status 2 run $program '' < /dev/null 2> /dev/null
	done
}

# Started under nohup, an idle server keeps SIGHUP ignored.
test_a_sighup_ignored_at_the_start_stays_ignored() {
	RUN="$NOHUP ${RUN:-}" start_server "$T/s"
	wait_until is_blocked "$server"
	keeps_ignored "$server" HUP
	[ ! -e "$T/s" ] || fail "socket left behind"
}
