#!/usr/bin/env bash
# Builds the test-only packages the install tests need beside the real ones, as RPMs and .debs:
#   sysroot-shim            the mini OS of a throwaway root (lib/make-sysroot-tree.sh)
#   nodejs                  the host's node binary with Fedora's virtual Provides
#   keylime-agent-rust-alt  a second agent that joins the keylime_agent alternatives group
#   keylime-agent-rust      upstream's layout: a plain /usr/bin/keylime_agent (must be refused)
#
#   build-test-packages.sh <out dir> <work dir> <native addon ...>
# The addons are only passed so that the shim carries every library they link against.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$1
work=$2
shift 2

rm -rf "$work"
mkdir -p "$work/rpmbuild" "$out/rpm" "$out/deb"
node_version=$(node -p 'process.versions.node')
node_abi=$(node -p 'process.versions.modules')
arch=$(dpkg --print-architecture)

bash "$here/lib/make-sysroot-tree.sh" "$work/shim-tree" /usr/bin/node "$@"

# --- RPMs ---------------------------------------------------------------------------------------
# rpmbuild warns about every absolute busybox applet link; keep its output for failures only.
rb() {
  rpmbuild --quiet -bb --define "_topdir $work/rpmbuild" "$@" >"$work/rpmbuild.log" 2>&1 ||
    { cat "$work/rpmbuild.log" >&2; return 1; }
}
rb --define "shim_tree $work/shim-tree" "$here/packages/sysroot-shim.spec"
rb --define "node_version $node_version" --define "node_abi $node_abi" "$here/packages/nodejs-shim.spec"
rb "$here/packages/keylime-agent-rust-alt.spec"
rb "$here/packages/keylime-agent-rust.spec"
cp "$work"/rpmbuild/RPMS/*/*.rpm "$out/rpm/"

# --- .debs --------------------------------------------------------------------------------------
# deb <name> <version> <arch> <tree> <control lines>
deb() {
  local name=$1 version=$2 a=$3 tree=$4 lines=$5
  mkdir -p "$tree/DEBIAN"
  printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: keylime-ts tests <t@example.invalid>\n%s\nDescription: test-only %s for the keylime-ts install tests\n' \
    "$name" "$version" "$a" "$lines" "$name" >"$tree/DEBIAN/control"
  dpkg-deb --root-owner-group -Znone -b "$tree" "$out/deb/" >/dev/null
}
# maintainer <tree> <script> <body>
maintainer() {
  mkdir -p "$1/DEBIAN"
  printf '#!/bin/sh\nset -e\n%s\n' "$3" >"$1/DEBIAN/$2"
  chmod 0755 "$1/DEBIAN/$2"
}

cp -a "$work/shim-tree" "$work/deb-shim"
rm -f "$work/deb-shim/usr/sbin/alternatives" # the deb tests use Debian's tool and state dirs
mkdir -p "$work/deb-shim/var/lib/dpkg/alternatives"
deb sysroot-shim 1-1 "$arch" "$work/deb-shim" \
  'Provides: passwd, libc6, libstdc++6, libgcc-s1, adduser'

mkdir -p "$work/deb-node/usr/bin"
cp /usr/bin/node "$work/deb-node/usr/bin/node"
deb nodejs "$node_version-1" "$arch" "$work/deb-node" 'Depends: sysroot-shim'

impl=/usr/libexec/keylime-agent-rust/keylime_agent
mkdir -p "$work/deb-alt$(dirname "$impl")"
printf '#!/bin/sh\necho "keylime_agent implementation=rust-alt $*"\n' >"$work/deb-alt$impl"
chmod 0755 "$work/deb-alt$impl"
maintainer "$work/deb-alt" postinst \
  "[ \"\$1\" = configure ] && update-alternatives --install /usr/bin/keylime_agent keylime_agent $impl 30; exit 0"
maintainer "$work/deb-alt" prerm \
  "if [ \"\$1\" = remove ] || [ \"\$1\" = deconfigure ]; then update-alternatives --remove keylime_agent $impl; fi"
deb keylime-agent-rust-alt 0.2.8-1 all "$work/deb-alt" 'Depends: keylime-agent-common'

mkdir -p "$work/deb-upstream/usr/bin"
printf '#!/bin/sh\necho "keylime_agent implementation=rust-upstream $*"\n' >"$work/deb-upstream/usr/bin/keylime_agent"
chmod 0755 "$work/deb-upstream/usr/bin/keylime_agent"
deb keylime-agent-rust 0.2.8-1 all "$work/deb-upstream" 'Provides: keylime-agent-implementation'
