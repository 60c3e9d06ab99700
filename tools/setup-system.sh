#!/usr/bin/env bash
# Installs the system packages keylime-ts needs for its tests and demo: swtpm (software TPM),
# tpm2-tools (independent cross-checks), PostgreSQL (scale-out store tests), rpm/dpkg tooling.
# Idempotent: packages already present are left alone. apt-get on Debian/Ubuntu, dnf on Fedora.
set -euo pipefail

APT_PACKAGES=(swtpm swtpm-tools tpm2-tools postgresql openssl rpm createrepo-c dnf busybox-static dpkg-dev shellcheck)
DNF_PACKAGES=(swtpm swtpm-tools tpm2-tools postgresql-server openssl rpm-build createrepo_c dnf busybox dpkg-dev ShellCheck)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system.sh: must run as root to install system packages (try: sudo $0)" >&2
  exit 1
fi

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-system.sh: all packages present (${APT_PACKAGES[*]})"
    exit 0
  fi
  echo "setup-system.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y -q "${DNF_PACKAGES[@]}"
else
  echo "setup-system.sh: neither apt-get nor dnf found; install by hand: ${APT_PACKAGES[*]}" >&2
  exit 1
fi

for tool in swtpm swtpm_setup tpm2_quote; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-system.sh: $tool still missing after install" >&2; exit 1; }
done
echo "setup-system.sh: done"
