#!/usr/bin/env bash
# Builds the keylime-ts RPMs (packaging/rpm/keylime.spec) and the same split as .deb packages
# (packaging/deb/build-debs.sh) from the Nx build output in dist/apps.
#
#   build-packages.sh [--roles "registrar verifier tenant agent"] [--out DIR] [--release N]
#                     [--work DIR] [--apps DIR | --from-src TARBALL] [--default-config-note TEXT]
#
# --roles      roles to package (default: all four, which also builds the keylime meta package)
# --out        output folder; gets rpm/ and deb/, each a local repository (default dist/packages)
# --release    package release / Debian revision (default 1)
# --work       scratch folder (default tmp/packaging/build-<release>)
# --apps       where the Nx build put the bundles (default dist/apps)
# --from-src   rebuild from a source tarball an earlier run left in <out>/src instead of staging
#              dist/apps and node_modules again (the upgrade test builds release 2 this way, so
#              both releases hold the same bundles)
# --default-config-note
#              append this comment line to every shipped default config; the upgrade install test
#              uses it to make the defaults of two releases differ.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

roles="registrar verifier tenant agent"
out="$repo/dist/packages"
release=1
work=""
apps="$repo/dist/apps"
from_src=""
config_note=""
while [ $# -gt 0 ]; do
  case "$1" in
    --roles) roles=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --release) release=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --apps) apps=$2; shift 2 ;;
    --from-src) from_src=$2; shift 2 ;;
    --default-config-note) config_note=$2; shift 2 ;;
    *) echo "build-packages.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$work" ] || work="$repo/tmp/packaging/build-$release"
case "$out" in /*) ;; *) out="$repo/$out" ;; esac
case "$work" in /*) ;; *) work="$repo/$work" ;; esac
case "$from_src" in /* | "") ;; *) from_src="$repo/$from_src" ;; esac

for tool in rpmbuild dpkg-deb createrepo_c dpkg-scanpackages; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "build-packages.sh: $tool not found; run tools/setup-system.sh as root" >&2
    exit 1
  }
done

version=$(node -p "require('$repo/package.json').version")
node_abi=$(node -p 'process.versions.modules')
node_major=$(node -p 'process.versions.node.split(".")[0]')
srcname=keylime-ts
src="$work/src/$srcname-$version"

rm -rf "$work"
mkdir -p "$work/rpmbuild/SOURCES" "$out"

# stage: the source tree from dist/apps, the runtime node_modules and packaging/rpm
stage() {
  mkdir -p "$src/apps" "$src/node_modules" "$src/packaging"
  # --- 1. bundles -------------------------------------------------------------------------------
  declare -A bundles=([registrar]="main" [verifier]="main" [tenant]="main policy ca" [agent]="main")
  for role in $roles; do
    [ -n "${bundles[$role]:-}" ] || { echo "build-packages.sh: unknown role $role" >&2; exit 2; }
    for b in ${bundles[$role]}; do
      f="$apps/$role/$b.js"
      [ -f "$f" ] || { echo "build-packages.sh: $f missing; run: npx nx build $role" >&2; exit 1; }
    done
    # The bundles and the assets the app's build copies beside them (the registrar's fallback
    # tpm_cert_store). Not shipped: source maps (they double the size and nothing enables them)
    # and the package.json stub esbuild writes.
    mkdir -p "$src/apps/$role"
    cp -a "$apps/$role/." "$src/apps/$role/"
    find "$src/apps/$role" \( -name '*.map' -o -path "$src/apps/$role/package.json" \) -delete
  done

  # --- 2. the runtime part of the external native modules, shipped once in keylime-base ---------
  # Which externals the bundles load (project.json "external"); better-sqlite3 always ships because
  # the SQLite database is the default for registrar and verifier.
  needed="better-sqlite3"
  for ext in zeromq pg-native; do
    if grep -qs "require(\"$ext\")" "$src"/apps/*/*.js; then
      if [ -d "$repo/node_modules/$ext" ]; then
        needed="$needed $ext"
      else
        # pg's optional native client: pg falls back to its JavaScript client when it is absent.
        echo "build-packages.sh: note: a bundle mentions $ext, not installed, not shipped" >&2
      fi
    fi
  done

  module_dir() { # module_dir <name> <from dir>: Node's node_modules lookup, walking up from <from>
    local d=$2
    while :; do
      if [ -f "$d/node_modules/$1/package.json" ]; then
        echo "$d/node_modules/$1"
        return 0
      fi
      [ "$d" != / ] || { echo "build-packages.sh: module $1 not found from $2" >&2; return 1; }
      d=$(dirname "$d")
    done
  }
  # copy_module <name> <resolve-from> <relative paths to keep...>: only what runs, no sources.
  copy_module() {
    local name=$1 from=$2 dir rel
    shift 2
    dir=$(module_dir "$name" "$from")
    mkdir -p "$src/node_modules/$name"
    for rel in package.json "$@"; do
      for m in "$dir"/$rel; do
        [ -e "$m" ] || continue
        mkdir -p "$(dirname "$src/node_modules/$name/${m#"$dir"/}")"
        cp -a "$m" "$src/node_modules/$name/${m#"$dir"/}"
      done
    done
  }
  arch_dir=$(node -p 'process.arch')
  for mod in $needed; do
    case "$mod" in
      better-sqlite3)
        d=$(module_dir better-sqlite3 "$repo")
        copy_module better-sqlite3 "$repo" LICENSE lib build/Release/better_sqlite3.node
        copy_module bindings "$d" LICENSE.md bindings.js
        copy_module file-uri-to-path "$(module_dir bindings "$d")" LICENSE index.js
        ;;
      zeromq)
        d=$(module_dir zeromq "$repo")
        copy_module zeromq "$repo" 'LICENSE*' '*.js' lib build/manifest.json \
          "build/linux/$arch_dir/node/glibc-*"
        copy_module cmake-ts "$d" build/loader.js build/lib.js
        # zeromq ships one prebuilt addon per Node ABI and its loader tries them newest first.
        # Some need a newer glibc/libstdc++ than the build host has (GLIBC_2.38 on Debian 12);
        # keep only those this host can load, so the automatic ELF Requires of the package stay
        # satisfiable on the systems we build for, and drop the others from the manifest.
        for f in "$src"/node_modules/zeromq/build/linux/"$arch_dir"/node/*/addon.node; do
          case "$(ldd "$f" 2>&1 || true)" in *"not found"*) rm -rf "$(dirname "$f")" ;; esac
        done
        node -e '
          const fs = require("fs"), path = require("path"), dir = process.argv[1];
          const file = path.join(dir, "manifest.json");
          const m = JSON.parse(fs.readFileSync(file, "utf8"));
          const kept = Object.fromEntries(Object.entries(m).filter(([, p]) => fs.existsSync(path.join(dir, p))));
          if (Object.keys(kept).length === 0) throw new Error("no loadable zeromq addon for this host");
          fs.writeFileSync(file, JSON.stringify(kept));' "$src/node_modules/zeromq/build"
        ;;
      pg-native)
        copy_module pg-native "$repo" LICENSE index.js lib
        ;;
    esac
  done
  # No source maps, type declarations or tests inside the shipped modules.
  find "$src/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' \) -delete

  # --- 3. packaging files -------------------------------------------------------------------------
  cp -a "$repo/packaging/rpm" "$src/packaging/rpm"
  cp "$repo/packaging/README.md" "$src/packaging/README.md"
}

if [ -n "$from_src" ]; then
  mkdir -p "$work/src"
  tar -C "$work/src" -xzf "$from_src"
  [ -d "$src" ] || { echo "build-packages.sh: $from_src has no $srcname-$version/" >&2; exit 1; }
  roles=$(cd "$src/apps" && echo *)
else
  stage
fi
# bundled() Provides: every shipped module with its version
bundled=""
for m in "$src"/node_modules/*/package.json; do
  [ -f "$m" ] || continue
  bundled="$bundled $(basename "$(dirname "$m")")=$(node -p "require('$m').version")"
