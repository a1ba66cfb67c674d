# mmapwatch: plain Makefile. `make` builds ./mmapwatch; `make test` runs
# every test; `make demo` shows what mmapwatch catches in a small program;
# `make SAN=1 test` (or `make test-san`) runs the tests against an
# ASan/UBSan build. Quiet by default; V=1 shows the commands.

CC      ?= gcc
PKG_LIBS = libseccomp
CFLAGS_BASE = -std=gnu11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wformat=2 -g
OPTFLAGS ?= -O2
LDLIBS  = -lunwind-generic -lunwind -lseccomp -lpthread -lstdc++

ifeq ($(SAN),1)
BUILD   ?= build/san
OPTFLAGS = -O1
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BIN     = $(BUILD)/mmapwatch
else
BUILD   ?= build/release
BIN     = mmapwatch
endif

CFLAGS  += $(CFLAGS_BASE) $(OPTFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

ifneq ($(V),1)
Q = @
msg = @printf '  %-6s %s\n' $(1) $(2);
else
Q =
msg =
endif

SRCS     = $(wildcard src/*.c)
OBJS     = $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS = $(filter-out $(BUILD)/obj/main.o,$(OBJS))

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# Fixtures are the traced programs: never sanitized (ASan's shadow memory
# would add mmaps of its own) and built at -O0 so call chains stay intact.
FIXTURE_SRCS = $(wildcard tests/fixtures/*.c)
FIXTURE_BINS = $(FIXTURE_SRCS:tests/fixtures/%.c=build/fixtures/%) \
               $(patsubst tests/fixtures/%.cc,build/fixtures/%,$(wildcard tests/fixtures/*.cc)) \
               build/fixtures/libstack_one.so build/fixtures/libstack_two.so \
               build/fixtures/stack_chain_stripped build/fixtures/stack_chain_buildid
FIXTURE_CFLAGS = $(CFLAGS_BASE) -O0 -fno-omit-frame-pointer -pthread

DEPS_STAMP = build/.deps-ok

.PHONY: all test test-san unit demo bench clean deps fixtures static FORCE
all: $(BIN)

$(DEPS_STAMP): scripts/deps.sh
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(@D) && touch $@

deps: $(DEPS_STAMP)

$(BIN): $(OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# `make static`: build/static/mmapwatch, linked -static (libseccomp and
# libunwind included) from the release objects, for a FROM scratch or
# distroless image (scripts/Dockerfile, docs/kubernetes.md). The static
# archives need more than $(LDLIBS) says: libunwind's compressed debug
# info needs liblzma, libstdc++ needs libm.
STATIC_BIN    = build/static/mmapwatch
STATIC_LDLIBS = -llzma -lm

static: $(STATIC_BIN)

ifeq ($(SAN),1)
# A sanitized binary cannot be linked statically: the static one is
# always the release build's.
$(STATIC_BIN): FORCE
	$(Q)$(MAKE) --no-print-directory -s SAN= $(STATIC_BIN)
else
$(STATIC_BIN): $(OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -static $(LDFLAGS) -o $@ $^ $(LDLIBS) $(STATIC_LDLIBS)
endif

$(BUILD)/obj/%.o: src/%.c | $(DEPS_STAMP)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(LIB_OBJS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# The dump tests' driver: dump.c against a real process, outside the tracer.
$(BUILD)/tests/dumpdrv: tests/integration/dumpdrv.c $(LIB_OBJS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

build/fixtures/%: tests/fixtures/%.c tests/fixtures/fixture.h | $(DEPS_STAMP)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -Itests/fixtures -o $@ $< -ldl

# C++ fixtures: the unwinder must demangle what g++ makes.
build/fixtures/%: tests/fixtures/%.cc | $(DEPS_STAMP)
	$(call msg,CXX,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) -std=gnu++17 -Wall -Wextra -Werror -g -O0 -fno-omit-frame-pointer -o $@ $<

# One library source, two names for its functions (stack_dlopen).
build/fixtures/libstack_%.so: tests/fixtures/lib/stack_lib.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -shared -fPIC -DLIB_NAME=$* -o $@ $<

# stack_chain stripped of its symbol table as distributions ship programs,
# with its symbols split out into a debug file found by .gnu_debuglink.
build/fixtures/stack_chain_stripped: build/fixtures/stack_chain
	$(call msg,STRIP,$@)
	$(Q)objcopy --only-keep-debug $< $@.debug
	$(Q)objcopy --strip-all --add-gnu-debuglink=$@.debug $< $@

# The same, with no debuglink: only its build ID leads to the debug file.
build/fixtures/stack_chain_buildid: build/fixtures/stack_chain
	$(call msg,STRIP,$@)
	$(Q)objcopy --only-keep-debug $< $@.debug
	$(Q)objcopy --strip-all $< $@

fixtures: $(FIXTURE_BINS)

# The JVM tests' program (tests/java), compiled against Debian's
# libnetty-java; build/java/classpath lists the jars to run it with. With no
# javac or jars (scripts/deps.sh installs them) it is not built, and the
# JVM tests fail saying so.
NETTY_JARS = $(patsubst %,/usr/share/java/%.jar,netty-buffer netty-common \
             netty-transport netty-codec netty-handler netty-codec-http \
             netty-codec-http2 netty-resolver jctools-core)
JAVA_CLASSES = build/java/NettyArenas.class build/java/EchoServer.class

build/java/%.class: tests/java/%.java | $(DEPS_STAMP)
	$(call msg,JAVAC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)if command -v javac >/dev/null && ls $(NETTY_JARS) >/dev/null 2>&1; then \
	    javac -Xlint:all -Werror -d $(@D) -cp $$(echo $(NETTY_JARS) | tr ' ' :) $< && \
	    echo $(NETTY_JARS) | tr ' ' : >$(@D)/classpath; \
	else echo "  no javac or libnetty-java: $@ not built (run scripts/deps.sh)"; fi

unit: $(UNIT_BINS)

# The runner prints one line per test and ends with "N passed, N failed".
test: $(BIN) $(UNIT_BINS) $(FIXTURE_BINS) $(BUILD)/tests/dumpdrv $(STATIC_BIN) $(JAVA_CLASSES)
	$(Q)MMAPWATCH=$(abspath $(BIN)) UNIT_DIR=$(abspath $(BUILD)/tests) \
	    MMAPWATCH_STATIC=$(abspath $(STATIC_BIN)) \
	    DUMPDRV=$(abspath $(BUILD)/tests/dumpdrv) \
	    FIXTURE_DIR=$(abspath build/fixtures) python3 tests/run_tests.py $(TESTS)

test-san:
	$(Q)$(MAKE) --no-print-directory SAN=1 test

demo: $(BIN) build/fixtures/demo_arenas
	$(Q)scripts/demo.sh

bench: $(BIN) $(FIXTURE_BINS) $(JAVA_CLASSES)
	$(Q)scripts/bench.sh

clean:
	rm -rf build mmapwatch

-include $(OBJS:.o=.d)
