// syncbridge/drm_syncobj.h: DRM sync objects, binary and timeline.
//
// Model: a syncobj is a kernel container for dma_fences, named by a u32 handle in the handle
// table of one open DRM file (drm_device.h; the kernel's documentation is the comment at the
// top of drivers/gpu/drm/drm_syncobj.c).
//   - A binary syncobj holds at most one fence. signal() puts in an already-signaled one,
//     reset_fence() takes it out, import_sync_file() puts in a sync_file's fence.
//   - A timeline syncobj holds a chain of fences, one per point (u64, increasing): what a
//     Vulkan timeline semaphore is on Mesa's drivers, and what wp_linux_drm_syncobj_v1 shares.
//     Point N is *submitted* (available) once a fence is attached at N or above, *signaled*
//     once that fence and every earlier one signaled. signal(N) attaches an already-signaled
//     fence at N (how a CPU producer moves a timeline); GPU work and transfer() attach pending
//     ones. query() reads the highest signaled point. Attach points in increasing order: the
//     kernel accepts a lower one, but query() then reads nonsense.
//   - A point has no sync_file of its own (the 6.12 uAPI imports and exports sync_files on
//     binary syncobjs only). export_sync_file(N) checks that N is available (zero timeout),
//     transfers N into a temporary binary syncobj, exports that and destroys it;
//     import_sync_file(N, fd) imports into a temporary and transfers it to N. Never straight
//     into the timeline handle: that replaces the whole chain (a bug several compositors and
//     the Rust drm crate shipped). The temporary is destroyed on every path.
//   - Waits take a relative timeout (wait_forever, or 0 to only look) and hand the kernel an
//     absolute CLOCK_MONOTONIC deadline, so a wait restarted after a signal never runs long.
//     "Not yet" is WaitStatus::timed_out, not an error. SyncobjWait flags: all (every handle of
//     a multi-wait), for_submit (wait for a point to get a fence instead of failing with
//     EINVAL), available (done once the point has a fence, signaled or not).
//   - register_eventfd(N, efd): the kernel adds 1 to an eventfd when N signals (or is
//     submitted), so an epoll loop watches points without a thread. Kernel 6.6+
//     (DrmCap::syncobj_eventfd, else Errc::unsupported; watcher.h has the fallback). Kernels
//     without upstream fix 2aa6f5b0fd05 may never fire it for a point already signaled when a
//     later one was submitted, so it re-checks with a zero-timeout wait after registering and
//     adds the 1 itself when done (the count may reach 2: read it as "readable or not").
// Errors: Errc::unsupported (EOPNOTSUPP) when the device lacks the capability, before any
// ioctl; Errc::invalid_argument (EINVAL) for a point not submitted yet (transfer, export, a wait
// without for_submit/available); Errc::not_found (ENOENT) for a handle the kernel does not know
// (destroyed), but EINVAL (Errc::invalid_argument) from export_fd(); Errc::invalid_handle
// (EBADF) when the DRM fd was closed behind our back.
//
// BinarySyncobj and the SyncobjWait flags live in binary_syncobj.h, included here.
// Ownership: each object owns its handle (detail/syncobj_handle.h) and destroys it when
// destroyed; it moves, never copies. The DrmDevice it was made on must outlive it. export_fd()
// returns a new fd (yours) for the syncobj itself: the "opaque" fd that Mesa's Vulkan drivers
// import as OPAQUE_FD and wp_linux_drm_syncobj_v1 takes; import_fd() borrows such an fd and
// makes a new handle for the same syncobj. sync_file fds: exports return a SyncFile you own;
// imports borrow the fd (the syncobj takes its own reference to the fence).
// Threads: const members may be called concurrently; the kernel serializes them.
#pragma once

#include "syncbridge/export.h"

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include "syncbridge/binary_syncobj.h"
#include "syncbridge/detail/syncobj_handle.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/fence.h"
#include "syncbridge/fence_set.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// A handle and a point (0 for a binary syncobj), for multi-waits.
struct SYNCBRIDGE_API SyncobjPoint {
  std::uint32_t handle = 0;
  std::uint64_t point = 0;
};

