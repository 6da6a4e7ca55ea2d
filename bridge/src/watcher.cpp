#include "syncbridge/watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "drm_ops.h"

namespace syncbridge {

namespace drm = detail::drm;

namespace {

constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kWakeToken = 0;  // epoll data of the watcher's own eventfd (no WatchId is 0)
constexpr int kBatch = 64;

Error invalid_watcher(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty Watcher");
}

UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

// ---- the syncobj fallback: bounded waits on a helper thread (see watcher.h) ----

class FallbackWaiter {
 public:
  struct Entry {
    std::uint64_t id;
    std::uint32_t handle;
    std::uint64_t point;
    int event_fd;                              // the watch's eventfd: written under mu_ only
    std::shared_ptr<std::atomic<int>> error;   // errno for the watch, 0 when it signaled
  };

  FallbackWaiter() = default;
  FallbackWaiter(const FallbackWaiter&) = delete;
  FallbackWaiter& operator=(const FallbackWaiter&) = delete;
  ~FallbackWaiter() { stop(); }

  Result<void> add(int drm_fd, Entry entry) {
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

  // O(n) in the device's set: the fallback only.
  void remove(int drm_fd, std::uint64_t id) {
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

  void stop() {
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

 private:
  struct Group {
    std::uint32_t wake = 0;  // a private binary syncobj, signaled to cut a wait short
    std::vector<Entry> entries;
  };
  using GroupIt = std::map<int, Group>::iterator;

  void drop_group(GroupIt it) {
    (void)drm::syncobj_destroy(it->first, it->second.wake);
    groups_.erase(it);
  }

  // Helper thread, under mu_, while it waits on no wake syncobj.
  void drop_empty_groups() {
    for (auto it = groups_.begin(); it != groups_.end();) {
      auto next = std::next(it);
      if (it->second.entries.empty()) drop_group(it);
      it = next;
    }
  }

  // How long the helper sleeps in one wait when it serves one device: a wake syncobj cuts it
  // short on every change, so the slice only bounds the cost of a lost wake-up. Tests set
  // SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS high to make such a loss a hang they can see.
  static std::chrono::milliseconds single_group_slice_from_env() {
    if (const char* env = std::getenv("SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS")) {
      char* end = nullptr;
      const long long ms = std::strtoll(env, &end, 10);
      if (end != env && *end == '\0' && ms > 0) return std::chrono::milliseconds(ms);
    }
    return std::chrono::milliseconds(500);
  }

  // Zero-timeout checks of entries [1, n) of a snapshot: which completed, with which errno.
  static void collect_done(int fd, const std::vector<std::uint32_t>& handles, const std::vector<std::uint64_t>& points,
                           const std::vector<std::uint64_t>& ids, std::vector<std::pair<std::uint64_t, int>>& done) {
    std::vector<std::uint32_t> h(handles.begin() + 1, handles.end());
    std::vector<std::uint64_t> p(points.begin() + 1, points.end());
    std::vector<std::uint64_t> id(ids.begin() + 1, ids.end());
    while (!h.empty()) {
      auto r = drm::syncobj_wait(fd, h, p, 0, drm::kWaitForSubmit);
      if (!r) {
        // One of them is broken (destroyed handle, closed fd): find which, one at a time.
        for (std::size_t i = 0; i < h.size(); ++i) {
          auto one = drm::syncobj_wait(fd, {&h[i], 1}, {&p[i], 1}, 0, drm::kWaitForSubmit);
          if (!one) done.emplace_back(id[i], one.error().sys_errno() != 0 ? one.error().sys_errno() : EIO);
          else if (one->status == WaitStatus::signaled) done.emplace_back(id[i], 0);
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

  void run() {
    std::unique_lock lk(mu_);
    std::size_t round = 0;
    std::vector<std::uint32_t> handles;
    std::vector<std::uint64_t> points;
    std::vector<std::uint64_t> ids;
    std::vector<std::pair<std::uint64_t, int>> done;
    while (!stop_) {
      drop_empty_groups();
      if (groups_.empty()) {
        cv_.wait(lk);
        continue;
      }
      auto it = groups_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(round++ % groups_.size()));
      const int fd = it->first;
      Group& g = it->second;
      // Reset the wake syncobj before the snapshot: a change after it signals it again.
      (void)drm::syncobj_reset(fd, {&g.wake, 1});
      handles.assign(1, g.wake);
      points.assign(1, 0);
      ids.assign(1, 0);
      for (const Entry& e : g.entries) {
        handles.push_back(e.handle);
        points.push_back(e.point);
        ids.push_back(e.id);
      }
      const auto slice = groups_.size() == 1 ? single_group_slice_ : std::chrono::milliseconds(5);
      waiting_on_ = fd;
      lk.unlock();

      // The bounded wait. Not the epoll loop: this thread exists to block here.
      auto r = drm::syncobj_wait(fd, handles, points, drm::abs_timeout_ns(slice), drm::kWaitForSubmit);
      done.clear();
      if (!r || r->status == WaitStatus::signaled) collect_done(fd, handles, points, ids, done);

      lk.lock();
      waiting_on_ = -1;
      helper_idle_.notify_all();
      auto git = groups_.find(fd);
      if (git == groups_.end()) continue;
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
      if (!r && done.empty()) {
        // The wait itself fails and no entry is to blame (ENOMEM...): do not spin.
        lk.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        lk.lock();
      }
    }
  }

  const std::chrono::milliseconds single_group_slice_ = single_group_slice_from_env();
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable helper_idle_;  // waiting_on_ went back to -1
  int waiting_on_ = -1;                  // the device the helper sleeps on, under mu_
  bool stop_ = false;
  std::map<int, Group> groups_;
  std::thread thread_;
};

enum class Kind : std::uint8_t { free, fd, sync_file, syncobj };
enum class SlotState : std::uint8_t { armed, firing };

struct Slot {
  std::uint32_t generation = 1;
  Kind kind = Kind::free;
  SlotState state = SlotState::armed;
  bool fallback = false;
  int drm_fd = -1;           // fallback syncobj watches: which device group
  std::uint32_t next_free = kNoSlot;
  UniqueFd fd;               // fd and syncobj kinds (the eventfd)
  SyncFile file;             // sync_file kind
  WatchCallback callback;
  std::shared_ptr<std::atomic<int>> fallback_error;
};

WatchId make_id(std::uint32_t index, std::uint32_t generation) {
  return WatchId{(static_cast<std::uint64_t>(generation) << 32) | (static_cast<std::uint64_t>(index) + 1)};
}

}  // namespace

struct Watcher::Impl {
  WatcherMode mode = WatcherMode::own_thread;
  UniqueFd epoll;
  UniqueFd wake;  // own-thread mode: written to stop the thread

  mutable std::mutex mu;
  std::condition_variable firing_done;
  std::vector<Slot> slots;
  std::uint32_t free_head = kNoSlot;
  std::size_t live = 0;
  std::size_t fallback_live = 0;
  std::uint64_t fired = 0;
  std::uint64_t firing = 0;  // the WatchId whose callback runs now (0: none)
  std::thread::id firing_thread;

  std::mutex dispatch_mu;  // one dispatcher at a time
  std::atomic<bool> stopping{false};
  std::thread thread;
  std::unique_ptr<FallbackWaiter> waiter;  // created on first fallback watch, under mu

  Slot* lookup(std::uint64_t id) {
    const std::uint64_t index = (id & 0xffffffffu) - 1;
    if ((id & 0xffffffffu) == 0 || index >= slots.size()) return nullptr;
    Slot& s = slots[index];
    if (s.kind == Kind::free || s.generation != static_cast<std::uint32_t>(id >> 32)) return nullptr;
    return &s;
  }

  // Under mu. Takes the callback and fds out; the caller destroys them outside the lock.
  void free_slot(std::uint64_t id, Slot& s) {
    const auto index = static_cast<std::uint32_t>((id & 0xffffffffu) - 1);
    if (s.fallback) --fallback_live;
    s.kind = Kind::free;
    s.state = SlotState::armed;
    s.fallback = false;
    s.drm_fd = -1;
    s.fallback_error.reset();
    ++s.generation;
    if (s.generation == 0) s.generation = 1;
    s.next_free = free_head;
    free_head = index;
    --live;
  }

  Result<WatchId> add(Kind kind, UniqueFd fd, SyncFile file, WatchCallback cb, bool fallback, int drm_fd,
                      std::shared_ptr<std::atomic<int>> fallback_error) {
    const int raw = kind == Kind::sync_file ? file.fd() : fd.get();
    std::lock_guard lk(mu);
    std::uint32_t index;
    if (free_head != kNoSlot) {
      index = free_head;
      free_head = slots[index].next_free;
    } else {
      if (slots.size() >= kNoSlot - 1) return Error(Errc::out_of_range, ENOSPC, "Watcher: too many watches");
      index = static_cast<std::uint32_t>(slots.size());
      slots.emplace_back();
    }
    Slot& s = slots[index];
    const WatchId id = make_id(index, s.generation);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id.value;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
      const int err = errno;
      s.next_free = free_head;
      free_head = index;
      return Error::from_errno(err, "Watcher: epoll_ctl(ADD) of fd " + std::to_string(raw) + " failed");
    }
    s.kind = kind;
    s.state = SlotState::armed;
    s.fallback = fallback;
    s.drm_fd = drm_fd;
    s.fd = std::move(fd);
    s.file = std::move(file);
    s.callback = std::move(cb);
    s.fallback_error = std::move(fallback_error);
    s.next_free = kNoSlot;
    ++live;
    if (fallback) ++fallback_live;
    return id;
  }

  bool remove(std::uint64_t id) {
    WatchCallback cb;
    UniqueFd fd;
    SyncFile file;
    bool fallback = false;
    int drm_fd = -1;
    {
      std::unique_lock lk(mu);
      while (id != 0 && firing == id) {
        if (firing_thread == std::this_thread::get_id()) return false;  // from its own callback
        firing_done.wait(lk, [&] { return firing != id; });
        // Look again: it fired (the slot is gone), or the wake-up was spurious and the watch is
        // armed again (then it is removed below).
      }
      Slot* s = lookup(id);
      if (!s || s->state != SlotState::armed) return false;
      const int raw = s->kind == Kind::sync_file ? s->file.fd() : s->fd.get();
      (void)::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, raw, nullptr);
      cb = std::move(s->callback);
      fd = std::move(s->fd);
      file = std::move(s->file);
      fallback = s->fallback;
      drm_fd = s->drm_fd;
      free_slot(id, *s);
    }
    // The helper thread writes the eventfd only while the entry is registered: unregister
    // before `fd` closes. Callback and fds go away here, outside the lock.
    if (fallback && waiter) waiter->remove(drm_fd, id);
    return true;
  }

  // Handles one epoll event. True when a callback ran.
  bool handle(std::uint64_t id, std::uint32_t events) {
    Kind kind;
    UniqueFd fd;
    SyncFile file;
    std::shared_ptr<std::atomic<int>> fallback_error;
    bool fallback;
    int drm_fd;
    {
      std::lock_guard lk(mu);
      Slot* s = lookup(id);
      if (!s || s->state != SlotState::armed) return false;  // removed after epoll_wait returned
      s->state = SlotState::firing;
      firing = id;
      firing_thread = std::this_thread::get_id();
      kind = s->kind;
      fd = std::move(s->fd);
      file = std::move(s->file);
      fallback_error = s->fallback_error;
      fallback = s->fallback;
      drm_fd = s->drm_fd;
    }
    // Outside the lock: remove() of this id now waits for us, so the fds stay ours.
    Result<void> outcome;
    bool fire = true;
    switch (kind) {
      case Kind::sync_file: {
        auto st = file.status();  // one SYNC_IOC_FILE_INFO: never a wait
        if (!st) {
          outcome = std::move(st).error();
        } else if (*st == FenceStatus::pending) {
          fire = false;  // spurious wake-up
        } else if (*st == FenceStatus::error) {
          auto info = file.info();
          const int err = info && info->error_errno != 0 ? info->error_errno : EIO;
          outcome = Error(Errc::fence_error, err, "sync_file fd " + std::to_string(file.fd()) + " completed with an error");
        }
        break;
      }
      case Kind::syncobj:
        // The eventfd is closed right after: no need to read it.
        if (const int err = fallback_error ? fallback_error->load(std::memory_order_acquire) : 0; err != 0)
          outcome = Error::from_errno(err, "Watcher: waiting for the syncobj point failed");
        break;
      case Kind::fd:
        if (!(events & EPOLLIN)) {
          if (events & EPOLLERR) outcome = Error(Errc::system, EIO, "Watcher: fd " + std::to_string(fd.get()) + " reported EPOLLERR");
          else outcome = Error(Errc::system, EPIPE, "Watcher: fd " + std::to_string(fd.get()) + " hung up without data");
        }
        break;
      case Kind::free: fire = false; break;
    }

    WatchCallback cb;
    {
      std::lock_guard lk(mu);
      Slot* s = lookup(id);  // still ours: nobody frees a firing slot
      if (!fire) {
        if (s) {
          s->fd = std::move(fd);
          s->file = std::move(file);
          s->state = SlotState::armed;
        }
        firing = 0;
        firing_done.notify_all();
        return false;
      }
      if (s) {
        cb = std::move(s->callback);
        free_slot(id, *s);
      }
      ++fired;
    }
    // The callback first: the latency that matters. The fd stays ours meanwhile (its number
    // cannot be reused while open, and only this dispatcher runs), and level-triggered epoll
    // would report it again only in a later round, after the DEL below.
    if (cb) cb(outcome);
    cb = nullptr;
    (void)::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, kind == Kind::sync_file ? file.fd() : fd.get(), nullptr);
    // The helper thread wrote this eventfd under its lock and dropped the entry first; taking
    // that lock once more (a no-op remove) orders its write before our close for every
    // observer, TSan included, not only through the kernel.
    if (fallback) {
      FallbackWaiter* w;
      {
        std::lock_guard lk(mu);
        w = waiter.get();
      }
      if (w) w->remove(drm_fd, id);
    }
    fd.reset();
    file = SyncFile();
    {
      std::lock_guard lk(mu);
      firing = 0;
    }
    firing_done.notify_all();
    return true;
  }

  // One epoll_wait (timeout_ms: -1 blocks, 0 only looks) and its events: how many callbacks
  // ran; *got is how many events epoll_wait returned.
  std::size_t round(int timeout_ms, int* got = nullptr) {
    epoll_event events[kBatch];
    const int n = ::epoll_wait(epoll.get(), events, kBatch, timeout_ms);
    if (got) *got = n;
    std::size_t ran = 0;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeToken) {
        eventfd_t v;
        (void)::eventfd_read(wake.get(), &v);
        continue;
      }
      if (handle(events[i].data.u64, events[i].events)) ++ran;
    }
    return ran;
  }

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      std::lock_guard lk(dispatch_mu);
      (void)round(-1);
    }
  }

