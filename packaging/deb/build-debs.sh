#!/usr/bin/env bash
# Builds the .deb packages of keylime-ts with the same split as the RPM spec: keylime-base,
# keylime-registrar, keylime-verifier, keylime-tenant, keylime-agent-common, keylime-agent and the
# keylime meta package. Plain dpkg-deb (no debhelper, no build dependencies); the agent joins the
# keylime_agent group with update-alternatives in its maintainer scripts.
#
#   build-debs.sh --src <staged source tree> --out DIR --work DIR --version V --revision R
#                 --node-major N [--roles "registrar verifier tenant agent"]
# The staged tree is the one build-packages.sh makes (apps/, node_modules/, packaging/rpm/).
#
# Maintainer-script bodies are written in single quotes on purpose: their $1 expands when dpkg
# runs them, not here.
# shellcheck disable=SC2016
set -euo pipefail

roles="registrar verifier tenant agent"
while [ $# -gt 0 ]; do
  case "$1" in
    --src) src=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --revision) revision=$2; shift 2 ;;
    --node-major) node_major=$2; shift 2 ;;
    --roles) roles=$2; shift 2 ;;
    *) echo "build-debs.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
: "${src:?--src}" "${out:?--out}" "${work:?--work}" "${version:?--version}" "${revision:?--revision}"
: "${node_major:?--node-major}"

P="$src/packaging/rpm"
V="$version-$revision"
arch=$(dpkg --print-architecture)
appdir=/usr/lib/keylime-ts
confdir=/etc/keylime
unitdir=/lib/systemd/system # bookworm still ships units below /lib
agent_impl=/usr/libexec/keylime-ts/keylime_agent
agent_prio=50
# The NAN addon (better-sqlite3) is bound to the Node major it was compiled for.
node_abi_dep="nodejs (>= $node_major), nodejs (<< $((node_major + 1)))"

rm -rf "$work"
mkdir -p "$work" "$out"

# new_pkg <name>: fresh staging tree; prints nothing, sets $t.
new_pkg() {
  t="$work/$1"
  mkdir -p "$t/DEBIAN"
}

# control <name> <arch> <depends> <description...> [extra control lines via $extra]
control() {
  local name=$1 a=$2 deps=$3 desc=$4
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$name" "$V" "$a"
    printf 'Maintainer: keylime-ts developers <keylime-ts@example.invalid>\n'
    printf 'Section: admin\nPriority: optional\nHomepage: https://keylime.dev\n'
    [ -n "$deps" ] && printf 'Depends: %s\n' "$deps"
    [ -n "${extra:-}" ] && printf '%s\n' "$extra"
    printf 'Installed-Size: %s\n' "$(du -sk --exclude=DEBIAN "$t" | cut -f1)"
    printf 'Description: %s\n' "$desc"
  } >"$t/DEBIAN/control"
  extra=""
}

# script <name> <maintainer script> <body>: POSIX sh, set -e, as Debian policy wants.
script() {
  printf '#!/bin/sh\nset -e\n%s\n' "$3" >"$work/$1/DEBIAN/$2"
  chmod 0755 "$work/$1/DEBIAN/$2"
}

# conffiles: every shipped /etc file is a conffile (dpkg keeps local edits, writes .dpkg-dist).
conffiles() {
  (cd "$t" && find etc -type f | sed 's|^|/|' | sort) >"$t/DEBIAN/conffiles"
  [ -s "$t/DEBIAN/conffiles" ] || rm -f "$t/DEBIAN/conffiles"
}

# role_config <role>: /etc/keylime/<role>.conf + .conf.d; modes set here, owner set in postinst
# because --root-owner-group makes every file root-owned in the archive.
role_config() {
  install -d -m 0500 "$t$confdir" "$t$confdir/$1.conf.d"
  install -m 0400 "$P/config/$1.conf" "$t$confdir/$1.conf"
}
# postinst snippet that hands a role's config to the keylime user.
chown_config() {
  printf 'if [ "$1" = configure ]; then\n  chown keylime:keylime %s/%s.conf %s/%s.conf.d\nfi\n' \
    "$confdir" "$1" "$confdir" "$1"
}
launcher() { # <command> <bundle below appdir> <destination in $t>
  install -d "$(dirname "$t$3")"
  sed -e "s|@COMMAND@|$1|g" -e "s|@BUNDLE@|$appdir/$2|g" "$P/launcher.in" >"$t$3"
  chmod 0755 "$t$3"
}
# Units are not enabled on install (as the RPM: Fedora's presets leave keylime disabled); reload
# systemd when it runs so a new or upgraded unit is seen, stop the service on removal.
systemd_postinst() {
  printf 'if [ "$1" = configure ] && [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi\n'
}
systemd_prerm() {
  printf 'if [ "$1" = remove ] && [ -d /run/systemd/system ]; then systemctl stop %s >/dev/null 2>&1 || true; fi\n' "$1"
}

