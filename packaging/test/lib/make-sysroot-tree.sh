#!/usr/bin/env bash
# Makes the file tree of the test-only "sysroot-shim" package: the smallest OS a throwaway root
# needs so that rpm/dpkg can run our scriptlets chrooted into it (packaging.md §1.3, P8), built
# from this Debian host's own binaries:
#   static busybox (/bin/sh and the usual tools), dpkg's update-alternatives, the shared libraries
#   node and the native addons link against (found with ldd, so the host layout does not matter),
#   stand-ins for useradd/groupadd/getent (this busybox has no adduser/getent applets), and a
#   minimal /etc. Device nodes are not in the tree: the RPM declares them with %dev, the deb
#   tests create them when they make a root.
#
#   make-sysroot-tree.sh <dest> <elf files whose libraries to include...>
set -euo pipefail

dest=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$dest"
mkdir -p "$dest"/{bin,sbin,usr/bin,usr/sbin,etc,root,run,tmp,var/tmp,var/lib/alternatives,etc/alternatives}
chmod 1777 "$dest/tmp" "$dest/var/tmp"
chmod 0700 "$dest/root"

# busybox and its applets (symlinks at the paths busybox itself suggests)
cp /bin/busybox "$dest/bin/busybox"
ln -s busybox "$dest/bin/sh"
busybox --list-full | while read -r applet; do
  case "$applet" in bin/sh | bin/busybox | linuxrc | sbin/init) continue ;; esac
  [ -e "$dest/$applet" ] || ln -s /bin/busybox "$dest/$applet"
done

# update-alternatives (dpkg's C program, links only libc) and Fedora's name for it. Fedora keeps
# its state in /var/lib/alternatives; Debian's tool takes the directories as options.
cp /usr/bin/update-alternatives "$dest/usr/bin/update-alternatives"
cat >"$dest/usr/sbin/alternatives" <<'EOF'
#!/bin/sh
# Test stand-in for Fedora's alternatives(8): same verbs, Fedora's state directories.
exec /usr/bin/update-alternatives --altdir /etc/alternatives --admindir /var/lib/alternatives \
  --log /dev/null "$@"
EOF
chmod 0755 "$dest/usr/sbin/alternatives"

# shared libraries: every library the given ELF files and update-alternatives need, at the path
# the host's loader reports, plus the loader itself.
for elf in "$@" /usr/bin/update-alternatives; do
  ldd "$elf" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$dest$(dirname "$lib")"
  cp -L "$lib" "$dest$lib"
  chmod 0755 "$dest$lib" # rpm only generates soname Provides for executable files
done

# user and group tools: just enough of shadow-utils/glibc for the scriptlets we run
install -m 0755 "$here/useradd" "$dest/usr/sbin/useradd"
install -m 0755 "$here/groupadd" "$dest/usr/sbin/groupadd"
install -m 0755 "$here/getent" "$dest/usr/bin/getent"

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dest/etc/passwd"
printf 'root:x:0:\n' >"$dest/etc/group"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' >"$dest/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dest/etc/nsswitch.conf"
printf '/bin/sh\n' >"$dest/etc/shells"
