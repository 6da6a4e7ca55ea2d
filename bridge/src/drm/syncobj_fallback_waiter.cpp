#include "drm/syncobj_fallback_waiter.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdlib>
#include <iterator>

#include "drm/drm_ops.h"

namespace syncbridge::detail {

Result<void> FallbackWaiter::add(int drm_fd, Entry entry) {
  std::lock_guard lk(mu_);
  if (stop_) return Error(Errc::invalid_handle, EBADF, "syncobj fallback waiter is stopped");
  Group& g = groups_[drm_fd];
  if (g.wake == 0) {
    auto wake = drm::syncobj_create(drm_fd, 0);
    if (!wake) {
      groups_.erase(drm_fd);
      return std::move(wake).error();
    }
    g.wake = *wake;
  }
  g.entries.push_back(std::move(entry));
  (void)drm::syncobj_signal(drm_fd, {&g.wake, 1});  // the bounded timeout covers a failure
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
  return {};
}

void FallbackWaiter::remove(int drm_fd, std::uint64_t id) {
  std::unique_lock lk(mu_);
  auto it = groups_.find(drm_fd);
  if (it == groups_.end()) return;
  auto& entries = it->second.entries;
  for (auto e = entries.begin(); e != entries.end(); ++e) {
    if (e->id == id) {
      entries.erase(e);
      break;
    }
  }
  (void)drm::syncobj_signal(drm_fd, {&it->second.wake, 1});
  if (!it->second.entries.empty()) return;
  // Drop the group now (the caller may close the device next), but never while the helper
  // sleeps on its wake syncobj: destroyed under it, that wake could not cut the wait short,
  // and a new group's watches would sit out the slice. The signal above wakes it.
  helper_idle_.wait(lk, [&] { return waiting_on_ != drm_fd; });
  it = groups_.find(drm_fd);
  if (it != groups_.end() && it->second.entries.empty()) drop_group(it);
}

void FallbackWaiter::stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [fd, g] : groups_) (void)drm::syncobj_signal(fd, {&g.wake, 1});
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  while (!groups_.empty()) drop_group(groups_.begin());
}

void FallbackWaiter::drop_group(GroupIt it) {
  (void)drm::syncobj_destroy(it->first, it->second.wake);
  groups_.erase(it);
}

void FallbackWaiter::drop_empty_groups() {
  for (auto it = groups_.begin(); it != groups_.end();) {
    auto next = std::next(it);
    if (it->second.entries.empty()) drop_group(it);
    it = next;
  }
}

// How long the helper sleeps in one wait when it serves one device: a wake syncobj cuts it
// short on every change, so the slice only bounds the cost of a lost wake-up. Tests set
// SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS high to make such a loss a hang they can see.
std::chrono::milliseconds FallbackWaiter::single_group_slice_from_env() {
  if (const char* env = std::getenv("SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS")) {
    char* end = nullptr;
    const long long ms = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && ms > 0) return std::chrono::milliseconds(ms);
  }
  return std::chrono::milliseconds(500);
}

// Under mu_. Resets the wake syncobj before the snapshot: a change after it signals it again.
void FallbackWaiter::take_snapshot(int fd, const Group& g, Snapshot& snap) {
  (void)drm::syncobj_reset(fd, {&g.wake, 1});
  snap.handles.assign(1, g.wake);
  snap.points.assign(1, 0);
  snap.ids.assign(1, 0);
  for (const Entry& e : g.entries) {
    snap.handles.push_back(e.handle);
    snap.points.push_back(e.point);
    snap.ids.push_back(e.id);
  }
}

// Zero-timeout checks of entries [1, n) of a snapshot: which completed, with which errno.
void FallbackWaiter::collect_done(int fd, const Snapshot& snap, Done& done) {
  std::vector<std::uint32_t> h(snap.handles.begin() + 1, snap.handles.end());
  std::vector<std::uint64_t> p(snap.points.begin() + 1, snap.points.end());
  std::vector<std::uint64_t> id(snap.ids.begin() + 1, snap.ids.end());
  while (!h.empty()) {
    auto r = drm::syncobj_wait(fd, h, p, 0, drm::kWaitForSubmit);
    if (!r) {
      // One of them is broken (destroyed handle, closed fd): find which, one at a time.
      for (std::size_t i = 0; i < h.size(); ++i) {
        auto one = drm::syncobj_wait(fd, {&h[i], 1}, {&p[i], 1}, 0, drm::kWaitForSubmit);
        if (!one)
          done.emplace_back(id[i], one.error().sys_errno() != 0 ? one.error().sys_errno() : EIO);
        else if (one->status == WaitStatus::signaled)
          done.emplace_back(id[i], 0);
      }
      return;
    }
    if (r->status == WaitStatus::timed_out) return;
    const std::size_t k = r->first_signaled < h.size() ? r->first_signaled : 0;
    done.emplace_back(id[k], 0);
    h.erase(h.begin() + static_cast<std::ptrdiff_t>(k));
    p.erase(p.begin() + static_cast<std::ptrdiff_t>(k));
    id.erase(id.begin() + static_cast<std::ptrdiff_t>(k));
  }
}

// Under mu_: hands each completed entry its errno and a bump of its eventfd, and drops it.
bool FallbackWaiter::report_done(int fd, const Done& done) {
  auto git = groups_.find(fd);
  if (git == groups_.end()) return false;
  for (const auto& [id, err] : done) {
    auto& entries = git->second.entries;
    for (auto e = entries.begin(); e != entries.end(); ++e) {
      if (e->id != id) continue;
      e->error->store(err, std::memory_order_release);
      (void)::eventfd_write(e->event_fd, 1);
      entries.erase(e);
      break;
    }
  }
  return true;
}

void FallbackWaiter::run() {
  std::unique_lock lk(mu_);
  std::size_t round = 0;
  Snapshot snap;
  Done done;
  while (!stop_) {
    drop_empty_groups();
    if (groups_.empty()) {
      cv_.wait(lk);
      continue;
    }
    auto it = groups_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(round++ % groups_.size()));
    const int fd = it->first;
    take_snapshot(fd, it->second, snap);
    const auto slice = groups_.size() == 1 ? single_group_slice_ : std::chrono::milliseconds(5);
    waiting_on_ = fd;
    lk.unlock();

    // The bounded wait. Not the epoll loop: this thread exists to block here.
    auto r = drm::syncobj_wait(fd, snap.handles, snap.points, drm::abs_timeout_ns(slice), drm::kWaitForSubmit);
    done.clear();
    if (!r || r->status == WaitStatus::signaled) collect_done(fd, snap, done);

    lk.lock();
    waiting_on_ = -1;
    helper_idle_.notify_all();
    if (!report_done(fd, done)) continue;
    if (!r && done.empty()) {
      // The wait itself fails and no entry is to blame (ENOMEM...): do not spin.
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      lk.lock();
    }
  }
}

}  // namespace syncbridge::detail
