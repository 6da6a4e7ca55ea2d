// The Watcher handle (watcher.h): each call checks for an empty handle and goes to the
// WatcherCore (watcher_core.h), which the handle shares with SyncobjImporters.
#include "syncbridge/watcher.h"

#include <cerrno>
#include <string>
#include <utility>

#include "drm/watcher_core.h"

namespace syncbridge {

using detail::WatchTarget;

namespace {
Error invalid_watcher(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty Watcher");
}
}  // namespace

Watcher::Watcher() noexcept = default;
Watcher::Watcher(std::shared_ptr<detail::WatcherCore> core) noexcept : core_(std::move(core)) {}
Watcher::Watcher(Watcher&&) noexcept = default;
Watcher& Watcher::operator=(Watcher&& other) noexcept {
  if (this != &other) {
    if (core_) core_->stop();
    core_ = std::move(other.core_);
  }
  return *this;
}
Watcher::~Watcher() {
  if (core_) core_->stop();
}

Result<Watcher> Watcher::create(WatcherMode mode) {
  auto core = detail::WatcherCore::create(mode);
  if (!core) return std::move(core).error();
  return Watcher(std::move(core).value());
}

WatcherMode Watcher::mode() const noexcept { return core_ ? core_->mode() : WatcherMode::caller_loop; }

Result<WatchId> Watcher::watch_sync_file(SyncFile file, WatchCallback callback) {
  if (!core_) return invalid_watcher("Watcher::watch_sync_file");
  if (!file.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_sync_file of an empty SyncFile");
  return core_->add(WatchTarget::of_sync_file(std::move(file)), std::move(callback));
}

Result<WatchId> Watcher::watch_fd(UniqueFd fd, WatchCallback callback) {
  if (!core_) return invalid_watcher("Watcher::watch_fd");
  if (!fd.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_fd of an empty fd");
  return core_->add(WatchTarget::of_fd(std::move(fd)), std::move(callback));
}

Result<WatchId> Watcher::watch_syncobj(const TimelineSyncobj& syncobj, std::uint64_t point, WatchCallback callback) {
  if (!core_) return invalid_watcher("Watcher::watch_syncobj");
  return core_->watch_syncobj(syncobj, point, std::move(callback));
}

bool Watcher::remove(WatchId id) noexcept { return core_ ? core_->remove(id.value) : false; }

int Watcher::fd() const noexcept { return core_ ? core_->fd() : -1; }

Result<std::size_t> Watcher::dispatch() {
  if (!core_) return invalid_watcher("Watcher::dispatch");
  return core_->dispatch();
}

WatcherStats Watcher::stats() const noexcept { return core_ ? core_->stats() : WatcherStats{}; }

WatchCallback signal_timeline(Timeline& timeline, std::uint64_t point) {
  return [&timeline, point](const Result<void>& outcome) {
    if (outcome) {
      // Errc::backwards: the timeline is already past point, which is what we wanted.
      (void)timeline.signal_to(point);
    } else {
      // The kernel fence's own errno reaches the core fences (EIO when it gave none).
      timeline.close(outcome.error().sys_errno() > 0 ? outcome.error().sys_errno() : EIO);
    }
  };
}

}  // namespace syncbridge
