// syncbridge/binary_syncobj.h: binary DRM syncobjs and the syncobj wait flags. Include
// drm_syncobj.h, which includes this and explains the model, errors and ownership of both kinds.
//
// Model: a binary syncobj holds at most one dma_fence, in the handle table of one open DRM
// file (drm_device.h). signal() puts in an already-signaled fence, reset_fence() takes the
// fence out, import_sync_file() puts in a sync_file's fence, export_sync_file() hands one out.
// It is also the temporary through which a timeline point becomes a sync_file.
// Ownership: a BinarySyncobj owns its handle and destroys it when destroyed; it moves, never
// copies; its DrmDevice must outlive it. export_fd() and export_sync_file() return new fds
// (yours); import_fd() and import_sync_file() borrow theirs.
// Threads: const members may be called concurrently; the kernel serializes them.
#pragma once

#include "syncbridge/export.h"

#include <chrono>
#include <cstdint>
#include <utility>

#include "syncbridge/bitmask.h"
#include "syncbridge/detail/syncobj_handle.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// Wait flags, the kernel's DRM_SYNCOBJ_WAIT_FLAGS_* (a typed set: see bitmask.h).
enum class SyncobjWait : std::uint32_t {
  none = 0,
  all = 1u << 0,         // WAIT_ALL: every handle (multi-waits)
  for_submit = 1u << 1,  // WAIT_FOR_SUBMIT
  available = 1u << 2,   // WAIT_AVAILABLE
};
template <>
inline constexpr bool enable_bitmask<SyncobjWait> = true;

class SYNCBRIDGE_API BinarySyncobj {
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
  [[nodiscard]] Result<WaitStatus> wait(std::chrono::nanoseconds timeout, SyncobjWait flags = SyncobjWait::none) const;
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

}  // namespace syncbridge
