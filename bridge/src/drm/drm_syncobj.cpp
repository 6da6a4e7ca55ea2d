#include "syncbridge/drm_syncobj.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "drm/drm_ops.h"
#include "drm/syncobj_ops.h"

namespace syncbridge {

namespace drm = detail::drm;
using namespace detail::syncobj_ops;

namespace {

// A temporary binary syncobj on the same DRM file as h: destroyed when it goes out of scope.
Result<detail::SyncobjHandle> temporary_binary(const detail::SyncobjHandle& h) {
  auto t = drm::syncobj_create(h.drm_fd(), 0);
  if (!t) return std::move(t).error();
  return detail::SyncobjHandle(h.drm_fd(), *t, h.caps());
}

}  // namespace

Result<TimelineSyncobj> TimelineSyncobj::create(const DrmDevice& device) {
  auto h = create_handle(device, DrmCap::syncobj_timeline, 0, "TimelineSyncobj::create");
  if (!h) return std::move(h).error();
  return TimelineSyncobj(std::move(h).value());
}

Result<TimelineSyncobj> TimelineSyncobj::import_fd(const DrmDevice& device, int syncobj_fd) {
  auto h = import_handle(device, DrmCap::syncobj_timeline, syncobj_fd, "TimelineSyncobj::import_fd");
  if (!h) return std::move(h).error();
  return TimelineSyncobj(std::move(h).value());
}

Result<void> TimelineSyncobj::signal(std::uint64_t point) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::signal")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  return drm::syncobj_timeline_signal(h_.drm_fd(), {&handle, 1}, {&point, 1});
}

Result<WaitStatus> TimelineSyncobj::wait(std::uint64_t point, std::chrono::nanoseconds timeout,
                                         SyncobjWait flags) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::wait")) return std::move(*e);
  if (timeout.count() < 0) return Error(Errc::invalid_argument, EINVAL, "TimelineSyncobj::wait: negative timeout");
  const std::uint32_t handle = h_.handle();
  auto r = drm::syncobj_wait(h_.drm_fd(), {&handle, 1}, {&point, 1}, drm::abs_timeout_ns(timeout), bits(flags));
  if (!r) return std::move(r).error();
  return r->status;
}

Result<WaitStatus> TimelineSyncobj::wait_until(std::uint64_t point, MonotonicTime deadline, SyncobjWait flags) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::wait_until")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  auto r = drm::syncobj_wait(h_.drm_fd(), {&handle, 1}, {&point, 1}, drm::abs_deadline_ns(deadline), bits(flags));
  if (!r) return std::move(r).error();
  return r->status;
}

Result<std::uint64_t> TimelineSyncobj::query() const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::query")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  std::uint64_t point = 0;
  if (auto ok = drm::syncobj_query(h_.drm_fd(), {&handle, 1}, {&point, 1}, 0); !ok) return std::move(ok).error();
  return point;
}

Result<std::uint64_t> TimelineSyncobj::query_last_submitted() const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::query_last_submitted")) return std::move(*e);
  const std::uint32_t handle = h_.handle();
  std::uint64_t point = 0;
  if (auto ok = drm::syncobj_query(h_.drm_fd(), {&handle, 1}, {&point, 1}, drm::kQueryLastSubmitted); !ok)
    return std::move(ok).error();
  return point;
}

Result<void> TimelineSyncobj::transfer_from(std::uint64_t dst_point, const TimelineSyncobj& src,
                                            std::uint64_t src_point) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::transfer_from")) return std::move(*e);
  if (!src.valid()) return empty_error("TimelineSyncobj::transfer_from (source)");
  if (src.drm_fd() != h_.drm_fd())
    return Error(Errc::invalid_argument, EINVAL, "TimelineSyncobj::transfer_from: both syncobjs must be on one DRM fd");
  return drm::syncobj_transfer(h_.drm_fd(), h_.handle(), dst_point, src.handle(), src_point, 0);
}

Result<void> TimelineSyncobj::transfer_from(std::uint64_t dst_point, const BinarySyncobj& src) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::transfer_from")) return std::move(*e);
  if (!src.valid()) return empty_error("TimelineSyncobj::transfer_from (source)");
  if (src.drm_fd() != h_.drm_fd())
    return Error(Errc::invalid_argument, EINVAL, "TimelineSyncobj::transfer_from: both syncobjs must be on one DRM fd");
  return drm::syncobj_transfer(h_.drm_fd(), h_.handle(), dst_point, src.handle(), 0, 0);
}

Result<void> TimelineSyncobj::transfer_to(const BinarySyncobj& dst, std::uint64_t point) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::transfer_to")) return std::move(*e);
  if (!dst.valid()) return empty_error("TimelineSyncobj::transfer_to (destination)");
  if (dst.drm_fd() != h_.drm_fd())
    return Error(Errc::invalid_argument, EINVAL, "TimelineSyncobj::transfer_to: both syncobjs must be on one DRM fd");
  return drm::syncobj_transfer(h_.drm_fd(), dst.handle(), 0, h_.handle(), point, 0);
}

