// syncbridge/detail/syncobj_handle.h: the owned syncobj handle inside BinarySyncobj and
// TimelineSyncobj (drm_syncobj.h). Not an API of its own: include drm_syncobj.h.
//
// Model: a syncobj handle is a u32 in the handle table of one open DRM file. SyncobjHandle
// owns one: it destroys it (DRM_IOCTL_SYNCOBJ_DESTROY, errors ignored) when destroyed or
// reset. It remembers the DRM fd number it lives on (borrowed: the DrmDevice owns the fd and
// must outlive the handle) and that device's capabilities, so that every call can check them
// before its ioctl. Moves (with std::exchange), never copies.
#pragma once

#include "syncbridge/export.h"

#include <cstdint>
#include <utility>

#include "syncbridge/drm_device.h"

namespace syncbridge::detail {

class SYNCBRIDGE_API SyncobjHandle {
 public:
  SyncobjHandle() noexcept = default;
  SyncobjHandle(int drm_fd, std::uint32_t handle, DrmCap caps) noexcept
      : drm_fd_(drm_fd), handle_(handle), caps_(caps) {}
  SyncobjHandle(SyncobjHandle&& o) noexcept
      : drm_fd_(std::exchange(o.drm_fd_, -1)),
        handle_(std::exchange(o.handle_, 0u)),
        caps_(std::exchange(o.caps_, DrmCap::none)) {}
  SyncobjHandle& operator=(SyncobjHandle&& o) noexcept {
    if (this != &o) {
      reset();
      drm_fd_ = std::exchange(o.drm_fd_, -1);
      handle_ = std::exchange(o.handle_, 0u);
      caps_ = std::exchange(o.caps_, DrmCap::none);
    }
    return *this;
  }
  SyncobjHandle(const SyncobjHandle&) = delete;
  SyncobjHandle& operator=(const SyncobjHandle&) = delete;
  ~SyncobjHandle() { reset(); }
  void reset() noexcept;  // destroys the handle (drm/syncobj_handle.cpp); empty afterwards

  int drm_fd() const noexcept { return drm_fd_; }            // borrowed from the DrmDevice
  std::uint32_t handle() const noexcept { return handle_; }  // 0: empty
  DrmCap caps() const noexcept { return caps_; }

 private:
  int drm_fd_ = -1;
  std::uint32_t handle_ = 0;
  DrmCap caps_ = DrmCap::none;
};

}  // namespace syncbridge::detail
