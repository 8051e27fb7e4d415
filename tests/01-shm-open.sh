# shellcheck shell=bash
# 01-shm-open / 01-shm-unlink: create and remove a POSIX shared memory object.

test_open_creates_an_empty_0600_object_and_unlink_removes_it() {
	run 01-shm-open "/$ID" > "$T/out"
	printf '%s\n' "created shared memory object /$ID (0 bytes, mode 0600)" \
		"on Linux it is the file /dev/shm/$ID; remove it with ./01-shm-unlink /$ID" |
		diff -u - "$T/out" >&2 || fail "wrong output"
	[ "$(stat -c '%s %a %u' "/dev/shm/$ID")" = "0 600 $(id -u)" ] || fail "wrong size, mode or owner"
	run 01-shm-unlink "/$ID" > "$T/out"
	echo "removed shared memory object /$ID" | cmp - "$T/out" || fail "wrong output"
	[ ! -e "/dev/shm/$ID" ] || fail "object still there"
}

test_an_existing_name_is_an_error_and_is_left_alone() {
	printf 'keep me' > "/dev/shm/$ID"
	expect_status 1 run 01-shm-open "/$ID" 2> "$T/err"
	stderr_is "$T/err" "01-shm-open: shm_open /$ID: File exists (remove it with ./01-shm-unlink /$ID)"
	[ "$(cat "/dev/shm/$ID")" = "keep me" ] || fail "object changed"
	run 01-shm-unlink "/$ID" > /dev/null
}

test_unlinking_a_missing_name_is_a_clear_error() {
	expect_status 1 run 01-shm-unlink "/$ID" 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: shm_unlink /$ID: No such file or directory (nothing to remove; check the name with ls /dev/shm)"
}

test_malformed_names_and_extra_arguments_are_usage_errors() {
	local usage name
	usage="usage: 01-shm-open [NAME]   (default NAME: /ipc-01-$(id -u))"
	for name in "$ID" "/$ID/x" / '' "/$(printf '%0300d' 0)"; do
		expect_status 2 run 01-shm-open "$name" 2> "$T/err"
		stderr_is "$T/err" "$usage"
	done
	expect_status 2 run 01-shm-open "/$ID" extra 2> "$T/err"
	stderr_is "$T/err" "$usage"
	expect_status 2 run 01-shm-unlink "$ID" 2> "$T/err"
	stderr_is "$T/err" "usage: 01-shm-unlink [NAME]   (default NAME: /ipc-01-$(id -u))"
}

test_another_users_object_cannot_be_removed() {
	as_user 12345 "$BIN/01-shm-open" "/$ID" > /dev/null
	expect_status 1 as_user 12346 "$BIN/01-shm-unlink" "/$ID" 2> "$T/err"
	stderr_is "$T/err" "01-shm-unlink: shm_unlink /$ID: Permission denied"
	[ -e "/dev/shm/$ID" ] || fail "removed"
	as_user 12345 "$BIN/01-shm-unlink" "/$ID" > /dev/null
}
