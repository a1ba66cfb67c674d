#!/bin/sh
# Installs what mmapwatch needs to build and test, when it is missing.
# Debian 12; apt-get needs root. Idempotent and quiet when all is there.
set -eu

missing=""
need() { # need PACKAGE TEST-COMMAND...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}
header() { [ -e "/usr/include/$1" ] || [ -e "/usr/include/x86_64-linux-gnu/$1" ]; }

need gcc           command -v gcc
need g++           command -v g++         # C++ fixtures (-k must demangle)
need make          command -v make
need libc6-dev     header stdio.h         # the C headers, and libc.a for make static
need libseccomp-dev header seccomp.h
need libunwind-dev header libunwind-x86_64.h   # the non-LLVM libunwind
need liblzma-dev   header lzma.h          # make static: libunwind's archives need liblzma.a
need python3       command -v python3
need python3-yaml  python3 -c 'import yaml'  # the check of docs/kubernetes.md's manifest
need strace        command -v strace      # the differential test
need valgrind      command -v valgrind    # the leak test of the main paths
need procps        command -v pmap        # mmapwatch maps is compared with pmap -x
need util-linux    command -v setpriv     # tests run mmapwatch as another user
need util-linux    command -v unshare     # the cgroup tests' containers
need mount         command -v mount       # ... and their cgroup mounts
# The JVM tests: a real Netty (4.1.48 in Debian 12) on the machine's JDK.
need default-jdk-headless command -v javac
need libnetty-java [ -r /usr/share/java/netty-codec-http2.jar ]
need docker.io     command -v dockerd     # the container tests: a real dockerd (started by scripts/dockerd.sh)
# The cgroup v2 tests: Debian's kernel under qemu (TCG), from an initramfs
# of busybox and static programs (the kernel itself: scripts/vm-kernel.sh).
need qemu-system-x86 command -v qemu-system-x86_64
need busybox-static dpkg -s busybox-static   # static: the VM has no libc of its own

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "mmapwatch: missing build dependencies:$missing; install them (apt-get install$missing) or run as root" >&2
        exit 1
    fi
    echo "mmapwatch: installing$missing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