class SYNCBRIDGE_API TimelineSyncobj {
 public:
  // Errc::unsupported without DrmCap::syncobj_timeline.
  [[nodiscard]] static Result<TimelineSyncobj> create(const DrmDevice& device);
  [[nodiscard]] static Result<TimelineSyncobj> import_fd(const DrmDevice& device, int syncobj_fd);

  TimelineSyncobj() noexcept = default;  // empty: every call reports Errc::invalid_handle
  bool valid() const noexcept { return h_.handle() != 0; }
  std::uint32_t handle() const noexcept { return h_.handle(); }  // borrowed: stays ours
  int drm_fd() const noexcept { return h_.drm_fd(); }
  bool has(DrmCap cap) const noexcept { return syncbridge::has(h_.caps(), cap); }

  // Attaches an already-signaled fence at point (DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL).
  [[nodiscard]] Result<void> signal(std::uint64_t point) const;
  [[nodiscard]] Result<WaitStatus> wait(std::uint64_t point, std::chrono::nanoseconds timeout,
                                        SyncobjWait flags = SyncobjWait::none) const;
  [[nodiscard]] Result<WaitStatus> wait_until(std::uint64_t point, MonotonicTime deadline,
                                              SyncobjWait flags = SyncobjWait::none) const;
  // The highest signaled point; query_last_submitted(): the highest point with a fence.
  [[nodiscard]] Result<std::uint64_t> query() const;
  [[nodiscard]] Result<std::uint64_t> query_last_submitted() const;

  // DRM_IOCTL_SYNCOBJ_TRANSFER: attach src's fence for src_point at dst_point of this timeline
  // (Errc::invalid_argument when src_point is not submitted yet).
  [[nodiscard]] Result<void> transfer_from(std::uint64_t dst_point, const TimelineSyncobj& src,
                                           std::uint64_t src_point) const;
  [[nodiscard]] Result<void> transfer_from(std::uint64_t dst_point, const BinarySyncobj& src) const;
  // Replaces dst's fence with this timeline's fence for point.
  [[nodiscard]] Result<void> transfer_to(const BinarySyncobj& dst, std::uint64_t point) const;

  // The sync_file of a submitted point (pending or signaled), through a temporary binary
  // syncobj. Errc::invalid_argument (EINVAL) when the point is not submitted yet.
  [[nodiscard]] Result<SyncFile> export_sync_file(std::uint64_t point) const;
  // Attaches the sync_file's fence (borrowed fd) at point, through a temporary binary syncobj.
  [[nodiscard]] Result<void> import_sync_file(std::uint64_t point, int sync_file_fd) const;

  // DRM_IOCTL_SYNCOBJ_EVENTFD plus the re-check described above. event_fd is borrowed (the
  // kernel keeps its own reference until it fires or the syncobj is destroyed).
  [[nodiscard]] Result<void> register_eventfd(std::uint64_t point, int event_fd, bool when_available = false) const;
  // A new eventfd (EFD_CLOEXEC | EFD_NONBLOCK, yours) registered as above.
  [[nodiscard]] Result<UniqueFd> eventfd_at(std::uint64_t point, bool when_available = false) const;

  [[nodiscard]] Result<UniqueFd> export_fd() const;
  // A second handle, owned by the result, for the same kernel syncobj on the same DRM file
  // (export_fd() + import): the syncobj lives until both are destroyed.
  [[nodiscard]] Result<TimelineSyncobj> duplicate() const;
  void destroy() noexcept { h_.reset(); }

 private:
  explicit TimelineSyncobj(detail::SyncobjHandle h) noexcept : h_(std::move(h)) {}
  detail::SyncobjHandle h_;
};

// Waits on several points of one device at once: all of them with SyncobjWait::all, else the
// first to complete (WaitAnyResult::index). Handles are raw, so this also answers for a handle
// that no object owns any more (Errc::not_found, ENOENT). An empty list is signaled (index 0),
// as the kernel answers a wait on zero handles; Errc::invalid_argument for a negative timeout.
[[nodiscard]] SYNCBRIDGE_API Result<WaitAnyResult> wait_syncobjs(const DrmDevice& device,
                                                                 std::span<const SyncobjPoint> points,
                                                                 std::chrono::nanoseconds timeout,
                                                                 SyncobjWait flags = SyncobjWait::none);

}  // namespace syncbridge
