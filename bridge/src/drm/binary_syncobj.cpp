#include "syncbridge/binary_syncobj.h"

#include <cerrno>

#include "drm/drm_ops.h"
#include "drm/syncobj_ops.h"

namespace syncbridge {

namespace drm = detail::drm;
using namespace detail::syncobj_ops;

Result<BinarySyncobj> BinarySyncobj::create(const DrmDevice& device, bool signaled) {
  auto h = create_handle(device, DrmCap::syncobj, signaled ? drm::kCreateSignaled : 0, "BinarySyncobj::create");
  if (!h) return std::move(h).error();
  return BinarySyncobj(std::move(h).value());
}

Result<BinarySyncobj> BinarySyncobj::import_fd(const DrmDevice& device, int syncobj_fd) {
  auto h = import_handle(device, DrmCap::syncobj, syncobj_fd, "BinarySyncobj::import_fd");
  if (!h) return std::move(h).error();
  return BinarySyncobj(std::move(h).value());
}

Result<BinarySyncobj> BinarySyncobj::from_sync_file(const DrmDevice& device, int sync_file_fd) {
  auto s = create(device);
  if (!s) return s;
  if (auto ok = s->import_sync_file(sync_file_fd); !ok) return std::move(ok).error();  // s destroyed here
  return s;
}

Result<void> BinarySyncobj::signal() const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::signal")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  return drm::syncobj_signal(h_.drm_fd(), {&handle, 1});
}

Result<void> BinarySyncobj::reset_fence() const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::reset_fence")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  return drm::syncobj_reset(h_.drm_fd(), {&handle, 1});
}

Result<WaitStatus> BinarySyncobj::wait(std::chrono::nanoseconds timeout, SyncobjWait flags) const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::wait")) return std::move(*e);
  if (timeout.count() < 0) return Error(Errc::invalid_argument, EINVAL, "BinarySyncobj::wait: negative timeout");
  const std::uint32_t handle = h_.handle();
  auto r = drm::syncobj_wait(h_.drm_fd(), {&handle, 1}, {}, drm::abs_timeout_ns(timeout), bits(flags));
  if (!r) return std::move(r).error();
  return r->status;
}

Result<void> BinarySyncobj::import_sync_file(int sync_file_fd) const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::import_sync_file")) return std::move(*e);
  return drm::syncobj_import_sync_file(h_.drm_fd(), h_.handle(), sync_file_fd);
}

Result<SyncFile> BinarySyncobj::export_sync_file() const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::export_sync_file")) return std::move(*e);
  return adopt_exported(drm::syncobj_export_sync_file(h_.drm_fd(), h_.handle()));
}

Result<UniqueFd> BinarySyncobj::export_fd() const {
  if (auto e = check(h_, DrmCap::syncobj, "BinarySyncobj::export_fd")) return std::move(*e);
  return drm::syncobj_handle_to_fd(h_.drm_fd(), h_.handle());
}

}  // namespace syncbridge