Result<SyncFile> TimelineSyncobj::export_sync_file(std::uint64_t point) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::export_sync_file")) return std::move(*e);
  // 1. Available? A zero-timeout WAIT_AVAILABLE never blocks.
  auto available = wait(point, std::chrono::nanoseconds(0), SyncobjWait::available);
  if (!available) return std::move(available).error();
  if (*available == WaitStatus::timed_out)
    return Error(Errc::invalid_argument, EINVAL,
                 "TimelineSyncobj::export_sync_file: point " + std::to_string(point) + " of syncobj " +
                     std::to_string(h_.handle()) + " has no fence yet (not submitted): nothing to export");
  // 2. Transfer the point into a temporary binary syncobj, 3. export it, 4. the temporary goes
  // away with `temp` on every path.
  auto temp = temporary_binary(h_);
  if (!temp) return std::move(temp).error();
  if (auto ok = drm::syncobj_transfer(h_.drm_fd(), temp->handle(), 0, h_.handle(), point, 0); !ok)
    return std::move(ok).error();
  return adopt_exported(drm::syncobj_export_sync_file(h_.drm_fd(), temp->handle()));
}

Result<void> TimelineSyncobj::import_sync_file(std::uint64_t point, int sync_file_fd) const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::import_sync_file")) return std::move(*e);
  auto temp = temporary_binary(h_);
  if (!temp) return std::move(temp).error();
  if (auto ok = drm::syncobj_import_sync_file(h_.drm_fd(), temp->handle(), sync_file_fd); !ok)
    return std::move(ok).error();
  return drm::syncobj_transfer(h_.drm_fd(), h_.handle(), point, temp->handle(), 0, 0);
}

Result<void> TimelineSyncobj::register_eventfd(std::uint64_t point, int event_fd, bool when_available) const {
  if (auto e = check(h_, DrmCap::syncobj_eventfd, "TimelineSyncobj::register_eventfd")) return std::move(*e);
  const std::uint32_t flags = when_available ? drm::kWaitAvailable : 0;
  if (auto ok = drm::syncobj_eventfd(h_.drm_fd(), h_.handle(), point, event_fd, flags); !ok)
    return std::move(ok).error();
  // The re-check (see the header): a zero-timeout wait, for_submit so that an unsubmitted
  // point reads "not yet" instead of EINVAL.
  const SyncobjWait recheck = (when_available ? SyncobjWait::available : SyncobjWait::none) | SyncobjWait::for_submit;
  auto done = wait(point, std::chrono::nanoseconds(0), recheck);
  if (!done) return std::move(done).error();
  if (*done == WaitStatus::signaled && ::eventfd_write(event_fd, 1) != 0)
    return Error::from_errno(errno, "eventfd_write to fd " + std::to_string(event_fd) + " failed");
  return {};
}

Result<UniqueFd> TimelineSyncobj::eventfd_at(std::uint64_t point, bool when_available) const {
  if (auto e = check(h_, DrmCap::syncobj_eventfd, "TimelineSyncobj::eventfd_at")) return std::move(*e);
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return Error::from_errno(errno, "eventfd() failed");
  if (auto ok = register_eventfd(point, efd.get(), when_available); !ok) return std::move(ok).error();
  return efd;
}

Result<UniqueFd> TimelineSyncobj::export_fd() const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::export_fd")) return std::move(*e);
  return drm::syncobj_handle_to_fd(h_.drm_fd(), h_.handle());
}

Result<TimelineSyncobj> TimelineSyncobj::duplicate() const {
  if (auto e = check(h_, DrmCap::syncobj_timeline, "TimelineSyncobj::duplicate")) return std::move(*e);
  auto fd = drm::syncobj_handle_to_fd(h_.drm_fd(), h_.handle());
  if (!fd) return std::move(fd).error();
  auto h = drm::syncobj_fd_to_handle(h_.drm_fd(), fd->get());
  if (!h) return std::move(h).error();
  return TimelineSyncobj(detail::SyncobjHandle(h_.drm_fd(), *h, h_.caps()));
}

// ---- multi-wait ----

Result<WaitAnyResult> wait_syncobjs(const DrmDevice& device, std::span<const SyncobjPoint> points,
                                    std::chrono::nanoseconds timeout, SyncobjWait flags) {
  if (auto ok = device.require(DrmCap::syncobj_timeline, "wait_syncobjs"); !ok) return std::move(ok).error();
  if (timeout.count() < 0) return Error(Errc::invalid_argument, EINVAL, "wait_syncobjs: negative timeout");
  // Nothing to wait for is signaled, as the kernel answers a wait on zero handles and as an
  // empty FenceSet is.
  if (points.empty()) return WaitAnyResult{WaitStatus::signaled, 0};
  std::vector<std::uint32_t> handles;
  std::vector<std::uint64_t> values;
  handles.reserve(points.size());
  values.reserve(points.size());
  for (const SyncobjPoint& p : points) {
    handles.push_back(p.handle);
    values.push_back(p.point);
  }
  auto r = drm::syncobj_wait(device.fd(), handles, values, drm::abs_timeout_ns(timeout), bits(flags));
  if (!r) return std::move(r).error();
  return WaitAnyResult{r->status, r->first_signaled};
}

}  // namespace syncbridge
