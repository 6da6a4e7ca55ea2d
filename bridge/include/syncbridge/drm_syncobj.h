// syncbridge/drm_syncobj.h: DRM sync objects, binary and timeline.
//
// Model: a syncobj is a kernel container for dma_fences, named by a u32 handle in the handle
// table of one open DRM file (see drm_device.h; the kernel's documentation is the comment at
// the top of drivers/gpu/drm/drm_syncobj.c).
//   - A binary syncobj holds at most one fence. signal() puts in an already-signaled one,
//     reset_fence() takes it out, import_sync_file() puts in a sync_file's fence.
//   - A timeline syncobj holds a chain of fences, one per point (u64, increasing): this is what
//     a Vulkan timeline semaphore is on Mesa's drivers, and what wp_linux_drm_syncobj_v1 shares.
//     Point N is *submitted* (available) once a fence is attached at N or above, and *signaled*
//     once that fence and every earlier one have signaled. signal(N) attaches an
//     already-signaled fence at N, which is how a CPU producer moves a timeline; GPU work and
//     transfer() attach pending fences. query() reads the highest signaled point. Attach points
//     in increasing order: the kernel accepts a lower one but query() then reads nonsense.
//   - A point has no sync_file of its own: the 6.12 uAPI imports and exports sync_files on
//     binary syncobjs only. So export_sync_file(N) checks that N is available (zero timeout),
//     transfers point N into a temporary binary syncobj, exports that, and destroys it;
//     import_sync_file(N, fd) imports into a temporary binary syncobj and transfers it to point
//     N. Never straight into the timeline handle: that would replace the whole chain (a bug
//     several compositors and the Rust drm crate shipped). The temporary is destroyed on every
//     path, errors included.
//   - Waits take a relative timeout (wait_forever, or 0 to only look) and hand the kernel an
//     absolute CLOCK_MONOTONIC deadline, so a wait restarted after a signal never runs long.
//     "Not yet" is WaitStatus::timed_out, not an error. Flags (SyncobjWait): all (every handle
//     of a multi-wait), for_submit (wait for a point to get a fence instead of failing with
//     EINVAL), available (done once the point has a fence, signaled or not).
//   - register_eventfd(N, efd) makes the kernel add 1 to an eventfd when N signals (or is
//     submitted): an epoll loop can then watch points without a thread. Kernel 6.6+
//     (DrmCap::syncobj_eventfd; otherwise Errc::unsupported; watcher.h has the fallback).
//     Kernels without upstream fix 2aa6f5b0fd05 may never fire it for a point that was already
//     signaled when a later point was submitted, so register_eventfd() re-checks the point with
//     a zero-timeout wait after registering and adds the 1 itself if it is already done (the
//     counter may then reach 2: treat the eventfd as "readable or not").
//
// Errors: Errc::unsupported (EOPNOTSUPP) when the device lacks the capability (checked before
// any ioctl); Errc::invalid_argument (EINVAL) for a point not submitted yet (transfer, export,
// or a wait without for_submit/available); Errc::not_found (ENOENT) for a handle the kernel does
// not know (destroyed), except export_fd(), for which the kernel answers EINVAL
// (Errc::invalid_argument); Errc::invalid_handle (EBADF) when the DRM fd was closed behind our
// back.
//
// Ownership: each object owns its handle and destroys it when destroyed; it moves, never
// copies. The DrmDevice it was made on must outlive it. export_fd() returns a new fd (you own
// it) for the syncobj itself: the "opaque" fd that Mesa's Vulkan drivers import as OPAQUE_FD
// and wp_linux_drm_syncobj_v1 takes. import_fd() borrows such an fd (it stays yours) and makes
// a new handle for the same syncobj. sync_file fds: exports return a SyncFile you own; imports
// borrow the fd (the syncobj takes its own reference to the fence).
// Threads: const members may be called concurrently; the kernel serializes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include "syncbridge/drm_device.h"
#include "syncbridge/fence.h"
#include "syncbridge/fence_set.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// Wait flags, the kernel's DRM_SYNCOBJ_WAIT_FLAGS_*.
struct SyncobjWait {
  static constexpr std::uint32_t all = 1u << 0;         // WAIT_ALL: every handle (multi-waits)
  static constexpr std::uint32_t for_submit = 1u << 1;  // WAIT_FOR_SUBMIT
  static constexpr std::uint32_t available = 1u << 2;   // WAIT_AVAILABLE
};

// A handle and a point (0 for a binary syncobj), for multi-waits.
struct SyncobjPoint {
  std::uint32_t handle = 0;
  std::uint64_t point = 0;
};