done
if [ -n "$config_note" ]; then
  for c in "$src"/packaging/rpm/config/*.conf; do printf '# %s\n' "$config_note" >>"$c"; done
fi

# --- 4. RPMs ------------------------------------------------------------------------------------
tar -C "$work/src" -czf "$work/rpmbuild/SOURCES/$srcname-$version.tar.gz" "$srcname-$version"
cp "$repo/packaging/rpm/keylime.sysusers" "$work/rpmbuild/SOURCES/"
without=()
for r in registrar verifier tenant agent; do
  case " $roles " in *" $r "*) ;; *) without+=(--without "$r") ;; esac
done
load=()
# Debian's rpm lacks the Fedora macros (P3, P4); Fedora's rpmbuild has them.
[ -f /etc/debian_version ] && load=(--load="$repo/packaging/rpm/macros.debian")
rpmbuild "${load[@]}" --quiet -bb \
  --define "_topdir $work/rpmbuild" \
  --define "pkg_version $version" --define "pkg_release $release" \
  --define "node_abi $node_abi" --define "bundled_node_modules ${bundled# }" \
  "${without[@]}" "$repo/packaging/rpm/keylime.spec"

mkdir -p "$out/rpm" "$out/src"
# keep the source tarball: the exact input of these packages, and what --from-src takes
[ -n "$from_src" ] || cp "$work/rpmbuild/SOURCES/$srcname-$version.tar.gz" "$out/src/$srcname-$version-$release.tar.gz"
for r in base $roles; do
  case "$r" in agent) names="keylime-agent-common keylime-agent" ;; *) names="keylime-$r" ;; esac
  for n in $names; do rm -f "$out/rpm/$n-[0-9]"*.rpm; done
done
rm -f "$out"/rpm/keylime-[0-9]*.rpm
cp "$work"/rpmbuild/RPMS/*/*.rpm "$out/rpm/"
createrepo_c -q "$out/rpm"

# --- 5. .debs -----------------------------------------------------------------------------------
mkdir -p "$out/deb"
bash "$repo/packaging/deb/build-debs.sh" --src "$src" --out "$out/deb" --work "$work/deb" \
  --version "$version" --revision "$release" --node-major "$node_major" --roles "$roles"
(cd "$out/deb" && dpkg-scanpackages -m . >Packages 2>/dev/null)

echo "build-packages.sh: $(find "$out/rpm" -name '*.rpm' | wc -l) rpms, $(find "$out/deb" -name '*.deb' | wc -l) debs in ${out#"$repo"/}"
