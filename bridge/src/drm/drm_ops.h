// Internal: the one place that calls libdrm (and the one DRM ioctl libdrm may lack). Not
// installed.
//
// libdrm is inconsistent about errors: most drmSyncobj* calls return -1 with errno set (they
// return drmIoctl()'s value), but drmSyncobjWait and drmSyncobjTimelineWait return -errno.
// drmIoctl retries EINTR and EAGAIN (safe here: every timeout we pass is absolute). Every
// function below turns both conventions into a Result whose Error carries the kernel's errno
// and a sentence naming the call and the handle; a wait that ran out of time (ETIME) is
// WaitStatus::timed_out, not an error. Nothing else in syncbridge includes xf86drm.h.
//
// DRM_IOCTL_SYNCOBJ_EVENTFD (kernel 6.6+): libdrm has drmSyncobjEventfd from 2.4.116 on;
// bookworm's 2.4.114 has neither the function nor the ioctl in its headers. CMake checks for
// the symbol (SYNCBRIDGE_HAVE_DRM_SYNCOBJ_EVENTFD); without it we issue the ioctl ourselves
// with the struct from the 6.12 uAPI (include/uapi/drm/drm.h), layout checked below.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge::detail::drm {

// DRM_SYNCOBJ_WAIT_FLAGS_* and friends, as the kernel numbers them (checked in drm_ops.cpp).
inline constexpr std::uint32_t kWaitAll = 1u << 0;
inline constexpr std::uint32_t kWaitForSubmit = 1u << 1;
inline constexpr std::uint32_t kWaitAvailable = 1u << 2;
inline constexpr std::uint32_t kCreateSignaled = 1u << 0;
inline constexpr std::uint32_t kQueryLastSubmitted = 1u << 0;

// DRM_CAP_*: the capability's value (0 when the kernel knows the cap but the driver lacks it).
[[nodiscard]] Result<std::uint64_t> get_cap(int fd, std::uint64_t cap, const char* cap_name);
inline constexpr std::uint64_t kCapSyncobj = 0x13;
inline constexpr std::uint64_t kCapSyncobjTimeline = 0x14;

// drmGetVersion: the driver's name ("virtio_gpu", "vgem"...). Errc::invalid_handle for a
// closed fd, Errc::unsupported for an fd that is not a DRM device.
[[nodiscard]] Result<std::string> driver_name(int fd);

[[nodiscard]] Result<std::uint32_t> syncobj_create(int fd, std::uint32_t flags);
[[nodiscard]] Result<void> syncobj_destroy(int fd, std::uint32_t handle);
[[nodiscard]] Result<UniqueFd> syncobj_handle_to_fd(int fd, std::uint32_t handle);
[[nodiscard]] Result<std::uint32_t> syncobj_fd_to_handle(int fd, int syncobj_fd);
// sync_file in/out of a (binary) handle: DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE
// replaces the handle's fence; the export returns a new sync_file fd for its fence.
[[nodiscard]] Result<void> syncobj_import_sync_file(int fd, std::uint32_t handle, int sync_file_fd);
[[nodiscard]] Result<UniqueFd> syncobj_export_sync_file(int fd, std::uint32_t handle);

// Waits on handles (points may be empty: binary wait). abs_timeout_ns is CLOCK_MONOTONIC
// absolute (0: only look). first_signaled is filled when not waiting for all.
struct WaitOutcome {
  WaitStatus status;
  std::uint32_t first_signaled;
};
[[nodiscard]] Result<WaitOutcome> syncobj_wait(int fd, std::span<const std::uint32_t> handles,
                                               std::span<const std::uint64_t> points, std::int64_t abs_timeout_ns,
                                               std::uint32_t flags);

[[nodiscard]] Result<void> syncobj_reset(int fd, std::span<const std::uint32_t> handles);
[[nodiscard]] Result<void> syncobj_signal(int fd, std::span<const std::uint32_t> handles);
[[nodiscard]] Result<void> syncobj_timeline_signal(int fd, std::span<const std::uint32_t> handles,
                                                   std::span<const std::uint64_t> points);
[[nodiscard]] Result<void> syncobj_query(int fd, std::span<const std::uint32_t> handles,
                                         std::span<std::uint64_t> points, std::uint32_t flags);
// dst_point 0: dst is binary (its fence is replaced); src_point 0 on a binary src.
[[nodiscard]] Result<void> syncobj_transfer(int fd, std::uint32_t dst_handle, std::uint64_t dst_point,
                                            std::uint32_t src_handle, std::uint64_t src_point, std::uint32_t flags);
// DRM_IOCTL_SYNCOBJ_EVENTFD. flags: 0 (signaled) or kWaitAvailable.
[[nodiscard]] Result<void> syncobj_eventfd(int fd, std::uint32_t handle, std::uint64_t point, int event_fd,
                                           std::uint32_t flags);
// The raw errno of DRM_IOCTL_SYNCOBJ_EVENTFD on handle 0 (never a syncobj): ENOENT where the
// ioctl exists; ENOTTY/EINVAL where it does not; EOPNOTSUPP without timeline syncobjs.
int probe_syncobj_eventfd(int fd) noexcept;

// now + timeout as the kernel's absolute timeout: 0 for a zero timeout ("only look"),
// INT64_MAX (saturated) for wait_forever or anything past it.
std::int64_t abs_timeout_ns(std::chrono::nanoseconds timeout) noexcept;
std::int64_t abs_deadline_ns(MonotonicTime deadline) noexcept;

}  // namespace syncbridge::detail::drm