namespace detail {
// The owned handle shared by both kinds: destroyed (errors ignored) when this is.
class SyncobjHandle {
 public:
  SyncobjHandle() noexcept = default;
  SyncobjHandle(int drm_fd, std::uint32_t handle, std::uint32_t caps) noexcept
      : drm_fd_(drm_fd), handle_(handle), caps_(caps) {}
  SyncobjHandle(SyncobjHandle&& o) noexcept
      : drm_fd_(std::exchange(o.drm_fd_, -1)), handle_(std::exchange(o.handle_, 0u)), caps_(std::exchange(o.caps_, 0u)) {}
  SyncobjHandle& operator=(SyncobjHandle&& o) noexcept {
    if (this != &o) {
      reset();
      drm_fd_ = std::exchange(o.drm_fd_, -1);
      handle_ = std::exchange(o.handle_, 0u);
      caps_ = std::exchange(o.caps_, 0u);
    }
    return *this;
  }
  SyncobjHandle(const SyncobjHandle&) = delete;
  SyncobjHandle& operator=(const SyncobjHandle&) = delete;
  ~SyncobjHandle() { reset(); }
  void reset() noexcept;

  int drm_fd() const noexcept { return drm_fd_; }
  std::uint32_t handle() const noexcept { return handle_; }
  std::uint32_t caps() const noexcept { return caps_; }

 private:
  int drm_fd_ = -1;
  std::uint32_t handle_ = 0;
  std::uint32_t caps_ = 0;
};
}  // namespace detail

class BinarySyncobj {
 public:
  // Errc::unsupported without DrmCap::syncobj.
  [[nodiscard]] static Result<BinarySyncobj> create(const DrmDevice& device, bool signaled = false);
  // A new handle for the syncobj behind syncobj_fd (borrowed; see export_fd()).
  [[nodiscard]] static Result<BinarySyncobj> import_fd(const DrmDevice& device, int syncobj_fd);
  // create() then import_sync_file(sync_file_fd); nothing is left behind when the import fails.
  [[nodiscard]] static Result<BinarySyncobj> from_sync_file(const DrmDevice& device, int sync_file_fd);

  BinarySyncobj() noexcept = default;  // empty: every call reports Errc::invalid_handle
  bool valid() const noexcept { return h_.handle() != 0; }
  std::uint32_t handle() const noexcept { return h_.handle(); }  // borrowed: stays ours
  int drm_fd() const noexcept { return h_.drm_fd(); }

  [[nodiscard]] Result<void> signal() const;       // DRM_IOCTL_SYNCOBJ_SIGNAL
  [[nodiscard]] Result<void> reset_fence() const;  // DRM_IOCTL_SYNCOBJ_RESET: no fence any more
  [[nodiscard]] Result<WaitStatus> wait(std::chrono::nanoseconds timeout, std::uint32_t flags = 0) const;
  // Replaces the fence with the sync_file's (borrowed fd).
  [[nodiscard]] Result<void> import_sync_file(int sync_file_fd) const;
  // A sync_file for the current fence; Errc::invalid_argument (EINVAL) when there is none.
  [[nodiscard]] Result<SyncFile> export_sync_file() const;
  [[nodiscard]] Result<UniqueFd> export_fd() const;
  void destroy() noexcept { h_.reset(); }

 private:
  explicit BinarySyncobj(detail::SyncobjHandle h) noexcept : h_(std::move(h)) {}
  detail::SyncobjHandle h_;
};

class TimelineSyncobj {
 public:
  // Errc::unsupported without DrmCap::syncobj_timeline.
  [[nodiscard]] static Result<TimelineSyncobj> create(const DrmDevice& device);
  [[nodiscard]] static Result<TimelineSyncobj> import_fd(const DrmDevice& device, int syncobj_fd);

  TimelineSyncobj() noexcept = default;  // empty: every call reports Errc::invalid_handle
  bool valid() const noexcept { return h_.handle() != 0; }
  std::uint32_t handle() const noexcept { return h_.handle(); }  // borrowed: stays ours
  int drm_fd() const noexcept { return h_.drm_fd(); }
  bool has(DrmCap cap) const noexcept { return (h_.caps() & bit(cap)) != 0; }

  // Attaches an already-signaled fence at point (DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL).
  [[nodiscard]] Result<void> signal(std::uint64_t point) const;
  [[nodiscard]] Result<WaitStatus> wait(std::uint64_t point, std::chrono::nanoseconds timeout,
                                        std::uint32_t flags = 0) const;
  [[nodiscard]] Result<WaitStatus> wait_until(std::uint64_t point, MonotonicTime deadline,
                                              std::uint32_t flags = 0) const;
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
  void destroy() noexcept { h_.reset(); }

 private:
  explicit TimelineSyncobj(detail::SyncobjHandle h) noexcept : h_(std::move(h)) {}
  detail::SyncobjHandle h_;
};

// Waits on several points of one device at once: all of them with SyncobjWait::all, else the
// first to complete (WaitAnyResult::index). Handles are raw, so this also answers for a handle
// that no object owns any more (Errc::not_found, ENOENT). An empty list is signaled (index 0),
// as the kernel answers a wait on zero handles; Errc::invalid_argument for a negative timeout.
[[nodiscard]] Result<WaitAnyResult> wait_syncobjs(const DrmDevice& device, std::span<const SyncobjPoint> points,
                                                  std::chrono::nanoseconds timeout, std::uint32_t flags = 0);

}  // namespace syncbridge
