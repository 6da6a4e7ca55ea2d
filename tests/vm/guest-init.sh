#!/bin/sh
# PID 1 of the syncbridge test VM (see tests/vm/run-in-vm.sh).
#
# The guest's root file system is the host's / over virtio-9p, read-only, so
# this runs with the host's /bin/sh (dash on Debian): keep it POSIX.
#
# run-in-vm.sh copies this file into the per-run job directory and boots with
# init=<job dir>/guest-init.sh and syncbridge_job=<job dir> on the kernel
# command line (a parameter without a dot reaches init as an environment
# variable). The job directory holds job.sh, the command to run.
#
# Console protocol:
#   ttyS0 (console): kernel log, plus the markers below, written through
#           /dev/kmsg so that they are printed synchronously by the kernel and
#           cannot be lost in a tty buffer when the VM is reset;
#   ttyS1: the command's stdout and stderr, and nothing else, so that a test
#           printing "WARNING:" is never mistaken for a kernel warning.
#   SYNCBRIDGE-VM-START name=<name>     just before the command runs
#   SYNCBRIDGE-VM-EXIT=<status>         after it exits
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

# The host's /proc, /sys and /dev are visible through 9p but describe the
# host; mount the guest's own over them. /tmp, /run, /var/tmp and /dev/shm get
# tmpfs because the host's / is read-only in here (and the guest must not see
# or touch the host's /tmp).
mount -t proc -o nosuid,nodev,noexec proc /proc || say "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || say "cannot mount /sys"
mount -t devtmpfs -o nosuid devtmpfs /dev || say "cannot mount /dev"
mount -t debugfs debugfs /sys/kernel/debug || say "cannot mount debugfs"
for dir in /tmp /var/tmp; do
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dir" || say "cannot mount $dir"
done
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || say "cannot mount /run"
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || say "cannot mount /dev/shm"
# devtmpfs lacks the /dev/fd family that bash process substitution and many
# programs rely on.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

job_dir=${syncbridge_job:-}
if [ -z "$job_dir" ]; then
    # shellcheck disable=SC2013 # the command line is one line of words
    for word in $(cat /proc/cmdline); do
        case $word in syncbridge_job=*) job_dir=${word#syncbridge_job=} ;; esac
    done
fi
if [ -z "$job_dir" ] || [ ! -r "$job_dir/job.sh" ]; then
    say "no job: syncbridge_job='$job_dir' has no readable job.sh"
    finish
fi

name=$(cat "$job_dir/name" 2>/dev/null || echo unnamed)
echo "<5>SYNCBRIDGE-VM-START name=$name" >/dev/kmsg
# stdin is /dev/null as on CI; the output port is closed when the command
# exits, and a serial port's close waits until its buffer has been sent.
/bin/sh "$job_dir/job.sh" </dev/null >/dev/ttyS1 2>&1
status=$?
echo "<5>SYNCBRIDGE-VM-EXIT=$status" >/dev/kmsg
finish
