#!/usr/bin/env bash
# Run one command inside a QEMU VM booting the syncbridge test kernel.
#
# Usage: run-in-vm.sh [--timeout SECONDS] [--kernel PATH|stock|patched] [--name TESTNAME]
#                     [--env NAME=VALUE]... [--append KERNEL-ARGS] -- COMMAND [ARGS...]
#
# The host kernel has neither sw_sync nor DRM, so kernel-facing tests run in a
# VM whose root file system is the host's / shared read-only over virtio-9p:
# the host's binaries and libraries run unchanged, in the host's current
# directory. /tmp, /var/tmp, /run and /dev/shm are fresh tmpfs in the guest;
# when the current directory, the command, or an argument or --env value
# naming an existing file lives below one of them (a build tree in /tmp, as
# on CI), the directory right below that root (/tmp/build) is shared too,
# writable, and mounted at the same path: the command can write to its
# current directory there, the rest of the host's /tmp stays hidden. Refused:
# a current directory or command under /dev (but /dev/shm), /proc or /sys,
# and a current directory or command directly in /tmp (9p shares directories).
#
# Only these variables reach the command: PATH, HOME, LD_LIBRARY_PATH, LANG,
# LC_*, GTEST_*, SYNCBRIDGE_*, VK_*, MESA_*, LP_*, GALLIUM_*, plus --env ones;
# it also gets SYNCBRIDGE_VM=1 and SYNCBRIDGE_VM_JOB_DIR, a directory it may
# write files to that survive the VM. Its stdin is /dev/null; its stdout and
# stderr (a file in the guest, not a tty) are streamed to this script's stdout.
# The guest's kernel log goes to <job dir>/console.log, printed on failure.
# --append adds kernel command line arguments (e.g. initcall_debug).
#
# The kernel: --kernel PATH, else $SYNCBRIDGE_VM_KERNEL, else the stock test
# kernel of tests/vm/build-kernel.sh. --kernel patched (or
# SYNCBRIDGE_VM_KERNEL=patched) boots the one with the sw_sync fix instead:
# $SYNCBRIDGE_VM_KERNEL_PATCHED, else build-kernel.sh --patched's; --kernel
# stock the default one even when SYNCBRIDGE_VM_KERNEL=patched.
#
# Exit status:
#   the command's own status  when it ran and the kernel stayed clean
#   2   usage error
#   3   the kernel reported a problem (WARNING, BUG, Oops, panic, lockdep, ...)
#   4   the VM did not finish within the timeout
#   5   the VM failed or ended without reporting the command's status
#   77  no QEMU or no test kernel (ctest: SKIP_RETURN_CODE 77)
#
# Environment: SYNCBRIDGE_CACHE_DIR (default /var/cache/syncbridge; job files
# and console logs go to $SYNCBRIDGE_CACHE_DIR/vm-jobs), SYNCBRIDGE_VM_TIMEOUT
# (default 600), SYNCBRIDGE_VM_KERNEL, SYNCBRIDGE_VM_KERNEL_PATCHED,
# SYNCBRIDGE_VM_MEMORY (MiB, default 2048),
# SYNCBRIDGE_VM_QUIET=1 (no summary line on success).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly cache_root=${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}

readonly EXIT_USAGE=2 EXIT_KERNEL=3 EXIT_TIMEOUT=4 EXIT_VM=5 EXIT_SKIP=77

# What counts as a kernel problem on the guest console. Oops, panics and BUG:
# are printed at error level, WARNING: and lockdep's reports at warning level,
# which is why the guest boots with loglevel=7 and never with quiet.
readonly KERNEL_PROBLEM_RE='WARNING:|BUG:|kernel BUG at|UBSAN:|Oops|general protection fault|Kernel panic|possible recursive locking|circular locking dependency|inconsistent lock state|INFO: |refcount_t:|hung_task_timeout_secs|blocked for more than [0-9]+ seconds|Call Trace:'

usage() {
  sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "$EXIT_USAGE"
}

die_usage() {
  echo "run-in-vm.sh: $*" >&2
  exit "$EXIT_USAGE"
}

skip() {
  echo "run-in-vm.sh: SKIP: $*" >&2
  exit "$EXIT_SKIP"
}

