#!/bin/sh
# The Debian package.
#
#   scripts/deb.sh build   builds build/deb/mmapwatch_VERSION_amd64.deb from
#                          debian/ with dpkg-buildpackage -us -uc -b, in a copy
#                          of the tree (a package build cleans its tree first,
#                          and this one's build/ holds the tests' files), then
#                          checks it with lintian: any error fails.
#   scripts/deb.sh test    builds it, then installs it with apt-get in a clean
#                          Debian 12 root (debootstrap minbase, made once and
#                          kept in build/deb/bookworm; each test works on a fresh
#                          copy) and runs the installed files there: --version,
#                          the manual page and completion in place, a launch-mode
#                          trace. Then, in another fresh copy with only the
#                          build set installed (gcc, make, libseccomp-dev,
#                          libunwind-dev), `make` as an unprivileged user must
#                          build a working ./mmapwatch: what the README
#                          promises. Needs root and Debian's mirror.
#   scripts/deb.sh root    makes that clean root if it is not there yet and
#                          prints its path (scripts/image.sh builds the
#                          Docker image on it).
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/deb
mode=${1:-build}

fail() { echo "mmapwatch: deb: $*" >&2; exit 1; }

build() {
    rm -rf "$out/src" && mkdir -p "$out/src/mmapwatch"
    # The committed files when this is a git checkout, else the tree without
    # what builds make.
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$out/src/mmapwatch"
    else
        tar -cf - --exclude=./build --exclude=./mmapwatch --exclude=./.git . |
            tar -xf - -C "$out/src/mmapwatch"
    fi
    (cd "$out/src/mmapwatch" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) ||
        { tail -30 "$out/build.log" >&2; fail "dpkg-buildpackage failed (log: $out/build.log)"; }
    rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
    mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
    deb=$(ls "$out"/mmapwatch_*_amd64.deb)
    # As root lintian needs --allow-root; errors fail, warnings are shown.
    lintian --allow-root --fail-on error --tag-display-limit 0 "$out"/mmapwatch_*_amd64.changes \
        >"$out/lintian.log" 2>&1 ||
        { cat "$out/lintian.log" >&2; fail "lintian found errors"; }
    [ -s "$out/lintian.log" ] && sed 's/^/  lintian: /' "$out/lintian.log"
    echo "  DEB    $deb"
}

# A clean Debian 12 root: debootstrap once, then a fresh copy per test.
base_root() {
    base=$out/bookworm
    if [ ! -f "$base/.complete" ]; then
        rm -rf "$base"
        mirror=$(sed -n 's/^URIs: *//p; s/^deb  *\(http[^ ]*\) .*/\1/p' \
                     /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
                 grep -v security | head -n1)
        debootstrap --variant=minbase bookworm "$base" "${mirror:-http://deb.debian.org/debian}" \
            >"$out/debootstrap.log" 2>&1 ||
            { tail -20 "$out/debootstrap.log" >&2; fail "debootstrap failed (log: $out/debootstrap.log)"; }
        touch "$base/.complete"
    fi
}

test_installed() {
    [ "$(id -u)" = 0 ] || fail "make test-deb needs root (chroot, mount)"
    build
    base_root
    root=$(mktemp -d "$out/root.XXXXXX")
    cleanup() {
        umount "$root/proc" 2>/dev/null || true
        rm -rf "$root"
    }
    trap cleanup EXIT INT TERM
    cp -a "$base/." "$root/"
    mount -t proc proc "$root/proc"
    cp "$deb" "$root/tmp/"
    # apt-get, not dpkg -i: the package's Depends must bring in all it needs.
    chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")" \
        >"$out/install.log" 2>&1 ||
        { tail -20 "$out/install.log" >&2; fail "apt-get install of the package failed"; }

    for f in /usr/bin/mmapwatch /usr/share/man/man1/mmapwatch.1.gz \
             /usr/share/bash-completion/completions/mmapwatch \
             /usr/share/doc/mmapwatch/README.md /usr/share/doc/mmapwatch/copyright; do
        [ -e "$root$f" ] || [ -e "$root$f.gz" ] || fail "the package did not install $f"
    done
    version=$(chroot "$root" mmapwatch --version) || fail "mmapwatch --version failed"
    [ "$version" = "mmapwatch $(sed -n '1s/^mmapwatch (\([^)]*\)).*/\1/p' debian/changelog)" ] ||
        fail "mmapwatch --version says '$version', debian/changelog another version"
    # A launch-mode trace with the installed files and the root's libraries:
    # dd's 8 MiB buffer is one mmap, reported with dd's pid and the size.
    chroot "$root" mmapwatch --json --no-dump -m 8M -- \
        dd if=/dev/zero of=/dev/null bs=8M count=1 >"$out/trace.log" 2>&1 ||
        { cat "$out/trace.log" >&2; fail "a launch-mode trace failed"; }
    python3 - "$out/trace.log" <<'PY' || { cat "$out/trace.log" >&2; fail "the trace has no 8 MiB mmap by dd"; }
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ok = [e for e in events if e.get("event") == "mmap" and e.get("comm") == "dd"
      and e.get("len", 0) >= 8 << 20]
sys.exit(0 if len(ok) == 1 else 1)
PY
    echo "  OK     installed in a clean Debian 12 root: --version, files, a launch-mode trace"
    cleanup
    build_with_build_set_only
}

# `make` with nothing but the build set, as a user who cannot install.
build_with_build_set_only() {
    root=$(mktemp -d "$out/root.XXXXXX")
    trap cleanup EXIT INT TERM
    cp -a "$base/." "$root/"
    mount -t proc proc "$root/proc"
    chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends gcc make libc6-dev libseccomp-dev \
        libunwind-dev" >"$out/build-set.log" 2>&1 ||
        { tail -20 "$out/build-set.log" >&2; fail "apt-get install of the build set failed"; }
    mkdir "$root/src"
    cp -a "$out/src/mmapwatch" "$root/src/"
    chroot "$root" chown -R nobody /src/mmapwatch
    chroot "$root" setpriv --reuid=nobody --regid=nogroup --clear-groups \
        sh -c 'cd /src/mmapwatch && make clean >/dev/null && make' >>"$out/build-set.log" 2>&1 ||
        { tail -20 "$out/build-set.log" >&2; fail "make with only the build set failed"; }
    chroot "$root" /src/mmapwatch/mmapwatch --no-dump -m 8M -- \
        dd if=/dev/zero of=/dev/null bs=8M count=1 >>"$out/build-set.log" 2>&1 ||
        { tail -20 "$out/build-set.log" >&2; fail "the binary built with only the build set failed"; }
    grep -q ' dd\] mmap(NULL, 83[0-9]*, PROT_READ|PROT_WRITE' "$out/build-set.log" ||
        { tail -20 "$out/build-set.log" >&2; fail "the binary built with only the build set reported no 8 MiB mmap"; }
    echo "  OK     make with only gcc, make, libseccomp-dev, libunwind-dev, as nobody"
}

case $mode in
build) build ;;
test) test_installed ;;
root)
    [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
    mkdir -p "$out"
    base_root
    echo "$base"
    ;;
*) fail "usage: scripts/deb.sh build|test|root" ;;
esac