# --- keylime-base ---------------------------------------------------------------------------------
new_pkg keylime-base
install -d -m 0500 "$t$confdir"
for c in ca logging; do role_config "$c"; done
install -d "$t$appdir" "$t/usr/lib/sysusers.d" "$t/usr/lib/tmpfiles.d" "$t/usr/share/doc/keylime-base"
cp -a "$src/node_modules" "$t$appdir/node_modules"
install -m 0644 "$P/keylime.sysusers" "$t/usr/lib/sysusers.d/keylime.conf"
install -m 0644 "$P/keylime.tmpfiles" "$t/usr/lib/tmpfiles.d/keylime.conf"
install -m 0644 "$src/packaging/README.md" "$t/usr/share/doc/keylime-base/README.md"
install -d -m 0700 "$t/var/lib/keylime"
install -d -m 0500 "$t/var/lib/keylime/tpm_cert_store"
install -m 0400 "$P"/tpm_cert_store/*.pem "$t/var/lib/keylime/tpm_cert_store/"
conffiles
extra="Pre-Depends: passwd"
control keylime-base "$arch" "libc6, libstdc++6, libgcc-s1" "Keylime user, directories, shared configuration and runtime
 The keylime system user, /etc/keylime with ca.conf and logging.conf, /var/lib/keylime with
 the TPM vendor CA store, and the native Node.js modules (better-sqlite3) the role bundles load."
# Same user as keylime.sysusers; created before unpack so postinst can hand over the files.
script keylime-base preinst 'if [ "$1" = install ] || [ "$1" = upgrade ]; then
  getent group tss >/dev/null || groupadd -r tss
  getent group keylime >/dev/null || groupadd -r keylime
  getent passwd keylime >/dev/null || useradd -r -g keylime -G tss -d /var/lib/keylime \
    -s /usr/sbin/nologin -c "Keylime unprivileged user" keylime
fi'
script keylime-base postinst 'if [ "$1" = configure ]; then
  mkdir -p /run/keylime
  chown keylime:keylime /etc/keylime /etc/keylime/ca.conf /etc/keylime/ca.conf.d \
    /etc/keylime/logging.conf /etc/keylime/logging.conf.d /var/lib/keylime /run/keylime
  chmod 0700 /run/keylime
  chown -R keylime:keylime /var/lib/keylime/tpm_cert_store
fi'

# --- roles ---------------------------------------------------------------------------------------
has_role() { case " $roles " in *" $1 "*) return 0 ;; esac; return 1; }

for role in registrar verifier; do
  has_role "$role" || continue
  new_pkg "keylime-$role"
  install -d "$t$appdir"
  cp -a "$src/apps/$role" "$t$appdir/$role"
  launcher "keylime_$role" "$role/main.js" "/usr/bin/keylime_$role"
  role_config "$role"
  install -D -m 0644 "$P/systemd/keylime_$role.service" "$t$unitdir/keylime_$role.service"
  conffiles
  control "keylime-$role" all "keylime-base (= $V), $node_abi_dep" "Keylime $role (TypeScript)
 The Keylime $role service keylime_$role of keylime-ts."
  script "keylime-$role" postinst "$(chown_config "$role")
$(systemd_postinst)"
  script "keylime-$role" prerm "$(systemd_prerm "keylime_$role.service")"
done

if has_role tenant; then
  new_pkg keylime-tenant
  install -d "$t$appdir"
  cp -a "$src/apps/tenant" "$t$appdir/tenant"
  launcher keylime_tenant tenant/main.js /usr/bin/keylime_tenant
  launcher keylime-policy tenant/policy.js /usr/bin/keylime-policy
  launcher keylime_ca tenant/ca.js /usr/bin/keylime_ca
  role_config tenant
  conffiles
  control keylime-tenant all "keylime-base (= $V), nodejs (>= 20)" "Keylime tenant tools (TypeScript)
 keylime_tenant, keylime-policy and keylime_ca of keylime-ts."
  script keylime-tenant postinst "$(chown_config tenant)"
fi

if has_role agent; then
  new_pkg keylime-agent-common
  role_config agent
  install -D -m 0644 "$P/systemd/keylime_agent.service" "$t$unitdir/keylime_agent.service"
  install -D -m 0644 "$P/systemd/var-lib-keylime-secure.mount" "$t$unitdir/var-lib-keylime-secure.mount"
  conffiles
  control keylime-agent-common all "keylime-base (= $V)" "Configuration and unit shared by keylime_agent implementations
 agent.conf (the Rust agent's TOML) and keylime_agent.service, which runs the
 /usr/bin/keylime_agent alternatives link."
  script keylime-agent-common postinst "$(chown_config agent)
$(systemd_postinst)"
  script keylime-agent-common prerm "$(systemd_prerm keylime_agent.service)"

  new_pkg keylime-agent
  install -d "$t$appdir"
  cp -a "$src/apps/agent" "$t$appdir/agent"
  launcher keylime_agent agent/main.js "$agent_impl"
  # Upstream's Rust agent ships /usr/bin/keylime_agent as a plain file, which update-alternatives
  # refuses to replace (P14); an alternatives-aware build must use another package name.
  extra="Conflicts: keylime-agent-rust"
  control keylime-agent all "keylime-agent-common (= $V), nodejs (>= 20)" "Keylime agent (TypeScript)
 Registers $agent_impl as /usr/bin/keylime_agent in the keylime_agent
 alternatives group (priority $agent_prio)."
  script keylime-agent postinst "if [ \"\$1\" = configure ]; then
  update-alternatives --install /usr/bin/keylime_agent keylime_agent $agent_impl $agent_prio
fi"
  # Leave the group on removal only; an upgrade keeps the entry (and a manual choice).
  script keylime-agent prerm "if [ \"\$1\" = remove ] || [ \"\$1\" = deconfigure ]; then
  update-alternatives --remove keylime_agent $agent_impl
fi"
fi

if has_role registrar && has_role verifier && has_role tenant && has_role agent; then
  new_pkg keylime
  control keylime all "keylime-base (= $V), keylime-registrar (= $V), keylime-verifier (= $V), keylime-tenant (= $V), keylime-agent (= $V)" \
    "Keylime remote attestation (TypeScript implementation), all roles
 Meta package installing every keylime-ts role on one host."
fi

for d in "$work"/*/; do
  name=$(basename "$d")
  rm -f "$out/${name}_"*.deb
  dpkg-deb --root-owner-group -Zxz -z1 -b "$d" "$out/" >/dev/null
done
