# mmapwatch: plain Makefile. `make` builds ./mmapwatch (it needs only a C
# compiler, make, libseccomp-dev and libunwind-dev, and says which are
# missing); `sudo make install` installs it (PREFIX=/usr/local, DESTDIR);
# `make test` installs what the tests need (scripts/deps.sh) and runs every
# test; `make SAN=1 test` (or `make test-san`) runs them against an
# ASan/UBSan build; `make deb` builds the Debian package and `make test-deb`
# installs it in a clean Debian 12 and runs it; `make test-image` builds
# scripts/Dockerfile on that Debian and runs the image; `make demo` shows what
# mmapwatch catches in a small program. Quiet by default; V=1 shows the
# commands.

CC      ?= gcc
PKG_LIBS = libseccomp
CFLAGS_BASE = -std=gnu11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wformat=2 -g
OPTFLAGS ?= -O2
# The demangler (__cxa_demangle) is libstdc++'s: linked by its runtime
# name, which every gcc install has, so the build needs no g++.
LDLIBS_CORE = -lunwind-generic -lunwind -lseccomp -lpthread
LDLIBS  = $(LDLIBS_CORE) -l:libstdc++.so.6

ifeq ($(SAN),1)
BUILD   ?= build/san
OPTFLAGS = -O1
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BIN     = $(BUILD)/mmapwatch
else
BUILD   ?= build/release
BIN     = mmapwatch
endif