  void stop() {
    if (thread.joinable()) {
      stopping.store(true, std::memory_order_release);
      (void)::eventfd_write(wake.get(), 1);
      thread.join();
    }
    std::unique_ptr<FallbackWaiter> w;
    {
      std::lock_guard lk(mu);
      w = std::move(waiter);
    }
    if (w) w->stop();  // no more eventfd writes after this
    // Drop what is left, unrun (see watcher.h), outside the lock.
    std::vector<Slot> left;
    {
      std::lock_guard lk(mu);
      left = std::move(slots);
      slots.clear();
      free_head = kNoSlot;
      live = 0;
      fallback_live = 0;
    }
  }
};

Watcher::Watcher() noexcept = default;
Watcher::Watcher(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Watcher::Watcher(Watcher&&) noexcept = default;
Watcher& Watcher::operator=(Watcher&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Watcher::~Watcher() {
  if (impl_) impl_->stop();
}

Result<Watcher> Watcher::create(WatcherMode mode) {
  auto impl = std::make_unique<Impl>();
  impl->mode = mode;
  impl->epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll) return Error::from_errno(errno, "Watcher: epoll_create1 failed");
  if (mode == WatcherMode::own_thread) {
    impl->wake = make_eventfd();
    if (!impl->wake) return Error::from_errno(errno, "Watcher: eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, impl->wake.get(), &ev) != 0)
      return Error::from_errno(errno, "Watcher: epoll_ctl(ADD) of its wake eventfd failed");
    Impl* raw = impl.get();
    try {
      impl->thread = std::thread([raw] { raw->run(); });
    } catch (const std::system_error& e) {
      return Error(Errc::system, e.code().value(), std::string("Watcher: cannot start its thread: ") + e.what());
    }
  }
  return Watcher(std::move(impl));
}

WatcherMode Watcher::mode() const noexcept { return impl_ ? impl_->mode : WatcherMode::caller_loop; }

Result<WatchId> Watcher::watch_sync_file(SyncFile file, WatchCallback callback) {
  if (!impl_) return invalid_watcher("Watcher::watch_sync_file");
  if (!file.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_sync_file of an empty SyncFile");
  return impl_->add(Kind::sync_file, UniqueFd(), std::move(file), std::move(callback), false, -1, nullptr);
}

Result<WatchId> Watcher::watch_fd(UniqueFd fd, WatchCallback callback) {
  if (!impl_) return invalid_watcher("Watcher::watch_fd");
  if (!fd.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_fd of an empty fd");
  return impl_->add(Kind::fd, std::move(fd), SyncFile(), std::move(callback), false, -1, nullptr);
}

Result<WatchId> Watcher::watch_syncobj(const TimelineSyncobj& syncobj, std::uint64_t point, WatchCallback callback) {
  if (!impl_) return invalid_watcher("Watcher::watch_syncobj");
  if (!syncobj.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_syncobj of an empty syncobj");
  if (syncobj.has(DrmCap::syncobj_eventfd)) {
    auto efd = syncobj.eventfd_at(point);  // registered, then re-checked
    if (!efd) return std::move(efd).error();
    return impl_->add(Kind::syncobj, std::move(efd).value(), SyncFile(), std::move(callback), false, -1, nullptr);
  }
  if (!syncobj.has(DrmCap::syncobj_timeline))
    return Error(Errc::unsupported, EOPNOTSUPP, "Watcher::watch_syncobj needs a device with syncobj_timeline");
  // The fallback: the helper thread bumps this eventfd when the point signals.
  UniqueFd efd = make_eventfd();
  if (!efd) return Error::from_errno(errno, "Watcher: eventfd failed");
  const int raw = efd.get();
  auto error = std::make_shared<std::atomic<int>>(0);
  auto id = impl_->add(Kind::syncobj, std::move(efd), SyncFile(), std::move(callback), true, syncobj.drm_fd(), error);
  if (!id) return id;
  FallbackWaiter* waiter;
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->waiter) impl_->waiter = std::make_unique<FallbackWaiter>();
    waiter = impl_->waiter.get();
  }
  auto ok = waiter->add(syncobj.drm_fd(), {id->value, syncobj.handle(), point, raw, std::move(error)});
  if (!ok) {
    (void)impl_->remove(id->value);
    return std::move(ok).error();
  }
  return id;
}

bool Watcher::remove(WatchId id) noexcept { return impl_ ? impl_->remove(id.value) : false; }

int Watcher::fd() const noexcept { return impl_ ? impl_->epoll.get() : -1; }

Result<std::size_t> Watcher::dispatch() {
  if (!impl_) return invalid_watcher("Watcher::dispatch");
  if (impl_->mode != WatcherMode::caller_loop)
    return Error(Errc::invalid_argument, EINVAL, "Watcher::dispatch: this watcher runs its own thread");
  std::lock_guard lk(impl_->dispatch_mu);
  std::size_t total = 0;
  // Keep going while full batches come back, so one call drains what is ready now.
  for (;;) {
    int got = 0;
    total += impl_->round(0, &got);
    if (got < kBatch) break;
  }
  return total;
}

WatcherStats Watcher::stats() const noexcept {
  if (!impl_) return {};
  std::lock_guard lk(impl_->mu);
  return WatcherStats{impl_->live, impl_->fallback_live, impl_->fired};
}

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
