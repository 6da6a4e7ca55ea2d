#!/bin/sh
# PID 1 of the syncbridge test VM (see tests/vm/run-in-vm.sh).
#
# The guest's root file system is the host's / over virtio-9p, read-only, so
# this runs with the host's /bin/sh (dash on Debian): keep it POSIX (hence #!/bin/sh,
# unlike the bash of every other script).
#
# run-in-vm.sh copies this file into the per-run job directory and boots with
# init=<job dir>/guest-init.sh and syncbridge_job=<job dir> on the kernel
# command line (a parameter without a dot reaches init as an environment
# variable). The job directory holds job.sh, the command to run.
#
# Protocol with run-in-vm.sh:
#   ttyS0 (the console): the kernel log, plus the markers below, written
#       through /dev/kmsg so that the kernel prints them synchronously and they
#       cannot be lost in a tty buffer when the VM is reset:
#         SYNCBRIDGE-VM-START name=<name>     just before the command runs
#         SYNCBRIDGE-VM-EXIT=<status>         after it exits
#   <job dir>/output.log (the job directory is mounted writable over 9p, see
#       guest-fstab's last line): the command's stdout and stderr and nothing
#       else, so that a test printing "WARNING:" is never taken for a kernel
#       warning.
#
# PID 1 must never exit: the kernel panics when init dies. Every path ends in
# the sysrq reset below, which QEMU's -no-reboot turns into a clean exit.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

finish() {
  # Sysrq 'b' resets at once: nothing here needs syncing (every writable file
  # system is a tmpfs) and -no-reboot makes QEMU exit instead of rebooting.
  echo b >/proc/sysrq-trigger
  # Only reached if sysrq is unavailable; never let PID 1 return.
  while :; do sleep 3600; done
}

say() {
  echo "guest-init: $*" >/dev/console
}

job_dir=${syncbridge_job:-}
unset syncbridge_job

# The host's /proc, /sys and /dev are visible through 9p but describe the
# host: mount the guest's own over them, and tmpfs wherever the tests may
# write (the host's / is read-only in here). One mount process for all of them
# (guest-fstab): each process start costs 0.1-0.3 s under TCG. /proc first, as
# mount -a reads /proc/self/mountinfo.
mount -t proc -o nosuid,nodev,noexec proc /proc || say "cannot mount /proc"
if [ -z "$job_dir" ]; then
  # shellcheck disable=SC2013 # the command line is one line of words
  for word in $(cat /proc/cmdline); do
    case $word in syncbridge_job=*) job_dir=${word#syncbridge_job=} ;; esac
  done
fi
mount -a -T "$job_dir/guest-fstab" || say "some mounts in guest-fstab failed"
# devtmpfs lacks the /dev/fd family that bash process substitution and many
# programs use; run-in-vm.sh prepared the links (one cp, not four ln).
cp -a "$job_dir/dev/." /dev/ || say "cannot create /dev/fd and /dev/std*"

if [ -z "$job_dir" ] || [ ! -r "$job_dir/job.sh" ]; then
  say "no job: syncbridge_job='$job_dir' has no readable job.sh"
  finish
fi
# Without the writable job mount the output would be lost: give up, and let
# run-in-vm.sh report a VM failure with this console.
if ! : >"$job_dir/output.log"; then
  say "cannot write $job_dir/output.log: the job directory is not mounted writable"
  finish
fi

name=unnamed
read -r name <"$job_dir/name" || true
echo "<5>SYNCBRIDGE-VM-START name=$name" >/dev/kmsg
# stdin is /dev/null and stdout a plain file, as under ctest on CI.
/bin/sh "$job_dir/job.sh" </dev/null >"$job_dir/output.log" 2>&1
status=$?
echo "<5>SYNCBRIDGE-VM-EXIT=$status" >/dev/kmsg
finish
