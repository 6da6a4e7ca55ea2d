#!/usr/bin/env bash
# Build (or find in the cache) the test kernel that tests/vm/run-in-vm.sh boots.
#
# Usage: build-kernel.sh [--patched] [--print-path]
#
# The development hosts have neither CONFIG_SW_SYNC nor any DRM driver, so the
# real-kernel tests run in QEMU on a kernel built from Debian's linux-source-6.12
# with `make tinyconfig` plus tests/vm/kernel.config.
#
# --patched: the second test kernel, the same source and configuration with
# tests/vm/sw_sync-refcount-fix.patch applied (the seed's sw_sync refcount race
# fixed); run-in-vm.sh --kernel patched boots it.
# --print-path: print where the image is (or would be) and build nothing.
#
# stdout: only the path of bzImage (so callers can do KERNEL=$(build-kernel.sh)).
# stderr: progress; the full build log is kept next to the image.
# Exit status: 0 on success, 77 when a build prerequisite is not installed (ctest
# maps 77 to SKIP), 1 on any other failure.
#
# The images are cached under
#   ${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}/kernel/<pkgversion>-<key>/bzImage
#   ${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}/kernel/<pkgversion>-patched-<pkey>/bzImage
# where <key> is the first 16 hex digits of the sha256 of the fragment and of
# RECIPE_VERSION below, and <pkey> that of the same plus the patch's content.
# A cached image is reused without any other work.
#
# The patched kernel differs from the stock one in one file, so it is built
# incrementally where possible: a stock build whose patched image is not cached
# yet leaves its object tree in <stock dir>/build (~1.5 GB), and --patched
# (which waits for a stock build in progress) applies the patch in that tree,
# in place since kbuild records absolute paths, re-makes (sw_sync.o and the
# link), publishes and deletes the tree. Without a tree, --patched builds from
# the tarball. So build the stock kernel first (scripts/test.sh does).
set -euo pipefail

# Bump when the build steps change in a way that changes the image, so that
# cached kernels built by the old recipe are not reused.
readonly RECIPE_VERSION=1
readonly SOURCE_PACKAGE=linux-source-6.12
readonly SOURCE_TARBALL=/usr/src/linux-source-6.12.tar.xz

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly fragment=$script_dir/kernel.config
readonly fix_patch=$script_dir/sw_sync-refcount-fix.patch

die() {
  echo "build-kernel.sh: $*" >&2
  exit 1
}

skip() {
  echo "build-kernel.sh: SKIP: $*" >&2
  exit 77
}

print_path_only=0
patched=0
while (($# > 0)); do
  case $1 in
    --print-path) print_path_only=1 ;;
    --patched) patched=1 ;;
    -h | --help)
      # The header comment, up to the first line of code.
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument '$1' (usage: build-kernel.sh [--patched] [--print-path])" ;;
  esac
  shift
done

[[ -f $fragment ]] || die "kernel config fragment $fragment is missing"
((!patched)) || [[ -f $fix_patch ]] || die "kernel patch $fix_patch is missing"

# The cache key needs the source package's version: without the package there
# is nothing to build, so this is a SKIP rather than an error.
pkg_version=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$SOURCE_PACKAGE" 2>/dev/null || true)
if [[ $pkg_version != installed\ * || ! -f $SOURCE_TARBALL ]]; then
  skip "package $SOURCE_PACKAGE is not installed (no $SOURCE_TARBALL); run the dependency install script or apt-get install $SOURCE_PACKAGE"
