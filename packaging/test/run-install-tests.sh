#!/usr/bin/env bash
# Install tests of the keylime-ts packages, run as root in throwaway roots: RPMs with
# `dnf --installroot` from local repositories, .debs with apt-get + `dpkg --root` (isolated apt
# configuration). Nothing outside the roots is touched: no host /etc, /usr or alternatives.
#
#   run-install-tests.sh [--packages DIR] [--only rpm|deb] [--keep]
#
# --packages  where the package target put the packages (default dist/packages); its src/ holds
#             the source tarball they were built from, which the test rebuilds as release 2
# --keep      keep the scratch folder (roots, logs) for debugging
#
# Scenarios (issue #11), for each package format:
#   1  each role package installs alone and works: its service starts from its unit (as the
#      unit's user) and answers GET /version; the agent against swtpm; the tenant CLIs run
#   2  installing keylime pulls every subpackage
#   3  a second agent (test package standing for the Rust agent, joining the keylime_agent
#      alternatives group) installs beside ours without taking over; a package with upstream's
#      plain /usr/bin/keylime_agent is refused
#   4  alternatives --set makes the second agent the default; removing it falls back to ours
#   5  an upgrade keeps an edited config (and a manual alternatives choice)
#
# App readiness: the test still reads the app's capability from the installed bundle
# (app_serves_version, app_is_stub below) to say precisely what is missing, but since every role
# is written a missing feature counts as a failure. Everything the packaging controls (files,
# owners, scriptlets, links, launchers, native modules) is strict too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
packages="$repo/dist/packages"
only=""
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --packages) packages=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "run-install-tests.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
passed=0
failed=0
pending=0
results_dir="$repo/tmp/test-results"

write_summary() { # the shape tools/run-tests.mjs sums up (tools/jest-summary-reporter.cjs)
  mkdir -p "$results_dir"
  printf '{"project":"packaging","passed":%d,"failed":%d,"skipped":0,"suitesFailed":0}\n' \
    "$passed" "$failed" >"$results_dir/packaging.json"
}

if [ "$(id -u)" -ne 0 ]; then
  # rpm and dpkg chroot into the root to run scriptlets: only root can do that.
  echo "run-install-tests.sh: must run as root (CI does)" >&2
  failed=1
  write_summary
  exit 1
fi
for tool in dnf createrepo_c rpmbuild apt-get dpkg-deb dpkg-scanpackages chroot setsid swtpm tpm2_getrandom; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run-install-tests.sh: $tool missing; run tools/setup-system.sh" >&2
    failed=1
    write_summary
    exit 1
  }