# Quote one word for a POSIX shell: the job file runs under the guest's
# /bin/sh (dash), so bash's printf %q ($'...') is not an option.
sh_quote() {
  local s=${1//\'/\'\\\'\'}
  printf "'%s'" "$s"
}

timeout_s=${SYNCBRIDGE_VM_TIMEOUT:-600}
kernel=${SYNCBRIDGE_VM_KERNEL:-stock}
name=
append=
extra_env=()
while (($# > 0)); do
  case $1 in
    --timeout | --kernel | --name | --env | --append)
      (($# >= 2)) || usage
      case $1 in
        --timeout) timeout_s=$2 ;;
        --kernel) kernel=$2 ;;
        --name) name=$2 ;;
        --env)
          [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die_usage "--env wants NAME=VALUE, got '$2'"
          extra_env+=("$2")
          ;;
        --append) append=$2 ;;
      esac
      shift 2
      ;;
    --)
      shift
      break
      ;;
    -h | --help) usage ;;
    *) die_usage "unexpected argument '$1' (the command goes after --)" ;;
  esac
done
(($# > 0)) || usage
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout wants a positive number of seconds, got '$timeout_s'"
[[ -n $name ]] || name=$(basename "$1")
memory_mib=${SYNCBRIDGE_VM_MEMORY:-2048}

qemu=$(command -v qemu-system-x86_64 || true)
[[ -n $qemu ]] || skip "no qemu-system-x86_64: apt-get install qemu-system-x86"

# --print-path exits 77 itself when linux-source-6.12 is not installed.
case $kernel in
  '' | stock)
    kernel=${SYNCBRIDGE_VM_KERNEL:-}
    case $kernel in '' | stock | patched) kernel= ;; esac
    [[ -n $kernel ]] || kernel=$("$script_dir/build-kernel.sh" --print-path) \
      || skip "no test kernel: build-kernel.sh cannot locate one"
    [[ -f $kernel ]] || skip "no test kernel at $kernel: run tests/vm/build-kernel.sh"
    ;;
  patched)
    kernel=${SYNCBRIDGE_VM_KERNEL_PATCHED:-}
    [[ -n $kernel ]] || kernel=$("$script_dir/build-kernel.sh" --patched --print-path) \
      || skip "no patched test kernel: build-kernel.sh --patched cannot locate one"
    [[ -f $kernel ]] || skip "no patched test kernel (the sw_sync fix) at $kernel: run tests/vm/build-kernel.sh --patched (after tests/vm/build-kernel.sh, whose object tree it reuses)"
    ;;
  *) [[ -f $kernel ]] || skip "no test kernel at $kernel: run tests/vm/build-kernel.sh" ;;
esac

# The guest sees the host's / except where it mounts file systems of its own:
# its /proc, /sys and /dev (the host's mean nothing there), and fresh tmpfs on
# /tmp, /var/tmp, /run and /dev/shm. Whatever the command needs from under a
# tmpfs root (its current directory, the command, an argument naming an
# existing file) is shared into the guest as its own virtio-9p device and
# mounted at the same path over the guest's tmpfs: one share per entry right
# below the root (/tmp/build for /tmp/build/tests/bridge), so that a whole
# build tree (RPATHs, test data next to the binary) comes along, while the
# rest of the host's /tmp stays hidden and the guest's /tmp stays its own.
# The shares are writable, as the directories are on the host: a test can
# write to its current directory, and an output file named on the command
# line lands where the caller looks for it.

