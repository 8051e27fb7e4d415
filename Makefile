# Builds every numbered example (NN-*.c), one standalone program per file.
# See README.md: `make demo` runs them all in order, `make test` tests them.
#
# CC, CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are yours to override; what the
# code itself needs (the C standard, feature macros in each source file,
# the libraries) lives in variables of its own so an override cannot break it.

CC       ?= cc
CFLAGS   ?= -O2 -g
STD       = -std=c11
WARNINGS  = -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wwrite-strings \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef -Wcast-align
# `make WERROR=-Werror` turns warnings into errors, as CI does.
WERROR   ?=
# -lrt: shm_open and mq_open live in librt on glibc before 2.34 and on some
# other systems; -pthread: process-shared semaphores.
IPC_LIBS  = -lrt -pthread

# Programs are built beside their sources unless BINDIR says otherwise
# (the sanitizer builds of `make check` go to build/).
BINDIR   ?= .
SOURCES  := $(sort $(wildcard [0-9][0-9]-*.c))
PROGRAMS := $(SOURCES:%.c=$(BINDIR)/%)

.PHONY: all test demo clean FORCE
all: $(PROGRAMS)

$(BINDIR)/%: %.c $(BINDIR)/.build-flags
	$(CC) $(STD) $(WARNINGS) $(WERROR) $(CPPFLAGS) $(CFLAGS) -pthread $(LDFLAGS) -o $@ $< $(LDLIBS) $(IPC_LIBS)

# A change of compiler or of any build variable rebuilds what it affects:
# DIR/.build-flags holds the variables as the last build in DIR used them,
# and is rewritten (so becomes newer than the programs) only when they
# change. Each BINDIR is also listed in .bindirs, for `make clean`.
BUILD_VARIABLES = $(CC) | $(STD) $(WARNINGS) $(WERROR) | $(CPPFLAGS) | $(CFLAGS) | $(LDFLAGS) | $(LDLIBS) $(IPC_LIBS)
define remember_build
	@mkdir -p '$(@D)'
	@line='$(subst ','"'"',$(BUILD_VARIABLES))'; \
	[ "$$(cat '$@' 2> /dev/null)" = "$$line" ] || printf '%s\n' "$$line" > '$@'
endef
$(BINDIR)/.build-flags: FORCE
	$(remember_build)
	@dir=$$(cd '$(@D)' && pwd) && \
	{ grep -qxF "$$dir" .bindirs 2> /dev/null || printf '%s\n' "$$dir" >> .bindirs; }
# The benchmark's own (it is built in bench/ whatever BINDIR says).
bench/ipc-bench: bench/.build-flags
bench/.build-flags: FORCE
	$(remember_build)

# The suite runs the programs in $(BINDIR); RUN, when set, prefixes every
# program the tests start (the valgrind gate of `make check` uses it).
test: all bench/ipc-bench
	CC='$(CC)' BIN='$(BINDIR)' bash tests/run.sh

# The README's console sessions, in order, with names of their own.
demo: all
	BIN='$(BINDIR)' bash tests/transcripts.sh demo README.md

# `make check`: the test suite (`make test`, as a gate), then every other
# gate of tests/check/, one line each (Contributing); `make check-NAME`
# runs one, e.g. `make check-asan`. check-lint is cppcheck and clang-tidy.
CHECKS = suite shell strict build cppcheck tidy asan valgrind
.PHONY: check check-lint $(CHECKS:%=check-%)
# Every gate that runs the suite runs bench/README.md's session too.
check $(CHECKS:%=check-%): all bench/ipc-bench
check:
	@CC='$(CC)' BIN='$(BINDIR)' bash tests/check/all.sh $(CHECKS)
check-lint:
	@bash tests/check/all.sh cppcheck tidy
$(CHECKS:%=check-%): check-%:
	@CC='$(CC)' BIN='$(BINDIR)' bash tests/check/$*.sh

# The benchmark: `make bench` builds bench/ipc-bench and runs it, with
# BENCH_ARGS if set (e.g. BENCH_ARGS=--quick); `make plot` draws
# bench/results.svg from bench/results.csv, measuring first if there is none;
# `make bench-peers` measures the peer middleware beside our rings
# (bench/peers/, bench/README.md). The benchmark is several files and one
# header (bench/ipc-bench.h lists them): any of them changed rebuilds it.
# The header alone is preprocessed first: a compiler without C11 atomics
# stops there, with one line.
BENCH_ARGS ?=
BENCH_SOURCES := $(sort $(wildcard bench/*.c))
.PHONY: bench plot bench-peers
bench/ipc-bench: $(BENCH_SOURCES) bench/ipc-bench.h
	@$(CC) $(STD) $(CPPFLAGS) -E bench/ipc-bench.h > /dev/null
	$(CC) $(STD) $(WARNINGS) $(WERROR) $(CPPFLAGS) -O2 $(CFLAGS) -pthread $(LDFLAGS) -o $@ $(BENCH_SOURCES) $(LDLIBS) $(IPC_LIBS)

bench: bench/ipc-bench
	bench/ipc-bench $(BENCH_ARGS)

# The run's machine line (stderr's first line) goes beside the CSV, for the chart.
bench/results.csv: | bench/ipc-bench
	bench/ipc-bench --csv $(BENCH_ARGS) > $@.tmp 2> bench/results.err || \
		{ cat bench/results.err >&2; rm -f $@.tmp bench/results.err; exit 1; }
	grep '^ipc-bench: [0-9]* CPUs' bench/results.err > bench/results.machine || true
	rm -f bench/results.err
	mv $@.tmp $@

plot: bench/results.csv
	machine=; [ ! -f bench/results.machine ] || machine=bench/results.machine; \
	sh bench/plot.sh bench/results.csv $$machine > bench/results.svg.tmp && \
		mv bench/results.svg.tmp bench/results.svg

bench-peers: bench/ipc-bench
	sh bench/peers/run.sh $(BENCH_ARGS)

# What any build made: the programs in every BINDIR listed in .bindirs (a
# BINDIR inside the checkout goes too, once empty), the benchmark, build/.
clean:
	@[ ! -f .bindirs ] || while IFS= read -r dir; do \
		for program in $(SOURCES:%.c=%); do rm -f "$$dir/$$program"; done; \
		rm -f "$$dir/.build-flags"; \
		case $$dir in '$(CURDIR)'/?*) rmdir "$$dir" 2> /dev/null || true ;; esac; \
	done < .bindirs
	rm -f $(SOURCES:%.c=%) .build-flags .bindirs
	rm -f bench/ipc-bench bench/.build-flags
	rm -rf build