done
for fmt in rpm deb; do
  [ -d "$packages/$fmt" ] || { echo "run-install-tests.sh: no $packages/$fmt; run: npx nx package packaging" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/keylime-pkgtest.XXXXXX")
mkdir -p "$W/logs" "$W/roots"
: >"$W/pids"

# --- cleanup: every process we started, then the roots; also on failure and on signals -------
cleanup() {
  local rc=$? pid
  while read -r pid; do
    if [ -n "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  done <"$W/pids"
  sleep 0.5
  while read -r pid; do
    if [ -n "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  done <"$W/pids"
  # A root agent may mount its secure tmpfs (/var/lib/keylime/secure) inside its root; those
  # mounts are ours by construction (below $W), so take them down before removing anything.
  awk -v w="$W/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  if [ "$keep" = 1 ]; then
    echo "run-install-tests.sh: kept $W"
  elif grep -q " $W/" /proc/mounts; then
    # never recurse into something mounted from the host
    echo "run-install-tests.sh: mounts below $W, not removing it" >&2
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- reporting ---------------------------------------------------------------------------------
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# Every role is written now: a missing app feature is a regression, so it fails the run.
note_pending() { pending=$((pending + 1)); failed=$((failed + 1)); echo "FAIL (app feature missing) $*"; }
check() { # check <name> <command...>: pass when the command succeeds
  local name=$1
  shift
  if "$@" >"$W/logs/check.out" 2>&1; then pass "$name"; else
    fail "$name"
    sed 's/^/    /' "$W/logs/check.out" | tail -n 15
  fi
}

# --- test packages and the release-2 packages for the upgrade ---------------------------------
t0=$(date +%s)
# the shim must carry every library the shipped native addons link against
addons=$(find "$repo/node_modules/better-sqlite3/build/Release" \
  "$repo/node_modules/zeromq/build/linux/$(node -p process.arch)" -path '*glibc*' -name '*.node' \
  -o -name better_sqlite3.node 2>/dev/null || true)
# shellcheck disable=SC2086 # one addon path per word
bash "$here/build-test-packages.sh" "$W/testpkgs" "$W/testpkgs-work" $addons
# release 2 from the very source tarball of release 1: only the default configs differ
version=$(node -p "require('$repo/package.json').version")
srctar="$packages/src/keylime-ts-$version-1.tar.gz"
[ -f "$srctar" ] || { echo "run-install-tests.sh: $srctar missing; run: npx nx package packaging" >&2; exit 1; }
bash "$repo/packaging/scripts/build-packages.sh" --from-src "$srctar" --release 2 \
  --out "$W/rel2" --work "$W/rel2-work" --default-config-note "release 2 default" >/dev/null
# the unpacked source: the bundles exactly as packaged, for the agent's control run
mkdir -p "$W/src"
tar -C "$W/src" -xzf "$srctar"
apps="$W/src/keylime-ts-$version/apps"
rm -rf "$W/testpkgs-work" "$W/rel2-work"
createrepo_c -q "$W/testpkgs/rpm"
(cd "$W/testpkgs/deb" && dpkg-scanpackages -m . >Packages 2>/dev/null)
echo "built test packages and release 2 in $(($(date +%s) - t0)) s"

# --- package manager adapters ------------------------------------------------------------------
# PM is "rpm" or "deb"; root names are short words, the root is $W/roots/$PM-<name>.
mkdir -p "$W/home"
printf '%%_dbpath /var/lib/rpm\n' >"$W/home/.rpmmacros" # P1: dnf and rpm agree on the rpmdb

root_of() { echo "$W/roots/$PM-$1"; }

dnf_in() { # dnf_in <root> <extra repo args...> -- <dnf args...>
  local r=$1
  shift
  local repos=()
  while [ "$1" != -- ]; do repos+=("$1"); shift; done
  shift
  HOME="$W/home" dnf -y -q --installroot="$r" --releasever=1 --nogpgcheck --noplugins \
    --setopt=reposdir=/nonexistent --setopt=install_weak_deps=False \
    --setopt=clean_requirements_on_remove=False --disablerepo='*' \
    --repofrompath="kts,$packages/rpm" --repofrompath="ktstest,$W/testpkgs/rpm" \
    --enablerepo=kts --enablerepo=ktstest "${repos[@]}" "$@"
}

# apt_setup <root> <name> <sources...>: isolated apt config for one root. dpkg --root would
# still log to the host's /var/log/dpkg.log, hence --log.
apt_setup() {
  local r=$1 a="$W/apt/$2" src
  shift 2
  mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/log" "$a/empty"
  : >"$a/sources.list"
  for src in "$@"; do echo "deb [trusted=yes] file:$src ./" >>"$a/sources.list"; done
  cat >"$a/apt.conf" <<EOF
Dir::State "$a/state";
Dir::State::status "$r/var/lib/dpkg/status";
Dir::Cache "$a/cache";
Dir::Log "$a/log";
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/empty";
Dir::Etc::Parts "$a/empty";
Dir::Etc::PreferencesParts "$a/empty";
Dir::Etc::TrustedParts "$a/empty";
DPkg::Options { "--root=$r"; "--log=$a/log/dpkg.log"; "--force-unsafe-io"; "--force-confdef"; "--force-confold"; };
APT::Sandbox::User "root";
APT::Install-Recommends "false";
Debug::NoLocking "true";
EOF
  APT_CONFIG="$a/apt.conf" apt-get -q -q update >/dev/null
}
apt_in() { # apt_in <root name> <apt-get args...>
  local a="$W/apt/$1"
  shift
  APT_CONFIG="$a/apt.conf" DEBIAN_FRONTEND=noninteractive apt-get -y -q -q "$@"
}

new_root() { # new_root <name>: an empty root, ready for the package manager
  local r
  r=$(root_of "$1")
  mkdir -p "$r"
  if [ "$PM" = deb ]; then
    mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers" "$r/dev"
    : >"$r/var/lib/dpkg/status"
    # dpkg runs maintainer scripts chrooted; they redirect to /dev/null (P9)
    mknod -m 0666 "$r/dev/null" c 1 3
    mknod -m 0666 "$r/dev/zero" c 1 5
    mknod -m 0666 "$r/dev/random" c 1 8
    mknod -m 0666 "$r/dev/urandom" c 1 9
    apt_setup "$r" "$1" "$packages/deb" "$W/testpkgs/deb"
    apt_in "$1" install sysroot-shim >/dev/null
  fi
}

pm_install() { # pm_install <root name> <packages...>
  local name=$1
  shift
  if [ "$PM" = rpm ]; then dnf_in "$(root_of "$name")" -- install "$@"; else apt_in "$name" install "$@"; fi
}
pm_remove() {
  local name=$1
  shift
  if [ "$PM" = rpm ]; then dnf_in "$(root_of "$name")" -- remove "$@"; else apt_in "$name" remove "$@"; fi
}
pm_upgrade() { # to the release-2 packages
  local name=$1
  if [ "$PM" = rpm ]; then
    dnf_in "$(root_of "$name")" --repofrompath="kts2,$W/rel2/rpm" --enablerepo=kts2 -- upgrade
  else
    apt_setup "$(root_of "$name")" "$name" "$packages/deb" "$W/testpkgs/deb" "$W/rel2/deb"
    apt_in "$name" upgrade
  fi
}
pm_list() { # installed package names, one a line
  local r
  r=$(root_of "$1")
  if [ "$PM" = rpm ]; then
    rpm --root "$r" --dbpath /var/lib/rpm -qa --qf '%{NAME}\n' | sort
  else
    dpkg --root="$r" -l | awk '/^ii/{print $2}' | sed 's/:.*//' | sort
  fi
}
alt_tool() { if [ "$PM" = rpm ]; then echo alternatives; else echo update-alternatives; fi; }
alt_admin() { if [ "$PM" = rpm ]; then echo /var/lib/alternatives; else echo /var/lib/dpkg/alternatives; fi; }
unitdir() { if [ "$PM" = rpm ]; then echo /usr/lib/systemd/system; else echo /lib/systemd/system; fi; }
new_config_suffix() { if [ "$PM" = rpm ]; then echo .rpmnew; else echo .dpkg-dist; fi; }

inroot() { # inroot <root name> <command...>: as root inside the root, with a clean environment (P16)
  local r
  r=$(root_of "$1")
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

agent_link() { # where /usr/bin/keylime_agent leads, resolved inside the root (its links are absolute)
  inroot "$1" readlink -f /usr/bin/keylime_agent
}

passwd_field() { # passwd_field <root name> <file> <name> <field>: numeric ids from the root (P15)
  awk -F: -v n="$3" -v f="$4" '$1 == n { print $f }' "$(root_of "$1")/etc/$2"
}

# --- capability reads: what the installed bundle can do today ---------------------------------
bundle_of() { echo "$(root_of "$1")/usr/lib/keylime-ts/$2"; }
# The role serves GET /version when its bundle mounts that route (libs/server mountVersionedApi).
app_serves_version() { grep -q '"/version"' "$(bundle_of "$1" "$2")"; }
# A stub entry point still says so (apps/*/src/main.ts placeholders).
app_is_stub() { grep -q 'not implemented yet' "$(bundle_of "$1" "$2")"; }

# --- checks shared by the scenarios ------------------------------------------------------------
expect_packages() { # expect_packages <root name> <keylime packages expected, sorted>
  local got
  got=$(pm_list "$1" | grep -E '^keylime' | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = "$2" ] || { echo "installed: $got"; echo "expected:  $2"; return 1; }
}

config_owned_by_keylime() { # <root name> <config file>
  local r uid mode owner
  r=$(root_of "$1")
  uid=$(passwd_field "$1" passwd keylime 3)
  [ -n "$uid" ] || { echo "no keylime user in the root's /etc/passwd"; return 1; }
  owner=$(stat -c %u "$r$2")
  mode=$(stat -c %a "$r$2")
  if [ "$owner" != "$uid" ] || [ "$mode" != 400 ]; then echo "$2: uid $owner mode $mode, want $uid 400"; return 1; fi
  [ "$(stat -c %u:%a "$r/etc/keylime")" = "$uid:500" ] || { echo "/etc/keylime: $(stat -c %u:%a "$r/etc/keylime")"; return 1; }
  [ "$(stat -c %u:%a "$r/var/lib/keylime")" = "$uid:700" ] || { echo "/var/lib/keylime: $(stat -c %u:%a "$r/var/lib/keylime")"; return 1; }
  [ -n "$(find "$r/var/lib/keylime/tpm_cert_store" -name '*.pem' -user "$uid" -perm 0400)" ] ||
    { echo "tpm_cert_store not keylime-owned 0400"; return 1; }
  # the user is in tss (TPM device, the agent's secure mount)
  awk -F: '$1 == "tss" && $4 ~ /(^|,)keylime(,|$)/ { f = 1 } END { exit !f }' "$r/etc/group" ||
    { echo "keylime not in group tss"; return 1; }
}

native_modules_load() { # <root name> <role>: the native modules the role's bundles require load
  # from the one copy in keylime-base (better-sqlite3 always: SQLite is the default database)
  inroot "$1" /usr/bin/node -e "
    const fs = require('fs');
    const dir = '/usr/lib/keylime-ts/$2';
    const src = fs.readdirSync(dir).filter((f) => f.endsWith('.js'))
      .map((f) => fs.readFileSync(dir + '/' + f, 'utf8')).join('');
    for (const m of ['better-sqlite3', 'zeromq']) {
      if (m !== 'better-sqlite3' && !src.includes('require(\"' + m + '\")')) continue;
      const p = require.resolve(m, { paths: [dir] });
      if (!p.startsWith('/usr/lib/keylime-ts/node_modules/')) throw new Error(m + ' resolved to ' + p);
      const mod = require(p);
      if (m === 'better-sqlite3') console.log('sqlite', new mod(':memory:').prepare('select sqlite_version() v').get().v);
      else { new mod.Publisher().close(); console.log('zeromq', mod.version); }
    }"
}

cli_runs() { # <root name> <command> <bundle>: the launcher starts node on the bundle
  local out rc=0
  out=$(inroot "$1" "$2" --help 2>&1) || rc=$?
  if grep -q -e 'Cannot find module' -e 'ERR_DLOPEN_FAILED' -e 'not found' <<<"$out"; then
    echo "$out"
    return 1
  fi
  if [ "$rc" -eq 126 ] || [ "$rc" -eq 127 ]; then echo "exit $rc: $out"; return 1; fi
  if app_is_stub "$1" "$3"; then
    grep -q 'not implemented yet' <<<"$out" || { echo "stub did not run: $out"; return 1; }
    echo "stub"
  else
    # strict once the app is written: upstream's CLIs print usage for --help and exit 0
    if [ "$rc" -ne 0 ] || ! grep -qi usage <<<"$out"; then echo "exit $rc: $out"; return 1; fi
  fi
}

# start_service <root name> <unit> [VAR=value...]: runs ExecStart= as the unit's User=/Group=
# in the root, the way systemd would, in its own process group (recorded for cleanup).
start_service() {
  local name=$1 unit=$2 r u user group exec uid gid spec
  shift 2
  r=$(root_of "$name")
  u="$r$(unitdir)/$unit"
  user=$(sed -n 's/^User=//p' "$u")
  group=$(sed -n 's/^Group=//p' "$u")
  exec=$(sed -n 's/^ExecStart=//p' "$u")
  spec=0:0
  if [ -n "$user" ]; then
    uid=$(passwd_field "$name" passwd "$user" 3)
    gid=$(passwd_field "$name" group "${group:-$user}" 3)
    spec="$uid:$gid"
  fi
  # shellcheck disable=SC2086 # ExecStart is a command line
  setsid chroot --userspec="$spec" "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/var/lib/keylime "$@" $exec >"$W/logs/$PM-$name-$unit.log" 2>&1 </dev/null &
  echo $! >>"$W/pids"
  echo $!
}
stop_service() { kill -TERM -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wait_version <pid> <url> [http-get options]: until GET /version answers 200 with a version
wait_version() {
  local pid=$1 url=$2 i out
  shift 2
  for i in $(seq 1 60); do
    if out=$(node "$here/lib/http-get.mjs" "$url" "$@" 2>/dev/null); then
      # services answer current_version, agents supported_version (spec §2)
      if [ "$(head -n 1 <<<"$out")" = 200 ] && grep -q -e current_version -e supported_version <<<"$out"; then
        echo "$out" | tail -n +2
        return 0
      fi
    fi
    kill -0 "$pid" 2>/dev/null || { echo "service exited before answering ($i)"; return 1; }
    [ "$i" -lt 60 ] && sleep 0.5
  done
  echo "no answer within 30 s: ${out:-}"
  return 1
}
wait_file() { local i; for i in $(seq 1 60); do [ -e "$1" ] && return 0; sleep 0.5; done; return 1; }

service_log() { tail -n 15 "$W/logs/$PM-$1-$2.log" | sed 's/^/    | /'; }

copy_state() { # copy_state <from root name> <to root name> <dir below /var/lib/keylime>
  local to uid
  to="$(root_of "$2")/var/lib/keylime/$3"
  cp -a "$(root_of "$1")/var/lib/keylime/$3" "$to"
  uid=$(passwd_field "$2" passwd keylime 3)
  chown -R "$uid:$uid" "$to"
}

write_snippet() { # write_snippet <root name> <conf.d path> <content>: as an operator would
  local r f uid
  r=$(root_of "$1")
  f="$r$2"
  printf '%s\n' "$3" >"$f"
  uid=$(passwd_field "$1" passwd keylime 3)
  chown "$uid:$uid" "$f"
  chmod 0400 "$f"
}

# service_answers <root name> <role> <pid> <url> [http-get options]: strict when the bundle
# serves /version, else the launcher-and-bundle check with a PENDING note. The service keeps
# running (the agent registers with the registrar); the caller stops it.
service_answers() {
  local name=$1 role=$2 pid=$3 url=$4 body
  shift 4
  if app_serves_version "$name" "$role/main.js"; then
    if body=$(wait_version "$pid" "$url" "$@"); then
      pass "$PM $role: keylime_$role.service starts as keylime and answers GET /version: $(echo "$body" | tr -d '\n' | cut -c1-120)"
    else
      fail "$PM $role: keylime_$role.service answers GET /version: $body"
      service_log "$name" "keylime_$role.service"
    fi
  else
    sleep 1
    if grep -q -e 'Cannot find module' -e 'ERR_DLOPEN_FAILED' "$W/logs/$PM-$name-keylime_$role.service.log"; then
      fail "$PM $role: bundle does not load"
      service_log "$name" "keylime_$role.service"
    else
      pass "$PM $role: keylime_$role.service runs the bundle"
      note_pending "$PM $role: bundle has no GET /version route yet; the /version check turns strict when it has"
    fi
  fi
}

# --- scenario 1: every role alone ---------------------------------------------------------------
scenario_roles_alone() {
  local p_reg p_regtls p_ver p_zmq p_agent pid_ver pid_reg r_agent ca
  read -r p_reg p_regtls p_ver p_zmq p_agent <<<"$(node "$here/lib/free-ports.mjs" 5)"

  # verifier: upstream's default tls_dir = generate makes cv_ca on first start
  new_root verifier
  check "$PM verifier: keylime-verifier installs alone" pm_install verifier keylime-verifier
  check "$PM verifier: only base + verifier installed" expect_packages verifier "keylime-base keylime-verifier"
  check "$PM verifier: keylime user, config owned by keylime 0400, state dirs" config_owned_by_keylime verifier /etc/keylime/verifier.conf
  check "$PM verifier: its native modules load from the shared node_modules" native_modules_load verifier verifier
  write_snippet verifier /etc/keylime/verifier.conf.d/90-test.conf \
    "$(printf '[verifier]\nport = %s\nregistrar_port = %s\n[revocations]\nzmq_port = %s' "$p_ver" "$p_regtls" "$p_zmq")"
  pid_ver=$(start_service verifier keylime_verifier.service)
  ca="$(root_of verifier)/var/lib/keylime/cv_ca"
  if app_serves_version verifier verifier/main.js; then
    wait_file "$ca/client-private.pem" || true
  fi
  service_answers verifier verifier "$pid_ver" "https://127.0.0.1:$p_ver/version" \
    --ca "$ca/cacert.crt" --cert "$ca/client-cert.crt" --key "$ca/client-private.pem"

  # registrar: upstream's default (tls_dir = default) shares the verifier's CA; on a registrar
  # host the operator copies cv_ca from the verifier. Without one, let it generate its own.
  new_root registrar
  check "$PM registrar: keylime-registrar installs alone" pm_install registrar keylime-registrar
  check "$PM registrar: only base + registrar installed" expect_packages registrar "keylime-base keylime-registrar"
  check "$PM registrar: keylime user, config owned by keylime 0400, state dirs" config_owned_by_keylime registrar /etc/keylime/registrar.conf
  check "$PM registrar: its native modules load from the shared node_modules" native_modules_load registrar registrar
  local tls_dir=generate
  if [ -f "$ca/cacert.crt" ]; then
    copy_state verifier registrar cv_ca
    tls_dir=default
  fi
  write_snippet registrar /etc/keylime/registrar.conf.d/90-test.conf \
    "$(printf '[registrar]\nport = %s\ntls_port = %s\ntls_dir = %s' "$p_reg" "$p_regtls" "$tls_dir")"
  pid_reg=$(start_service registrar keylime_registrar.service)
  service_answers registrar registrar "$pid_reg" "http://127.0.0.1:$p_reg/version"

  # tenant: three CLIs
  new_root tenant
  check "$PM tenant: keylime-tenant installs alone" pm_install tenant keylime-tenant
  check "$PM tenant: only base + tenant installed" expect_packages tenant "keylime-base keylime-tenant"
  check "$PM tenant: keylime user, config owned by keylime 0400, state dirs" config_owned_by_keylime tenant /etc/keylime/tenant.conf
  local cmd bundle
  for cmd in keylime_tenant:main keylime-policy:policy keylime_ca:ca; do
    bundle="tenant/${cmd#*:}.js"
    cmd=${cmd%%:*}
    check "$PM tenant: $cmd runs its bundle$(app_is_stub tenant "$bundle" && echo ' (app stub: --help usage check PENDING)')" \
      cli_runs tenant "$cmd" "$bundle"
    app_is_stub tenant "$bundle" && note_pending "$PM tenant: $cmd is a stub; --help must print usage and exit 0 once written"
  done

  # agent: the alternatives link, then the agent against swtpm
  new_root agent
  r_agent=$(root_of agent)
  check "$PM agent: keylime-agent installs alone" pm_install agent keylime-agent
  check "$PM agent: only base + agent-common + agent installed" expect_packages agent "keylime-agent keylime-agent-common keylime-base"
  check "$PM agent: keylime user, agent.conf owned by keylime 0400, state dirs" config_owned_by_keylime agent /etc/keylime/agent.conf
  check "$PM agent: /usr/bin/keylime_agent is the alternatives link to ours" \
    test "$(agent_link agent)" = /usr/libexec/keylime-ts/keylime_agent -a -L "$r_agent/etc/alternatives/keylime_agent"
  agent_checks agent "$p_agent" "$p_reg" "$p_regtls"
  stop_service "$pid_reg"
  stop_service "$pid_ver"
}

agent_client_opts() { # one line: the agent's server cert is its own; show the verifier's client cert
  local ca
  ca="$(root_of verifier)/var/lib/keylime/cv_ca"
  if [ -f "$ca/client-cert.crt" ]; then
    echo --insecure --cert "$ca/client-cert.crt" --key "$ca/client-private.pem"
  else
    echo --insecure
  fi
}

# agent_works_unpackaged <root name> <registrar port> <registrar tls port>: the capability read
# for the agent. Runs the bundle the package was built from (from its source tarball) on the host
# with the packaged default agent.conf (state in the scratch folder, no privilege drop, its own
# agent id and swtpm so the registrar sees a new agent) against the same registrar. Only when this
# works is a failure of the packaged agent the packaging's fault. Done once per test run.
agent_works_unpackaged() {
  local d="$W/control-agent" port tpm pid tpm_pid rc=0 opts
  if [ -f "$d/result" ]; then return "$(cat "$d/result")"; fi
  mkdir -p "$d/kl" "$d/tpm"
  port=$(node "$here/lib/free-ports.mjs" 1)
  read -r tpm_pid tpm <<<"$(start_swtpm "$d/tpm" control)" || true
  [ -n "${tpm:-}" ] || { echo 1 >"$d/result"; return 1; }
  if [ -f "$(root_of verifier)/var/lib/keylime/cv_ca/cacert.crt" ]; then
    mkdir -p "$d/kl/cv_ca"
    cp "$(root_of verifier)/var/lib/keylime/cv_ca/cacert.crt" "$d/kl/cv_ca/"
  fi
  sed -e "s|^keylime_dir = .*|keylime_dir = \"$d/kl\"|" -e "s|^port = .*|port = $port|" \
    -e "s|^contact_port = .*|contact_port = $port|" -e "s|^registrar_port = .*|registrar_port = $2|" \
    -e "s|^registrar_tls_port = .*|registrar_tls_port = $3|" -e 's|^run_as = .*|run_as = ""|' \
    -e 's|^uuid = .*|uuid = "c0417401-0000-4000-8000-000000000001"|' \
    "$(root_of "$1")/etc/keylime/agent.conf" >"$d/agent.conf"
  setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin KEYLIME_AGENT_CONFIG="$d/agent.conf" \
    TCTI="swtpm:host=127.0.0.1,port=$tpm" node "$apps/agent/main.js" \
    >"$W/logs/control-agent.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >>"$W/pids"
  read -r -a opts <<<"$(agent_client_opts)"
  wait_version "$pid" "https://127.0.0.1:$port/version" "${opts[@]}" >/dev/null || rc=1
  stop_service "$pid"
  stop_service "$tpm_pid"
  echo "$rc" >"$d/result"
  return "$rc"
}

# start_swtpm <state dir> <log name>: starts swtpm on a free port pair (the control channel is
# always port + 1 for the tpm2-tss swtpm TCTI) and prints "<pid> <port>" once it answers
# (tpm2-tools as the probe). Ports are picked right before the start and a taken pair is retried:
# other test suites start swtpm on this machine at the same time.
start_swtpm() {
  local pid port try i
  for try in 1 2 3; do
    port=$(node "$here/lib/free-ports.mjs" 0 --pair)
    setsid swtpm socket --tpm2 --tpmstate "dir=$1" --flags not-need-init,startup-clear \
      --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
      --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" >"$W/logs/swtpm-$2.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >>"$W/pids"
    for i in $(seq 1 60); do
      if tpm2_getrandom -T "swtpm:host=127.0.0.1,port=$port" 8 >/dev/null 2>&1; then
        echo "$pid $port"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break # exited: the pair was taken meanwhile, try another
      sleep 0.25
    done
    kill -TERM -- "-$pid" 2>/dev/null || true
    echo "swtpm try $try failed: $(tail -n 2 "$W/logs/swtpm-$2.log")" >&2
  done
  return 1
}

# agent_checks <root name> <agent port> <registrar port> <registrar tls port>
agent_checks() {
  local name=$1 p_agent=$2 p_reg=$3 p_regtls=$4 r out rc tpm_pid p_tpm pid
  r=$(root_of "$name")
  if app_is_stub "$name" agent/main.js; then
    check "$PM agent: keylime_agent runs the bundle (app stub)" cli_runs "$name" keylime_agent agent/main.js
    note_pending "$PM agent: bundle is a stub; the config-error (exit 2) and swtpm checks turn strict once it is written"
    return 0
  fi
  # a bad option must stop it with exit code 2 and one line naming the option (design.md)
  printf '[agent]\nport = "not-a-port"\n' >"$r/tmp/bad-agent.conf"
  rc=0
  out=$(inroot "$name" KEYLIME_AGENT_CONFIG=/tmp/bad-agent.conf keylime_agent 2>&1) || rc=$?
  if [ "$rc" -eq 2 ] && grep -q port <<<"$out"; then
    pass "$PM agent: bad agent.conf -> exit 2 naming the option"
  else
    fail "$PM agent: bad agent.conf should exit 2 naming the option (exit $rc): $(echo "$out" | head -n 3)"
  fi

  # swtpm on free ports; the agent reaches it through the TCTI variable
  mkdir -p "$W/swtpm-$PM"
  read -r tpm_pid p_tpm <<<"$(start_swtpm "$W/swtpm-$PM" "$PM")" || true
  [ -n "${p_tpm:-}" ] || { fail "$PM agent: swtpm did not come up"; return 0; }

  if ! app_serves_version "$name" agent/main.js; then
    note_pending "$PM agent: bundle has no GET /version route yet; the swtpm run turns strict when it has"
    stop_service "$tpm_pid"
    return 0
  fi
  # trust the verifier's CA (what an operator copies to each agent) when the verifier made one
  [ -d "$(root_of verifier)/var/lib/keylime/cv_ca" ] && copy_state verifier "$name" cv_ca
  # ports only; run_as stays upstream's keylime:tss, which the keylime user must make work
  write_snippet "$name" /etc/keylime/agent.conf.d/90-test.conf "$(printf '[agent]\nport = %s\ncontact_port = %s\nregistrar_port = %s\nregistrar_tls_port = %s' \
    "$p_agent" "$p_agent" "$p_reg" "$p_regtls")"
  pid=$(start_service "$name" keylime_agent.service "TCTI=swtpm:host=127.0.0.1,port=$p_tpm")
  local opts
  read -r -a opts <<<"$(agent_client_opts)"
  if out=$(wait_version "$pid" "https://127.0.0.1:$p_agent/version" "${opts[@]}"); then
    pass "$PM agent: keylime_agent.service against swtpm answers GET /version"
  elif ! agent_works_unpackaged "$name" "$p_reg" "$p_regtls"; then
    # The app itself is not there yet: the same bundle fails outside the package too.
    note_pending "$PM agent: the agent does not answer /version against swtpm outside the package either (app unfinished): $(grep -v '^ *$' "$W/logs/control-agent.log" | tail -n 1)"
    service_log "$name" keylime_agent.service
  else
    fail "$PM agent: keylime_agent.service against swtpm answers GET /version (the same bundle does outside the package): $out"
    service_log "$name" keylime_agent.service
  fi
  stop_service "$pid"
  stop_service "$tpm_pid"
}

# --- scenarios 2-5 in one root holding everything -------------------------------------------------
scenario_meta_and_alternatives() {
  local r ours theirs admin
  new_root all
  r=$(root_of all)
  ours=/usr/libexec/keylime-ts/keylime_agent
  theirs=/usr/libexec/keylime-agent-rust/keylime_agent
  admin=$(alt_admin)

  # 2
  check "$PM meta: keylime installs" pm_install all keylime
  check "$PM meta: keylime pulled every subpackage" expect_packages all \
    "keylime keylime-agent keylime-agent-common keylime-base keylime-registrar keylime-tenant keylime-verifier"

  # 3
  check "$PM alternatives: second agent (rust-alt test package) installs beside ours" pm_install all keylime-agent-rust-alt
  check "$PM alternatives: ours stays the default (priority 50 > 30)" \
    test "$(agent_link all)" = "$ours"
  check "$PM alternatives: both agents are in the keylime_agent group" \
    sh -c "grep -qx '$ours' '$r$admin/keylime_agent' && grep -qx '$theirs' '$r$admin/keylime_agent'"
  check "$PM alternatives: our agent package and the shared config are still installed" expect_packages all \
    "keylime keylime-agent keylime-agent-common keylime-agent-rust-alt keylime-base keylime-registrar keylime-tenant keylime-verifier"
  # Upstream's real Rust package ships a plain /usr/bin/keylime_agent, which would silently
  # replace the link (P14): Conflicts keeps the two apart. dnf refuses unless told to erase ours
  # (--allowerasing); apt would offer to remove ours, so ask it to remove nothing.
  local keep_ours=()
  [ "$PM" = deb ] && keep_ours=(--no-remove)
  if pm_install all "${keep_ours[@]}" keylime-agent-rust >"$W/logs/hazard.log" 2>&1; then
    fail "$PM alternatives: a package with a plain /usr/bin/keylime_agent went in beside ours"
  else
    pass "$PM alternatives: a package with a plain /usr/bin/keylime_agent is refused beside ours (Conflicts)"
  fi
  check "$PM alternatives: link untouched after the refused install" test -L "$r/usr/bin/keylime_agent"

  # 4
  check "$PM alternatives: $(alt_tool) --set keylime_agent <rust-alt> succeeds" inroot all "$(alt_tool)" --set keylime_agent "$theirs"
  check "$PM alternatives: --set made the second agent the default" \
    test "$(agent_link all)" = "$theirs"
  check "$PM alternatives: keylime_agent now runs the second agent" \
    sh -c "chroot '$r' /usr/bin/env -i PATH=/usr/bin:/bin keylime_agent | grep -q implementation=rust-alt"
  check "$PM alternatives: removing the second agent" pm_remove all keylime-agent-rust-alt
  check "$PM alternatives: removal fell back to ours" \
    test "$(agent_link all)" = "$ours"
  check "$PM alternatives: the group only holds ours" \
    sh -c "! grep -qx '$theirs' '$r$admin/keylime_agent' && grep -qx '$ours' '$r$admin/keylime_agent'"

  # 5: edit two configs, leave one alone, make a manual alternatives choice, then upgrade
  chmod u+w "$r/etc/keylime/registrar.conf" "$r/etc/keylime/agent.conf"
  sed -i 's/^port = 8890$/port = 18890 # local edit/' "$r/etc/keylime/registrar.conf"
  sed -i 's/^uuid = .*/uuid = "hash_ek" # local edit/' "$r/etc/keylime/agent.conf"
  chmod 0400 "$r/etc/keylime/registrar.conf" "$r/etc/keylime/agent.conf"
  pm_install all keylime-agent-rust-alt >/dev/null
  inroot all "$(alt_tool)" --set keylime_agent "$theirs" >/dev/null
  check "$PM upgrade: to release 2" pm_upgrade all
  check "$PM upgrade: every keylime package is at release 2" sh -c "
    for p in keylime keylime-base keylime-registrar keylime-verifier keylime-tenant keylime-agent-common keylime-agent; do
      v=\$(\"\$0\" \"\$p\"); case \"\$v\" in *-2|*-2.*) ;; *) echo \"\$p \$v\"; exit 1 ;; esac
    done" "$W/pm-version.sh"
  check "$PM upgrade: the edited registrar.conf survived" grep -q '^port = 18890 # local edit' "$r/etc/keylime/registrar.conf"
  check "$PM upgrade: the edited agent.conf survived" grep -q '^uuid = "hash_ek" # local edit' "$r/etc/keylime/agent.conf"
  check "$PM upgrade: the new default was put beside it ($(new_config_suffix))" \
    grep -q 'release 2 default' "$r/etc/keylime/registrar.conf$(new_config_suffix)"
  check "$PM upgrade: the unedited verifier.conf took the new default" grep -q 'release 2 default' "$r/etc/keylime/verifier.conf"
  check "$PM upgrade: configs still owned by keylime 0400" config_owned_by_keylime all /etc/keylime/registrar.conf
  check "$PM upgrade: the manual alternatives choice survived" \
    test "$(agent_link all)" = "$theirs"

  # our agent leaves the group when it is removed (with the meta package that requires it)
  check "$PM alternatives: removing our agent package" pm_remove all keylime-agent
  check "$PM alternatives: our agent left the group, the other one remains" \
    sh -c "! grep -qx '$ours' '$r$admin/keylime_agent' && grep -qx '$theirs' '$r$admin/keylime_agent'"
  check "$PM alternatives: keylime_agent still runs the other agent" \
    sh -c "chroot '$r' /usr/bin/env -i PATH=/usr/bin:/bin keylime_agent | grep -q implementation=rust-alt"
}

# --- run ----------------------------------------------------------------------------------------
for PM in rpm deb; do
  [ -z "$only" ] || [ "$only" = "$PM" ] || continue
  t0=$(date +%s)
  # the installed version of a package in the "all" root, as a script for check's subshells
  cat >"$W/pm-version.sh" <<EOF
#!/bin/sh
if [ "$PM" = rpm ]; then
  rpm --root "$W/roots/$PM-all" --dbpath /var/lib/rpm -q --qf '%{VERSION}-%{RELEASE}' "\$1"
else
  dpkg-query --admindir="$W/roots/$PM-all/var/lib/dpkg" -W -f='\${Version}' "\$1"
fi
EOF
  chmod +x "$W/pm-version.sh"
  scenario_roles_alone
  scenario_meta_and_alternatives
  echo "$PM scenarios: $(($(date +%s) - t0)) s"
done

write_summary
echo "$passed passed, $failed failed, $pending pending app features ($(($(date +%s) - started)) s)"
[ "$failed" -eq 0 ]