# The guest tmpfs root that hides $1 (/tmp for /tmp/x), or nothing.
guest_tmpfs_root() {
  case $1/ in
    /tmp/*) echo /tmp ;;
    /var/tmp/*) echo /var/tmp ;;
    /run/*) echo /run ;;
    /dev/shm/*) echo /dev/shm ;;
  esac
}

# Whether $1 is under the guest's own /dev, /proc or /sys: never shared.
refused_in_guest() {
  case $1/ in
    /dev/shm/*) return 1 ;;
    /dev/* | /proc/* | /sys/*) return 0 ;;
  esac
  return 1
}

shares=()
declare -A shared=()

# share_for WHAT PATH: shares the directory that makes the absolute PATH
# visible in the guest, if a tmpfs root hides it. Returns 1, with the reason in
# $share_error, when it cannot: PATH is a tmpfs root itself, or a file directly
# in one (9p shares directories, and sharing all of /tmp would undo the
# guest's own), or a name QEMU options and fstab lines cannot carry.
share_error=
share_for() {
  local what=$1 path root rest top
  # Lexically, as the guest walks it: /tmp/a/../b is /tmp/b.
  path=$(realpath -s -m -- "$2")
  root=$(guest_tmpfs_root "$path")
  [[ -n $root ]] || return 0
  if [[ $path == "$root" ]]; then
    share_error="$what $path is the guest's own $root: use a directory below it"
    return 1
  fi
  rest=${path#"$root"/}
  top=$root/${rest%%/*}
  [[ -z ${shared[$top]:-} ]] || return 0
  if [[ ! -d $top && $top == "$path" && -e $path ]]; then
    share_error="$what $path is directly in $root, where the guest mounts its own tmpfs (9p shares directories: put it in a directory of its own there)"
    return 1
  elif [[ ! -d $top ]]; then
    share_error="$what $path does not exist on the host"
    return 1
  fi
  # The path becomes a QEMU -fsdev option (commas) and an fstab field (blanks).
  if [[ ! $top =~ ^[A-Za-z0-9_./~+-]+$ ]]; then
    share_error="$what $path is in $top, whose name QEMU or fstab cannot take"
    return 1
  fi
  shared[$top]=1
  shares+=("$top")
}

# share_path_and_target WHAT PATH: the path as written and, when it exists,
# the file it resolves to (a symlink elsewhere may point into /tmp).
share_path_and_target() {
  local target
  share_for "$1" "$2" || return 1
  if target=$(realpath -e -- "$2" 2>/dev/null); then
    share_for "$1" "$target" || return 1
  fi
}

cwd=$(pwd -P)
if refused_in_guest "$cwd"; then
  die_usage "the current directory $cwd is hidden inside the VM (the guest mounts its own /dev, /proc and /sys); run from a directory elsewhere"
fi
share_for "the current directory" "$cwd" || die_usage "$share_error"

# A bare command name is looked up in PATH, which the guest gets unchanged.
command_path=$1
if [[ $command_path != */* ]]; then
  command_path=$(type -P -- "$1" || true)
