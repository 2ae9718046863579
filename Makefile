# excon build.  `make` builds ./excon, `make test` runs every test (starting
# its own PostgreSQL), `make demo` runs a whole plan on a throwaway server,
# `make bench` prints benchmark ratios.  Every entry point first runs
# `make deps`, which installs missing Debian packages (as root) so that a
# fresh machine needs nothing but make.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
VERSION := 0.1.0

# SAN=1 builds everything with AddressSanitizer + UBSan into build-san/.
# FUZZ=1 (used by `make fuzz`, with CC=clang) builds the library with
# libFuzzer's coverage instrumentation into build-fuzz/.
ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(FUZZ),1)
BUILD := build-fuzz
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD := build
SANFLAGS :=
endif

# The compiler comes first: a fresh Debian has none.
DEB_PKGS := gcc libc6-dev make libpq-dev libsqlite3-dev libyaml-dev check \
	libpg-query-dev libprotobuf-c-dev postgresql postgresql-contrib pkg-config \
	sqlite3 gdb \
	jq libxml2-utils zsh python3-jsonschema python3-rfc3987

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wwrite-strings -Wshadow -Wpointer-arith -Wformat=2 \
	-Wno-format-nonliteral -Wundef -Wold-style-definition

PKG_CFLAGS = $(shell pkg-config --cflags libpq sqlite3 yaml-0.1 libprotobuf-c 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs libpq sqlite3 yaml-0.1 libprotobuf-c 2>/dev/null) -lpg_query -pthread
# ./excon does not link libpq: src/pg.c loads it on the first connection,
# so that commands which never connect skip its thirty-odd libraries.
EXCON_LIBS = $(shell pkg-config --libs sqlite3 yaml-0.1 libprotobuf-c 2>/dev/null) -lpg_query -ldl -pthread
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DEXCON_VERSION='"$(VERSION)"' -Isrc \
	$(WARN) $(SANFLAGS) $(CFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c src/cmd/*.c src/lint/*.c))
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
MAIN_OBJ := $(BUILD)/obj/main.o
TEST_SRC := $(wildcard tests/check_*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
# `make test SUITES="sqlgen exec"` runs only tests/check_sqlgen.c and
# tests/check_exec.c; a run of suites that need no database starts none.
SUITES ?=
TEST_RUN := $(if $(SUITES),$(patsubst %,$(BUILD)/tests/check_%,$(SUITES)),$(TEST_BIN))
TEST_UTIL := $(wildcard tests/util/*.c)

EXCON_BIN := $(if $(filter 1,$(SAN)),$(BUILD)/excon,excon)

# `make fuzz`: clang and libFuzzer (installed on demand, like the rest),
# two targets (tests/fuzz/*.c: the plan loader, the SQL analysis), each seeded
# from the test corpus and run FUZZ_TIME seconds; a crash, leak or
# sanitizer report fails the target and leaves the input in build-fuzz/.
FUZZ_PKGS := clang libclang-rt-dev
FUZZ_TIME ?= 20
FUZZ_TARGETS := plan sql

.PHONY: all deps build test demo bench install clean check-deps fuzz check-banned

all: deps build

build: $(EXCON_BIN) $(TEST_BIN)

deps:
	@sh scripts/deps.sh $(DEB_PKGS)

# src/banned.h is forced into every file of src/ (not the tests), after the
# system headers it includes itself: a banned function is a compile error.
$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h src/cmd/*.h src/lint/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -include src/banned.h -c -o $@ $<

# `make check-banned`: proves src/banned.h works, by compiling one line per
# banned function with the flags of src/ and requiring each to fail (and a
# line without one to succeed, so a broken command line cannot pass).
BANNED_FUNCS := 'sprintf(b, "x")' 'vsprintf(b, "x", ap)' 'strcpy(b, "x")' \
	'strcat(b, "x")' 'strncpy(b, "x", 1)' 'strtok(b, " ")' 'gets(b)'
check-banned:
	@mkdir -p $(BUILD)
	@set -e; t=$(BUILD)/banned-check.c; \
	for call in 'snprintf(b, sizeof b, "x")' $(BANNED_FUNCS); do \
		printf '#include <stdarg.h>\n#include <stdio.h>\n#include <string.h>\nvoid f(va_list ap);\nvoid f(va_list ap) { char b[8] = ""; (void)ap; (void)%s; }\n' "$$call" > $$t; \
		if $(CC) $(ALL_CFLAGS) -include src/banned.h -c -o $(BUILD)/banned-check.o $$t 2>$(BUILD)/banned-check.log; then \
			case "$$call" in snprintf*) ;; *) echo "check-banned: '$$call' compiled"; exit 1;; esac; \
		else \
			case "$$call" in snprintf*) cat $(BUILD)/banned-check.log; echo "check-banned: the allowed line failed"; exit 1;; esac; \
			f=$${call%%(*}; grep -q "sorry_$${f}_is_a_banned_function" $(BUILD)/banned-check.log || \
				{ cat $(BUILD)/banned-check.log; echo "check-banned: '$$call' failed for another reason"; exit 1; }; \
		fi; \
	done; rm -f $$t $(BUILD)/banned-check.o $(BUILD)/banned-check.log; echo "check-banned: 7 banned functions refused"

# `make check-layers`: each foreign library's header is included by its
# wrapper module only, and no state backend calls the facade state.c
# (scripts/check-layers.sh reads the sources and the built objects).
.PHONY: check-layers
check-layers: $(LIB_OBJ)
	@sh scripts/check-layers.sh $(BUILD)

$(BUILD)/libexcon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(EXCON_BIN): $(MAIN_OBJ) $(BUILD)/libexcon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EXCON_LIBS) -lm

$(BUILD)/tests/%: tests/%.c $(TEST_UTIL) $(wildcard tests/util/*.h) $(BUILD)/libexcon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -o $@ $< $(TEST_UTIL) $(BUILD)/libexcon.a \
		$(ALL_LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS) -lm

# bench/gen-history: records many releases at once through the state
# store's own functions, for the bench's large projects (bench/gen-state.sh).
$(BUILD)/bench/gen-history: bench/gen-history.c $(BUILD)/libexcon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libexcon.a $(ALL_LDFLAGS) $(PKG_LIBS) -lm

test: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory check-banned
	@$(MAKE) --no-print-directory check-layers
	@EXCON_BIN=$(CURDIR)/$(EXCON_BIN) sh tests/run.sh $(TEST_RUN)

demo: deps
	@$(MAKE) --no-print-directory build
	@EXCON_BIN=$(CURDIR)/$(EXCON_BIN) sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory build $(BUILD)/bench/gen-history
	@EXCON_BIN=$(CURDIR)/$(EXCON_BIN) EXCON_GEN_HISTORY=$(CURDIR)/$(BUILD)/bench/gen-history \
		sh bench/run.sh

fuzz:
	@sh scripts/deps.sh $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory FUZZ=1 CC=clang build-fuzz/libexcon.a
	@set -e; for t in $(FUZZ_TARGETS); do \
		clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined \
			-fno-sanitize-recover=all -o build-fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c \
			build-fuzz/libexcon.a $(PKG_LIBS) -lm; \
		rm -rf build-fuzz/corpus-$$t; mkdir -p build-fuzz/corpus-$$t; \
	done
	@find tests/plans plans -name '*.yaml' -exec cp {} build-fuzz/corpus-plan/ \;
	@cp tests/sql/*.yaml build-fuzz/corpus-plan/
	@cp tests/sql/*.sql build-fuzz/corpus-sql/
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz_$$t: $(FUZZ_TIME) s"; \
		(cd build-fuzz && ./fuzz_$$t -max_total_time=$(FUZZ_TIME) \
			-timeout=10 -rss_limit_mb=1024 -print_final_stats=0 \
			corpus-$$t 2>fuzz_$$t.log) || { tail -40 build-fuzz/fuzz_$$t.log; exit 1; }; \
		grep -h "^#.*DONE" build-fuzz/fuzz_$$t.log || true; \
	done

install: $(EXCON_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(EXCON_BIN) $(DESTDIR)$(PREFIX)/bin/excon
	install -m 0644 doc/excon.1 $(DESTDIR)$(PREFIX)/share/man/man1/excon.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	./$(EXCON_BIN) completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/excon
	./$(EXCON_BIN) completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_excon

clean:
	rm -rf build build-san build-fuzz excon
