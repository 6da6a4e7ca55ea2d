// Internal: the checks and handle constructors that BinarySyncobj (binary_syncobj.cpp) and
// TimelineSyncobj (drm_syncobj.cpp) share, over detail::SyncobjHandle. Each call starts with
// check(); create() and import_fd() go through create_handle() and import_handle().
#pragma once

#include <cerrno>
#include <optional>
#include <string>

#include "drm/drm_ops.h"
#include "syncbridge/binary_syncobj.h"
#include "syncbridge/detail/syncobj_handle.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge::detail::syncobj_ops {

// The typed flags are the kernel's bits (handed to the ioctl as they are).
static_assert(bits(SyncobjWait::all) == drm::kWaitAll && bits(SyncobjWait::for_submit) == drm::kWaitForSubmit &&
              bits(SyncobjWait::available) == drm::kWaitAvailable);

inline Error empty_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty syncobj");
}

// The checks every call starts with: a handle, and the device capability it needs (before any
// ioctl, so that a driver without it reads "unsupported" rather than whatever errno it picks).
inline std::optional<Error> check(const SyncobjHandle& h, DrmCap cap, const char* what) {
  if (h.handle() == 0) return empty_error(what);
  if (!has(h.caps(), cap))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 std::string(what) + " needs " + std::string(to_string(cap)) + ", which DRM fd " +
                     std::to_string(h.drm_fd()) + " lacks");
  return std::nullopt;
}

inline Result<SyncobjHandle> create_handle(const DrmDevice& device, DrmCap cap, std::uint32_t flags, const char* what) {
  if (auto ok = device.require(cap, what); !ok) return std::move(ok).error();
  auto h = drm::syncobj_create(device.fd(), flags);
  if (!h) return std::move(h).error();
  return SyncobjHandle(device.fd(), *h, device.caps());
}

inline Result<SyncobjHandle> import_handle(const DrmDevice& device, DrmCap cap, int syncobj_fd, const char* what) {
  if (auto ok = device.require(cap, what); !ok) return std::move(ok).error();
  auto h = drm::syncobj_fd_to_handle(device.fd(), syncobj_fd);
  if (!h) return std::move(h).error();
  return SyncobjHandle(device.fd(), *h, device.caps());
}

inline Result<SyncFile> adopt_exported(Result<UniqueFd> fd) {
  if (!fd) return std::move(fd).error();
  return SyncFile::adopt(std::move(fd).value());
}

}  // namespace syncbridge::detail::syncobj_ops
