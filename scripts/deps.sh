#!/bin/sh
# What mmapwatch needs, in two sets.
#
#   scripts/deps.sh --check-build [--static]
#       Checks (never installs) what `make` needs: a C compiler ($CC, else
#       cc), make, libseccomp-dev, libunwind-dev; with --static also what
#       `make static` adds (liblzma-dev, libstdc++.a). Works as any user;
#       names what is missing and exits 1. This is what `make` runs.
#   scripts/deps.sh
#       Installs with apt-get (Debian 12, root) whatever is missing from the
#       build set and the test set below. This is what `make test` and
#       .ci/run run. Idempotent and quiet when all is there.
#   scripts/deps.sh --bench
#       The same, and the tools scripts/bench.sh measures mmapwatch against
#       (perf, bpftrace): a row whose tool is missing says n/a.
#
# One package a line, with why: add a test's needs as a line of its own.
set -eu

CC=${CC:-cc}
missing=""
need() { # need PACKAGE TEST-COMMAND...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then
        case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
    fi
}
# A header the compiler finds, wherever this system keeps it.
header() { printf '#include <%s>\n' "$1" | "$CC" -E -x c - ; }
# A library file the compiler's linker finds (it prints a bare name if not).
libfile() { case $("$CC" -print-file-name="$1") in /*) ;; *) false ;; esac; }

build_set() {
    need make           command -v make
    if ! command -v "$CC" >/dev/null 2>&1; then
        missing="$missing gcc"   # and nothing to look for headers with
        return
    fi
    need libc6-dev      header stdio.h
    need libseccomp-dev header seccomp.h
    need libunwind-dev  header libunwind-x86_64.h   # the non-LLVM libunwind
}
static_set() {
    need liblzma-dev    header lzma.h          # libunwind's archives need liblzma.a
    need g++            libfile libstdc++.a    # the demangler, linked in
}
test_set() {
    need g++           command -v g++         # C++ fixtures (-k must demangle)
    need binutils      command -v objcopy     # stripped fixtures with debug links
    need python3       command -v python3     # the test runner
    need python3-yaml  python3 -c 'import yaml'  # the check of docs/kubernetes.md's manifest
    need strace        command -v strace      # the differential test
    need valgrind      command -v valgrind    # the leak test of the main paths
    need procps        command -v pmap        # mmapwatch maps is compared with pmap -x
    need util-linux    command -v setpriv     # tests run mmapwatch as another user
    need util-linux    command -v unshare     # the cgroup tests' containers
    need mount         command -v mount       # ... and their cgroup mounts
    need man-db        command -v man         # make install's page is found by man
    need dpkg-dev      command -v dpkg-buildpackage  # make deb
    need debhelper     command -v dh          # ... its debian/rules
    need fakeroot      command -v fakeroot    # ... built as root-less as Debian builds
    need lintian       command -v lintian     # ... checked with no errors
    need chromium      command -v chromium    # the report test opens the page headless
    need debootstrap   command -v debootstrap # make test-deb: a clean Debian 12 to install it in
    # The JVM tests: a real Netty (4.1.48 in Debian 12) on the machine's JDK.
    need default-jdk-headless command -v javac
    need libnetty-java [ -r /usr/share/java/netty-codec-http2.jar ]
    # The container tests: a real dockerd (scripts/dockerd.sh starts it).
    need docker.io     command -v dockerd
    # The cgroup v2 tests: Debian's kernel under qemu (TCG), from an initramfs
    # of busybox and static programs (the kernel: scripts/vm-kernel.sh).
    need qemu-system-x86 command -v qemu-system-x86_64
    need busybox-static dpkg -s busybox-static   # static: the VM has no libc of its own
}

# The tools the benchmark sets side by side with mmapwatch.
bench_set() {
    need linux-perf    command -v perf        # perf trace -p, perf's own syscall tracer
    need bpftrace      command -v bpftrace    # a BPF program on sys_enter_mmap
}

if [ "${1:-}" = --check-build ]; then
    build_set
    [ "${2:-}" = --static ] && static_set
    if [ -n "$missing" ]; then
        echo "mmapwatch: cannot build, missing:$missing; install them (apt-get install$missing)" >&2
        exit 1
    fi
    exit 0
fi

CC=gcc
build_set
static_set
test_set
[ "${1:-}" = --bench ] && bench_set
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "mmapwatch: the tests need:$missing; install them (apt-get install$missing) or run as root" >&2
        exit 1
    fi
    echo "mmapwatch: installing$missing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