GEN     = $(BUILD)/gen
CFLAGS  += $(CFLAGS_BASE) $(OPTFLAGS) $(SANFLAGS) -I$(GEN)
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
# What the unit tests share (tests/unit/*.c not named test_*, each with
# its header): built once, linked into every unit test binary.
UNIT_HELPER_SRCS = $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS = $(UNIT_HELPER_SRCS:tests/unit/%.c=$(BUILD)/unit-helpers/%.o)
UNIT_HEADERS     = $(wildcard tests/unit/*.h)

# Fixtures are the traced programs: never sanitized (ASan's shadow memory
# would add mmaps of its own) and built at -O0 so call chains stay intact.
FIXTURE_SRCS = $(wildcard tests/fixtures/*.c)
FIXTURE_BINS = $(FIXTURE_SRCS:tests/fixtures/%.c=build/fixtures/%) \
               $(patsubst tests/fixtures/%.cc,build/fixtures/%,$(wildcard tests/fixtures/*.cc)) \
               build/fixtures/libstack_one.so build/fixtures/libstack_two.so \
               build/fixtures/stack_chain_stripped build/fixtures/stack_chain_buildid \
               build/fixtures/fakejvm/libjvm.so build/fixtures/prog32
FIXTURE_CFLAGS = $(CFLAGS_BASE) -O0 -fno-omit-frame-pointer -pthread

# Build dependencies are only checked (any user, no apt-get); test ones are
# installed (root). A stamp per set, redone when scripts/deps.sh changes.
DEPS_STAMP      = build/.build-deps-ok
TEST_DEPS_STAMP = build/.test-deps-ok

.PHONY: all test test-san unit demo bench clean deps test-deps fixtures static FORCE \
        install uninstall deb test-deb test-image
all: $(BIN)

$(DEPS_STAMP): scripts/deps.sh
	$(Q)CC="$(CC)" scripts/deps.sh --check-build
	$(Q)mkdir -p $(@D) && touch $@

$(TEST_DEPS_STAMP): scripts/deps.sh
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(@D) && touch $@

deps: $(DEPS_STAMP)
test-deps: $(TEST_DEPS_STAMP)

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
STATIC_LDLIBS = $(LDLIBS_CORE) -lstdc++ -llzma -lm
STATIC_DEPS_STAMP = build/.static-deps-ok

$(STATIC_DEPS_STAMP): scripts/deps.sh
	$(Q)CC="$(CC)" scripts/deps.sh --check-build --static
	$(Q)mkdir -p $(@D) && touch $@

static: $(STATIC_BIN)

ifeq ($(SAN),1)
# A sanitized binary cannot be linked statically: the static one is
# always the release build's.
$(STATIC_BIN): FORCE
	$(Q)$(MAKE) --no-print-directory -s SAN= $(STATIC_BIN)
else
$(STATIC_BIN): $(OBJS) | $(STATIC_DEPS_STAMP)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -static $(LDFLAGS) -o $@ $(OBJS) $(STATIC_LDLIBS)
endif

$(BUILD)/obj/%.o: src/%.c | $(DEPS_STAMP)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The report page's markup, style and script: tracked as readable files,
# built into C strings for src/report_html.c.
REPORT_PAGE = src/report_page.html src/report_page.css src/report_page.js
$(GEN)/report_page.h: $(REPORT_PAGE) scripts/embed.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed.sh $@ report_page_html=src/report_page.html \
	    report_page_css=src/report_page.css report_page_js=src/report_page.js

$(BUILD)/obj/report_html.o: $(GEN)/report_page.h

$(BUILD)/unit-helpers/%.o: tests/unit/%.c $(UNIT_HEADERS) | $(DEPS_STAMP)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

# An explicit rule, so that make keeps the helpers' objects.
$(UNIT_BINS): $(UNIT_HELPER_OBJS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HEADERS) $(LIB_OBJS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(LIB_OBJS) $(LDLIBS)

# The dump tests' driver: dump.c against a real process, outside the tracer.
$(BUILD)/tests/dumpdrv: tests/integration/dumpdrv.c $(LIB_OBJS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# The perf source's tests' driver: perf_source.c against a real process,
# outside the tracer.
$(BUILD)/tests/perfdrv: tests/integration/perfdrv.c $(LIB_OBJS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# C fixtures need only the build set (make demo builds one); the C++ one
# needs g++, a test dependency.
build/fixtures/%: tests/fixtures/%.c tests/fixtures/fixture.h | $(DEPS_STAMP)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -Itests/fixtures -o $@ $< -ldl

# A 32-bit program without a C library: -m32 code generation only, no multilib.
build/fixtures/prog32: tests/fixtures/i386/prog32.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -m32 -static -nostdlib -ffreestanding -fno-pic -fno-stack-protector -O1 -Wall -Wextra -Werror -o $@ $<

# C++ fixtures: the unwinder must demangle what g++ makes.
build/fixtures/%: tests/fixtures/%.cc | $(TEST_DEPS_STAMP)
	$(call msg,CXX,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) -std=gnu++17 -Wall -Wextra -Werror -g -O0 -fno-omit-frame-pointer -o $@ $<

# One library source, two names for its functions (stack_dlopen).
build/fixtures/libstack_%.so: tests/fixtures/lib/stack_lib.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -shared -fPIC -DLIB_NAME=$* -o $@ $<

# A file named libjvm.so exporting HotSpot's table symbols, for
# stack_fakejvm to fill with bad tables.
build/fixtures/fakejvm/libjvm.so: tests/fixtures/lib/fake_libjvm.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -shared -fPIC -fvisibility=hidden -o $@ $<

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

# The same programs linked -static, for what has no libc of its own to
# offer: FROM scratch images (the Docker tests) and the initramfs of the
# cgroup v2 kernel test (tests/vm).
STATIC_FIXTURES = $(patsubst %,build/fixtures-static/%,ct_arenas ct_pause cg_grow trace_map cgns)

build/fixtures-static/%: tests/fixtures/%.c tests/fixtures/fixture.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -static -Itests/fixtures -o $@ $<

fixtures: $(FIXTURE_BINS) $(STATIC_FIXTURES)

# The JVM tests' program (tests/java), compiled against Debian's
# libnetty-java; build/java/classpath lists the jars to run it with. With no
# javac or jars (scripts/deps.sh installs them) it is not built, and the
# JVM tests fail saying so.
NETTY_JARS = $(patsubst %,/usr/share/java/%.jar,netty-buffer netty-common \
             netty-transport netty-codec netty-handler netty-codec-http \
             netty-codec-http2 netty-resolver jctools-core)
JAVA_CLASSES = build/java/NettyArenas.class build/java/EchoServer.class

build/java/%.class: tests/java/%.java | $(TEST_DEPS_STAMP)
	$(call msg,JAVAC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)if command -v javac >/dev/null && ls $(NETTY_JARS) >/dev/null 2>&1; then \
	    javac -Xlint:all -Werror -d $(@D) -cp $$(echo $(NETTY_JARS) | tr ' ' :) $< && \
	    echo $(NETTY_JARS) | tr ' ' : >$(@D)/classpath; \
	else echo "  no javac or libnetty-java: $@ not built (run scripts/deps.sh)"; fi

unit: $(UNIT_BINS)

# The runner prints one line per test and ends with "N passed, N failed".
test: $(TEST_DEPS_STAMP) $(BIN) $(UNIT_BINS) $(FIXTURE_BINS) $(STATIC_FIXTURES) $(BUILD)/tests/dumpdrv $(BUILD)/tests/perfdrv \
      $(STATIC_BIN) $(JAVA_CLASSES)
	$(Q)MMAPWATCH=$(abspath $(BIN)) UNIT_DIR=$(abspath $(BUILD)/tests) \
	    MMAPWATCH_STATIC=$(abspath $(STATIC_BIN)) \
	    STATIC_FIXTURE_DIR=$(abspath build/fixtures-static) \
	    DUMPDRV=$(abspath $(BUILD)/tests/dumpdrv) \
	    PERFDRV=$(abspath $(BUILD)/tests/perfdrv) \
	    FIXTURE_DIR=$(abspath build/fixtures) python3 tests/run_tests.py $(TESTS)

test-san:
	$(Q)$(MAKE) --no-print-directory SAN=1 test

demo: $(BIN) build/fixtures/demo_arenas
	$(Q)scripts/demo.sh

bench: $(BIN) $(FIXTURE_BINS) $(JAVA_CLASSES)
	$(Q)scripts/bench.sh

# Installed files. PREFIX is where they live when run; DESTDIR is a root
# to stage them under (a package build, or a test).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/mmapwatch
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install
DOCS     = README.md $(wildcard docs/*.md)

install: $(BIN)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(BASHCOMPDIR)
	$(Q)$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/mmapwatch
	$(Q)$(INSTALL) -m 0644 docs/mmapwatch.1 $(DESTDIR)$(MANDIR)/man1/mmapwatch.1
	$(Q)$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	$(Q)$(INSTALL) -m 0644 scripts/mmapwatch.bash-completion $(DESTDIR)$(BASHCOMPDIR)/mmapwatch

uninstall:
	$(call msg,REMOVE,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/mmapwatch $(DESTDIR)$(MANDIR)/man1/mmapwatch.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/mmapwatch $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# The Debian package, from debian/ (dpkg-buildpackage builds in the source
# tree and writes the .deb one directory up: it is moved to build/deb).
deb: $(TEST_DEPS_STAMP)
	$(Q)scripts/deb.sh build

# Builds the package, checks it with lintian, installs it in a clean
# Debian 12 root (debootstrap, cached in build/) and runs it there.
test-deb: $(TEST_DEPS_STAMP)
	$(Q)scripts/deb.sh test

# Builds scripts/Dockerfile (its Debian stage on that clean Debian 12
# root, imported into Docker) and runs the image: what someone with only
# Docker gets.
test-image: $(TEST_DEPS_STAMP) build/fixtures-static/trace_map
	$(Q)scripts/image.sh test

clean:
	rm -rf build mmapwatch

-include $(OBJS:.o=.d)
