#!/usr/bin/env bash
# Fetches bookworm-backports' lavapipe (mesa-vulkan-drivers) into the cache, unpacked, with an
# ICD json naming its libvulkan_lvp.so, and prints the path of that json. Nothing is installed:
# the machine's own Mesa stays as it is; tests select this driver with VK_DRIVER_FILES /
# VK_ICD_FILENAMES for the VM runs only (inside the VM, /dev/udmabuf lets it offer SYNC_FD).
#
# The backports source line is derived from the Debian mirror already configured in /etc/apt,
# and used through a private apt configuration under the cache (the system's sources and lists
# are not touched). The unpacked driver is cached under
#   ${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}/lavapipe/<package version>/
# stdout: only the json path. Exit status: 0, or 77 when the package cannot be had (no mirror
# configured, no network), with the reason on stderr.
set -euo pipefail

readonly SUITE=bookworm-backports
readonly PACKAGE=mesa-vulkan-drivers
cache_root=${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}
apt_dir=$cache_root/apt-backports

skip() {
  echo "fetch-lavapipe.sh: SKIP: $*" >&2
  exit 77
}

# The first Debian archive URI in the system's sources (deb822 or one-line style) that serves
# bookworm itself (not the security archive).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = "" }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }
    ' "$f"
  done
  local lists=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && lists+=("$f"); done
  ((${#lists[@]})) || return 0
  cat "${lists[@]}" \
    | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i + 1) == "bookworm") print $i; break } }'
}

mirror=$(debian_mirror | head -n 1 || true)
[[ -n $mirror ]] || skip "no Debian bookworm mirror in /etc/apt to derive the $SUITE source from"

mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror $SUITE main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/none"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)

# Refresh the suite's index at most once a day.
stamp=$apt_dir/updated
if [[ ! -f $stamp ]] || [[ -n $(find "$stamp" -mmin +1440) ]]; then
  apt-get "${apt_opts[@]}" -qq update >&2 || skip "apt-get update of $SUITE from $mirror failed"
  touch "$stamp"
fi
version=$(apt-cache "${apt_opts[@]}" show "$PACKAGE" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
[[ -n $version ]] || skip "$PACKAGE is not in $SUITE on $mirror"

dest=$cache_root/lavapipe/$version
json=$dest/lvp_icd.json
if [[ -f $json ]]; then
  echo "$json"
  exit 0
fi
work=$(mktemp -d "$cache_root/lavapipe.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${apt_opts[@]}" -qq download "$PACKAGE=$version" >&2) \
  || skip "apt-get download $PACKAGE=$version failed"
dpkg-deb -x "$work"/*.deb "$work/root"
lib=$(find "$work/root" -name libvulkan_lvp.so | head -n 1)
[[ -n $lib ]] || {
  echo "fetch-lavapipe.sh: $PACKAGE $version has no libvulkan_lvp.so" >&2
  exit 1
}
mkdir -p "$work/out"
cp "$lib" "$work/out/"
api=$(find "$work/root" -name 'lvp_icd*.json' -exec sed -n 's/.*"api_version": *"\([0-9.]*\)".*/\1/p' {} + | head -n 1)
cat >"$work/out/lvp_icd.json" <<JSON
{
    "ICD": {
        "api_version": "${api:-1.3.0}",
        "library_path": "$dest/libvulkan_lvp.so"
    },
    "file_format_version": "1.0.0"
}
JSON
echo "$version" >"$work/out/version"
mkdir -p "$cache_root/lavapipe"
rm -rf "$dest"
mv "$work/out" "$dest"
echo "$json"