elif [[ $command_path != /* ]]; then
  command_path=$cwd/$command_path
fi
if [[ -n $command_path ]]; then
  if refused_in_guest "$command_path"; then
    die_usage "the command $1 is hidden inside the VM (under the guest's own /dev, /proc or /sys)"
  fi
  share_path_and_target "the command" "$command_path" || die_usage "$share_error"
fi

# Arguments and --env values that name existing absolute paths (also after
# --option=, and each entry of a colon-separated list such as
# VK_ICD_FILENAMES): /dev/null or /dev/dri/... mean the guest's own; a file
# directly in /tmp cannot be shared, which only a note can tell.
share_existing_paths() {
  local what=$1 value=$2 path
  local -a paths
  [[ $value == -*=* ]] && value=${value#*=}
  IFS=: read -r -a paths <<<"$value"
  for path in "${paths[@]}"; do
    [[ $path == /* && -e $path ]] || continue
    refused_in_guest "$path" && continue
    # The guest's own /tmp is what an argument naming /tmp itself means.
    case $(realpath -s -m -- "$path") in /tmp | /var/tmp | /run | /dev/shm) continue ;; esac
    share_path_and_target "$what" "$path" \
      || echo "run-in-vm.sh: note: $share_error; it stays hidden inside the VM" >&2
  done
  return 0
}
for arg in "${@:2}"; do
  share_existing_paths "the argument" "$arg"
done
for assignment in "${extra_env[@]}"; do
  share_existing_paths "--env ${assignment%%=*}" "${assignment#*=}"
done

mkdir -p "$cache_root/vm-jobs" 2>/dev/null \
  || die_usage "cannot create $cache_root/vm-jobs: set SYNCBRIDGE_CACHE_DIR to a writable directory outside /tmp"
cache_real=$(cd "$cache_root/vm-jobs" && pwd -P)
# The kernel starts init from the job directory before any share is mounted.
if [[ -n $(guest_tmpfs_root "$cache_real") ]] || refused_in_guest "$cache_real"; then
  die_usage "SYNCBRIDGE_CACHE_DIR=$cache_root is hidden inside the VM; point it outside /tmp, /var/tmp and /run"
fi
# Old job directories only hold console logs of past runs; keep a week.
find "$cache_real" -mindepth 1 -maxdepth 1 -type d -mtime +7 -exec rm -rf {} + 2>/dev/null || true

safe_name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.+-' '_' | cut -c1-60)
job_dir=$(mktemp -d "$cache_real/$safe_name.$(date +%Y%m%d-%H%M%S).XXXXXX")
# The job directory appears on the kernel command line, in QEMU options and
# in an fstab line, which split on spaces, commas and blanks respectively.
[[ $job_dir =~ ^[A-Za-z0-9_./~+-]+$ ]] || die_usage "job directory $job_dir has characters QEMU or the kernel command line cannot take; set SYNCBRIDGE_CACHE_DIR to a plain path"
chmod 755 "$job_dir"

console_log=$job_dir/console.log
output_log=$job_dir/output.log
qemu_log=$job_dir/qemu.log

# --- The job: environment whitelist, working directory, command.
{
  echo "# generated by run-in-vm.sh for '$name'"
  # PID 1 starts with HOME=/ and TERM=linux: only the whitelist may reach
  # the command.
  echo 'unset TERM'
  while IFS= read -r var; do
    case $var in
      PATH | HOME | LD_LIBRARY_PATH | LANG | LC_* | GTEST_* | SYNCBRIDGE_* | VK_* | MESA_* | LP_* | GALLIUM_*)
        echo "export $var=$(sh_quote "${!var}")"
        ;;
    esac
  done < <(compgen -e | sort)
  for assignment in "${extra_env[@]}"; do
    echo "export ${assignment%%=*}=$(sh_quote "${assignment#*=}")"
  done
  # Lets a test know it runs in the VM, and where it may leave files.
  echo 'export SYNCBRIDGE_VM=1'
  echo "export SYNCBRIDGE_VM_JOB_DIR=$(sh_quote "$job_dir")"
  # Mesa and other caches default to $HOME/.cache, which is read-only here.
  # shellcheck disable=SC2016 # expanded by the guest's shell, not here
  echo 'export XDG_CACHE_HOME="${XDG_CACHE_HOME:-/tmp/xdg-cache}"'
  echo "cd $(sh_quote "$cwd") || exit 125"
  printf 'exec'
  for word in "$@"; do
    printf ' %s' "$(sh_quote "$word")"
  done
  printf '\n'
} >"$job_dir/job.sh"
printf '%s\n' "$name" >"$job_dir/name"
printf '%s\n' "$kernel" >"$job_dir/kernel"
cp "$script_dir/guest-init.sh" "$script_dir/guest-fstab" "$job_dir/"
# The job directory is shared a second time, writable, and mounted over its
# read-only view: the command's output goes to output.log through it (a serial
# port manages ~20 KB/s under TCG, 9p writes are not a bottleneck), so test
# output never mixes with kernel messages, and a test may leave files there
# ($SYNCBRIDGE_VM_JOB_DIR).
echo "job $job_dir 9p trans=virtio,version=9p2000.L,msize=512000,cache=none 0 0" >>"$job_dir/guest-fstab"
# The shares from under /tmp and the like, after the tmpfs they are mounted on
# (mount -a goes in fstab order; X-mount.mkdir makes the mount point there).
# cache=mmap: no caching, so the host sees every write at once, yet a shared
# writable mmap works as on the host.
for i in "${!shares[@]}"; do
  echo "share$i ${shares[i]} 9p trans=virtio,version=9p2000.L,msize=512000,cache=mmap,X-mount.mkdir 0 0"
done >>"$job_dir/guest-fstab"
chmod 755 "$job_dir/guest-init.sh"
# The guest's devtmpfs lacks these; guest-init.sh copies them into /dev.
mkdir "$job_dir/dev"
ln -s /proc/self/fd "$job_dir/dev/fd"
ln -s /proc/self/fd/0 "$job_dir/dev/stdin"
ln -s /proc/self/fd/1 "$job_dir/dev/stdout"
ln -s /proc/self/fd/2 "$job_dir/dev/stderr"
: >"$console_log"
: >"$output_log"

kernel_args=(
  root=hostroot rootfstype=9p
  # 512000 is the largest msize the virtio transport takes; cache=loose lets
  # the guest cache the (unchanging, read-only) host files it maps.
  'rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose'
  ro init="$job_dir/guest-init.sh" syncbridge_job="$job_dir"
  console=ttyS0 loglevel=7
  # An oops or panic ends the VM at once instead of hanging until timeout:
  # the seed's sw_sync race oopses with a spinlock held.
  oops=panic panic=-1
  # Boot time: ACPI's PCI interrupt link setup takes ~1 s per virtio device
  # under TCG, the PIRQ table does the same at once; no PS/2 probing.
  acpi=noirq i8042.noaux i8042.nokbd
)
# shellcheck disable=SC2206 # --append is a space-separated kernel command line
[[ -z $append ]] || kernel_args+=($append)

qemu_args=(
  -accel 'tcg,thread=multi' -smp 2 -m "$memory_mib"
  -nographic -nodefaults -monitor none -no-reboot
  -kernel "$kernel" -append "${kernel_args[*]}"
  -serial "file:$console_log"
  -device virtio-gpu-pci
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
  -device 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot'
  -fsdev "local,id=job,path=$job_dir,security_model=none"
  -device 'virtio-9p-pci,fsdev=job,mount_tag=job'
)
for i in "${!shares[@]}"; do
  qemu_args+=(
    -fsdev "local,id=share$i,path=${shares[i]},security_model=none,multidevs=remap"
    -device "virtio-9p-pci,fsdev=share$i,mount_tag=share$i"
  )
done

# If this script is stopped (ctest's own timeout, ^C), take the VM down too:
# timeout(1) puts QEMU in a process group of its own.
qemu_pid='' stream_pid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  [[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || true
  [[ -z $stream_pid ]] || kill "$stream_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

started=$(date +%s.%N)
# stdin from /dev/null: on CI stdin is closed and QEMU refuses to start then.
timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$qemu_log" 2>&1 &
qemu_pid=$!
# Stream the command's output live; tail exits once QEMU has (it checks every
# -s seconds, 1 by default, which would add up to a second to every run).
tail -n +1 -f -s 0.2 --pid="$qemu_pid" "$output_log" &
stream_pid=$!
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=
wait "$stream_pid" || true
stream_pid=
ended=$(date +%s.%N)

# The serial console uses CRLF line ends.
sed -i 's/\r$//' "$console_log"

# Keep the harness's own messages off the end of an unterminated last line.
if [[ -s $output_log && -n $(tail -c 1 "$output_log") ]]; then
  echo >&2
fi

show_console() {
  echo "----- guest console ($console_log) -----"
  cat "$console_log"
  echo "----- end of guest console -----"
}

# The guest's timestamp of the start marker is boot-to-command time.
boot_s=$(sed -n 's/^\[ *\([0-9.]*\)\] SYNCBRIDGE-VM-START.*/\1/p' "$console_log" | head -n 1)
wall_s=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
exit_line=$(grep -o 'SYNCBRIDGE-VM-EXIT=[0-9]*' "$console_log" | tail -n 1 || true)
problems=$(grep -E "$KERNEL_PROBLEM_RE" "$console_log" | grep -v 'SYNCBRIDGE-VM-' || true)

if ((qemu_status == 124 || qemu_status == 137)); then
  {
    echo "run-in-vm.sh: VM timed out after $timeout_s s while running $name"
    echo "----- last guest console lines ($console_log) -----"
    tail -n 40 "$console_log"
    echo "----- last output lines ($output_log) -----"
    tail -n 20 "$output_log"
    if [[ -n $problems ]]; then
      echo "----- kernel problems reported before the timeout -----"
      echo "$problems"
    fi
  } >&2
  exit "$EXIT_TIMEOUT"
fi

if [[ -n $problems ]]; then
  {
    show_console
    echo "run-in-vm.sh: kernel reported a problem while running $name${exit_line:+ (command status ${exit_line#*=})}:"
    echo "$problems"
    echo "run-in-vm.sh: full console log: $console_log"
  } >&2
  exit "$EXIT_KERNEL"
fi

if ((qemu_status != 0)) || [[ -z $exit_line ]]; then
  {
    show_console
    echo "----- qemu ($qemu_log) -----"
    cat "$qemu_log"
    echo "run-in-vm.sh: the VM ended (qemu status $qemu_status) without reporting the exit status of $name"
  } >&2
  exit "$EXIT_VM"
fi

status=${exit_line#*=}
if [[ ${SYNCBRIDGE_VM_QUIET:-0} != 1 || $status != 0 ]]; then
  echo "run-in-vm.sh: $name exited $status on kernel $kernel; boot to command ${boot_s:-?} s (guest clock), VM wall time $wall_s s; console: $console_log" >&2
fi
exit "$status"
