#!/bin/sh
# The kernel of the cgroup v2 test VM (tests/integration/test_vm.py):
# Debian 12's own, from the package linux-image-amd64 depends on, fetched
# with `apt-get download` and unpacked into build/vm; never installed.
# Prints the path of its vmlinuz; exit 1 with one line when it cannot.
set -eu
cd "$(dirname "$0")/.."
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
if [ -z "$pkg" ]; then
    # No package lists: a kernel fetched before will do.
    for f in build/vm/vmlinuz-*; do
        [ -r "$f" ] && { echo "$(pwd)/$f"; exit 0; }
    done
    echo "cannot tell which kernel linux-image-amd64 is (run apt-get update)"
    exit 1
fi
ver=${pkg#linux-image-}
out=build/vm/vmlinuz-$ver
if [ ! -r "$out" ]; then
    mkdir -p build/vm
    tmp=$(mktemp -d build/vm/fetch.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    if ! (cd "$tmp" && apt-get download "$pkg" >download.log 2>&1); then
        echo "apt-get download $pkg failed: $(tail -n 1 "$tmp/download.log")"
        exit 1
    fi
    dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" "./boot/vmlinuz-$ver"
    mv "$tmp/boot/vmlinuz-$ver" "$out"
fi
echo "$(pwd)/$out"