fi
pkg_version=${pkg_version#installed }

# The stock key must not change (cached stock kernels stay valid); the
# patched one adds the patch, so each version of the patch is its own kernel.
cache_key() {
  local key
  key=$( (
    cat "$fragment"
    echo "recipe=$RECIPE_VERSION"
    if [[ $1 == patched ]]; then
      echo "patch=$(basename "$fix_patch")"
      cat "$fix_patch"
    fi
  ) | sha256sum)
  echo "${key:0:16}"
}

cache_root=${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}
stock_dir=$cache_root/kernel/$pkg_version-$(cache_key stock)
# The object tree a stock build leaves for --patched, and the mark that says it
# is complete and unpatched (no stock build or --patched is working in it).
stock_tree=$stock_dir/build
readonly reusable_mark=.syncbridge-reusable-tree
# A stock build needs no patch (it just keeps no tree without one).
patched_dir=
[[ ! -f $fix_patch ]] || patched_dir=$cache_root/kernel/$pkg_version-patched-$(cache_key patched)
if ((patched)); then
  kernel_dir=$patched_dir
  what="patched test kernel ($(basename "$fix_patch"))"
else
  kernel_dir=$stock_dir
  what="test kernel"
fi
image=$kernel_dir/bzImage

if ((print_path_only)); then
  echo "$image"
  exit 0
fi

# Fast path, taken by every test run once the kernel exists: no lock, no checks.
if [[ -f $image ]]; then
  echo "$image"
  exit 0
fi

# Each missing tool names the Debian package that provides it.
missing=()
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || missing+=("$2 (for $1)")
}
need_cmd make make
need_cmd gcc gcc
need_cmd flex flex
need_cmd bison bison
need_cmd bc bc
need_cmd xz xz-utils
need_cmd perl perl
need_cmd flock util-linux
((!patched)) || need_cmd patch patch
[[ -f /usr/include/gelf.h ]] || missing+=("libelf-dev (for gelf.h, needed by objtool)")
[[ -f /usr/include/openssl/opensslv.h ]] || missing+=("libssl-dev (for openssl headers)")
if ((${#missing[@]} > 0)); then
  skip "kernel build prerequisites missing, install: ${missing[*]}"
fi

mkdir -p "$kernel_dir" 2>/dev/null || die "cannot create $kernel_dir: set SYNCBRIDGE_CACHE_DIR to a writable directory"
# Serialise concurrent builds of the same kernel (e.g. parallel ctest jobs that
# all start by asking for the image); the loser waits, then takes the fast path.
exec 9>"$kernel_dir/.lock"
if ! flock -n 9; then
  echo "build-kernel.sh: another build of $image is running; waiting for it" >&2
  flock 9
fi
if [[ -f $image ]]; then
  echo "$image"
  exit 0
fi

build_dir=$kernel_dir/build
log=$kernel_dir/build.log
: >"$log"

# --patched: a stock tree to build in? The stock lock (taken after ours, never
# the other way round) waits for a stock build in progress and keeps any other
# from deleting the tree while we use it.
incremental=0
if ((patched)) && [[ -d $stock_dir ]]; then
  exec 8>"$stock_dir/.lock"
  if ! flock -n 8; then
    echo "build-kernel.sh: a build of the stock kernel is running; waiting for it (to reuse its object tree)" >&2
    flock 8
  fi
  if [[ -f $stock_tree/$reusable_mark ]]; then
    incremental=1
    build_dir=$stock_tree
    # From here on the tree is no stock tree: if we fail half way, it goes.
    rm -f "$build_dir/$reusable_mark"
  else
    exec 8>&-
  fi
fi

# The object tree is ~1.5 GB and reused at most once, by --patched (see the
# top): a new key means a fresh build, and a failed build starts again from
# the tarball.
remove_build_dir() {
  if [[ ${SYNCBRIDGE_KEEP_KERNEL_BUILD:-0} != 1 ]]; then
    rm -rf "$build_dir"
  fi
}

on_error() {
  local status=$?
  echo "build-kernel.sh: kernel build failed (status $status); last lines of $log:" >&2
  tail -n 40 "$log" >&2 || true
  [[ ! -f $build_dir/.config ]] || cp "$build_dir/.config" "$kernel_dir/config.failed"
  remove_build_dir
  exit 1
}
trap on_error ERR

step() {
  echo "build-kernel.sh: $*" >&2
  echo "=== $* ($(date -u +%FT%TZ))" >>"$log"
}

start=$SECONDS

if ((incremental)); then
  step "building $what in the stock object tree $build_dir into $kernel_dir (log: $log)"
else
  # A previous run may have died half way; never build on top of its leftovers.
  rm -rf "$build_dir"
  step "building $what from $SOURCE_PACKAGE $pkg_version into $kernel_dir (log: $log)"
  mkdir -p "$build_dir"
  step "extracting $SOURCE_TARBALL"
  tar -xJf "$SOURCE_TARBALL" -C "$build_dir" --strip-components=1 >>"$log" 2>&1

  step "configuring (tinyconfig + $(basename "$fragment"))"
  {
    make -C "$build_dir" tinyconfig
    (cd "$build_dir" && scripts/kconfig/merge_config.sh -m .config "$fragment")
    make -C "$build_dir" olddefconfig
  } >>"$log" 2>&1

  # merge_config.sh and olddefconfig silently drop an option whose
  # dependencies are not met; a kernel without, say, SW_SYNC would turn every
  # test into a confusing failure later, so refuse to build it.
  dropped=()
  while IFS= read -r line; do
    case $line in
      CONFIG_*=*) grep -qxF -- "$line" "$build_dir/.config" || dropped+=("$line") ;;
      '# CONFIG_'*' is not set')
        opt=${line#'# '}
        opt=${opt%' is not set'}
        grep -q "^$opt=" "$build_dir/.config" && dropped+=("$line")
        ;;
    esac
  done <"$fragment"
  if ((${#dropped[@]} > 0)); then
    trap - ERR
    {
      echo "build-kernel.sh: these fragment options did not survive olddefconfig (unmet dependencies?):"
      for line in "${dropped[@]}"; do
        opt=${line#'# '}
        opt=${opt%%[= ]*}
        echo "  wanted $line, got: $(grep -E "^(# )?${opt}[= ]" "$build_dir/.config" || echo '(absent)')"
      done
    } | tee -a "$log" >&2
    cp "$build_dir/.config" "$kernel_dir/config.failed"
    remove_build_dir
    exit 1
  fi
fi

# After configuring: the patch changes no Kconfig, and in a stock tree make
# then rebuilds only what depends on the patched files.
if ((patched)); then
  step "applying $(basename "$fix_patch")"
  patch -d "$build_dir" -p1 --forward --batch <"$fix_patch" >>"$log" 2>&1
fi

# One job more than cores keeps the CPUs busy while a job waits on I/O.
jobs=$(($(nproc) + 1))
step "make -j$jobs bzImage"
make -C "$build_dir" -j"$jobs" bzImage >>"$log" 2>&1

# Publish atomically: readers take the fast path as soon as bzImage exists.
cp "$build_dir/.config" "$kernel_dir/config"
cp "$build_dir/System.map" "$kernel_dir/System.map"
((!patched)) || cp "$fix_patch" "$kernel_dir/$(basename "$fix_patch")"
cp "$build_dir/arch/x86/boot/bzImage" "$kernel_dir/bzImage.tmp"
mv -f "$kernel_dir/bzImage.tmp" "$image"
trap - ERR
# Before the clean-up below: deleting the tree can take minutes on a busy disk.
step "built $image in $((SECONDS - start)) s$( ((!incremental)) || echo " (incremental)")"

if ((!patched)) && [[ -n $patched_dir && ! -f $patched_dir/bzImage ]]; then
  # Keep the tree for `build-kernel.sh --patched`, which deletes it.
  touch "$build_dir/$reusable_mark"
  step "kept the object tree $build_dir for build-kernel.sh --patched"
else
  remove_build_dir
  # A stock tree left while this --patched built from the tarball (the stock
  # build started after our check) has no use left; only --patched, which
  # holds our lock, ever works in a marked tree.
  if ((patched)) && [[ -f $stock_tree/$reusable_mark ]]; then
    rm -rf "$stock_tree"
  fi
fi
echo "$image"
