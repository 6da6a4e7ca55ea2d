#include "drm/watcher_core.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace syncbridge::detail {

namespace {

constexpr std::uint64_t kWakeToken = 0;  // epoll data of the watcher's own eventfd (no WatchId is 0)
constexpr int kBatch = 64;

UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

WatchId make_id(std::uint32_t index, std::uint32_t generation) {
  return WatchId{(static_cast<std::uint64_t>(generation) << 32) | (static_cast<std::uint64_t>(index) + 1)};
}

Error stopped_error() { return Error(Errc::invalid_handle, EBADF, "Watcher: the watcher was destroyed"); }

}  // namespace

// ---- WatchTarget ----

WatchTarget WatchTarget::of_fd(UniqueFd fd) {
  WatchTarget t;
  t.kind = WatchKind::fd;
  t.fd = std::move(fd);
  return t;
}

WatchTarget WatchTarget::of_sync_file(SyncFile file) {
  WatchTarget t;
  t.kind = WatchKind::sync_file;
  t.file = std::move(file);
  return t;
}

WatchTarget WatchTarget::of_syncobj(UniqueFd event_fd, std::optional<FallbackLink> fallback) {
  WatchTarget t;
  t.kind = WatchKind::syncobj;
  t.fd = std::move(event_fd);
  t.fallback = std::move(fallback);
  return t;
}

// ---- WatchTable ----

WatchSlot* WatchTable::lookup(std::uint64_t id) {
  const std::uint64_t index = (id & 0xffffffffu) - 1;
  if ((id & 0xffffffffu) == 0 || index >= slots_.size()) return nullptr;
  WatchSlot& s = slots_[index];
  if (s.kind == WatchKind::free || s.generation != static_cast<std::uint32_t>(id >> 32)) return nullptr;
  return &s;
}

Result<WatchId> WatchTable::reserve() {
  std::uint32_t index;
  if (free_head_ != kNoSlot) {
    index = free_head_;
    free_head_ = slots_[index].next_free;
  } else {
    if (slots_.size() >= kNoSlot - 1) return Error(Errc::out_of_range, ENOSPC, "Watcher: too many watches");
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  return make_id(index, slots_[index].generation);
}

void WatchTable::unreserve(WatchId id) {
  const std::uint32_t index = index_of(id.value);
  slots_[index].next_free = free_head_;
  free_head_ = index;
}

void WatchTable::arm(WatchId id, WatchTarget target, WatchCallback callback) {
  WatchSlot& s = slots_[index_of(id.value)];
  s.kind = target.kind;
  s.state = SlotState::armed;
  s.fallback = target.fallback.has_value();
  s.target = std::move(target);
  s.callback = std::move(callback);
  s.next_free = kNoSlot;
  ++live_;
  if (s.fallback) ++fallback_live_;
}

void WatchTable::release(std::uint64_t id, WatchSlot& s) {
  const std::uint32_t index = index_of(id);
  if (s.fallback) --fallback_live_;
  s.kind = WatchKind::free;
  s.state = SlotState::armed;
  s.fallback = false;
  s.target = WatchTarget();  // its fds were taken out already
  ++s.generation;
  if (s.generation == 0) s.generation = 1;
  s.next_free = free_head_;
  free_head_ = index;
  --live_;
}

std::vector<WatchSlot> WatchTable::take_all() {
  std::vector<WatchSlot> left = std::move(slots_);
  slots_.clear();
  free_head_ = kNoSlot;
  live_ = 0;
  fallback_live_ = 0;
  return left;
}

// ---- WatcherCore: setup and registration ----

Result<std::shared_ptr<WatcherCore>> WatcherCore::create(WatcherMode mode) {
  std::shared_ptr<WatcherCore> core(new WatcherCore(mode));
  core->epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!core->epoll_) return Error::from_errno(errno, "Watcher: epoll_create1 failed");
  if (mode == WatcherMode::own_thread) {
    core->wake_ = make_eventfd();
    if (!core->wake_) return Error::from_errno(errno, "Watcher: eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (::epoll_ctl(core->epoll_.get(), EPOLL_CTL_ADD, core->wake_.get(), &ev) != 0)
      return Error::from_errno(errno, "Watcher: epoll_ctl(ADD) of its wake eventfd failed");
    WatcherCore* raw = core.get();
    try {
      core->thread_ = std::thread([raw] { raw->run(); });
    } catch (const std::system_error& e) {
      return Error(Errc::system, e.code().value(), std::string("Watcher: cannot start its thread: ") + e.what());
    }
  }
  return core;
}

Result<WatchId> WatcherCore::add(WatchTarget target, WatchCallback cb) {
  const int raw = target.raw_fd();
  std::lock_guard lk(mu_);
  if (stopped_) return stopped_error();
  auto id = table_.reserve();
  if (!id) return id;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id->value;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
    const int err = errno;
    table_.unreserve(*id);
    return Error::from_errno(err, "Watcher: epoll_ctl(ADD) of fd " + std::to_string(raw) + " failed");
  }
  table_.arm(*id, std::move(target), std::move(cb));
  return id;
}

std::shared_ptr<FallbackWaiter> WatcherCore::fallback_waiter() {
  if (!waiter_ && !stopped_) waiter_ = std::make_shared<FallbackWaiter>();
  return waiter_;
}

Result<WatchId> WatcherCore::watch_syncobj(const TimelineSyncobj& syncobj, std::uint64_t point, WatchCallback cb) {
  if (!syncobj.valid()) return Error(Errc::invalid_handle, EBADF, "Watcher::watch_syncobj of an empty syncobj");
  if (syncobj.has(DrmCap::syncobj_eventfd)) {
    auto efd = syncobj.eventfd_at(point);  // registered, then re-checked
    if (!efd) return std::move(efd).error();
    return add(WatchTarget::of_syncobj(std::move(efd).value()), std::move(cb));
  }
  if (!syncobj.has(DrmCap::syncobj_timeline))
    return Error(Errc::unsupported, EOPNOTSUPP, "Watcher::watch_syncobj needs a device with syncobj_timeline");
  // The fallback: the helper thread bumps this eventfd when the point signals.
  UniqueFd efd = make_eventfd();
  if (!efd) return Error::from_errno(errno, "Watcher: eventfd failed");
  const int raw = efd.get();
  FallbackLink link{syncobj.drm_fd(), std::make_shared<std::atomic<int>>(0)};
  auto error = link.error;
  auto id = add(WatchTarget::of_syncobj(std::move(efd), std::move(link)), std::move(cb));
  if (!id) return id;
  std::shared_ptr<FallbackWaiter> waiter;
  {
    std::lock_guard lk(mu_);
    waiter = fallback_waiter();
  }
  auto ok = waiter ? waiter->add(syncobj.drm_fd(), {id->value, syncobj.handle(), point, raw, std::move(error)})
                   : Result<void>(stopped_error());
  if (!ok) {
    (void)remove(id->value);
    return std::move(ok).error();
  }
  return id;
}

bool WatcherCore::remove(std::uint64_t id) {
  WatchCallback cb;
  WatchTarget target;
  std::shared_ptr<FallbackWaiter> waiter;
  {
    std::unique_lock lk(mu_);
    while (id != 0 && firing_ == id) {
      if (firing_thread_ == std::this_thread::get_id()) return false;  // from its own callback
      firing_done_.wait(lk, [&] { return firing_ != id; });
      // Look again: it fired (the slot is gone), or the wake-up was spurious and the watch is
      // armed again (then it is removed below).
    }
    WatchSlot* s = table_.lookup(id);
    if (!s || s->state != SlotState::armed) return false;
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s->target.raw_fd(), nullptr);
    cb = std::move(s->callback);
    target = std::move(s->target);
    table_.release(id, *s);
    if (target.fallback) waiter = waiter_;
  }
  // The helper thread writes the eventfd only while the entry is registered: unregister
  // before the eventfd closes. Callback and fds go away here, outside the lock.
  if (waiter) waiter->remove(target.fallback->drm_fd, id);
  return true;
}

WatcherStats WatcherCore::stats() const {
  std::lock_guard lk(mu_);
  return WatcherStats{table_.live(), table_.fallback_live(), fired_};
}

// ---- WatcherCore: dispatching ----

bool WatcherCore::handle(std::uint64_t id, std::uint32_t events) {
  std::optional<Claimed> claimed = claim(id, events);
  if (!claimed) return false;  // removed after epoll_wait returned
  if (claimed->outcome) {
    complete(id, std::move(claimed->target), std::move(claimed->callback), *claimed->outcome);
    return true;
  }
  // Outside the lock: remove() of this id now waits for us, so the fds stay ours.
  std::optional<Result<void>> outcome = classify(claimed->target, events);
  if (!outcome) {
    rearm(id, std::move(claimed->target));
    return false;
  }
  finish(id, std::move(claimed->target), *outcome);
  return true;
}

std::optional<WatcherCore::Claimed> WatcherCore::claim(std::uint64_t id, std::uint32_t events) {
  std::lock_guard lk(mu_);
  WatchSlot* s = table_.lookup(id);
  if (!s || s->state != SlotState::armed) return std::nullopt;
  firing_ = id;
  firing_thread_ = std::this_thread::get_id();
  if (s->kind != WatchKind::sync_file) {
    // The event (or, for a fallback point, the waiter's errno) is the outcome: no system call,
    // so the slot is freed in this same critical section (the latency from the signal to the
    // callback is the watcher's figure of merit).
    std::optional<Result<void>> outcome = classify(s->target, events);  // before the target moves
    Claimed done{std::move(s->target), std::move(s->callback), std::move(outcome)};
    table_.release(id, *s);
    ++fired_;
    return done;
  }
  s->state = SlotState::firing;
  return Claimed{std::move(s->target), {}, std::nullopt};
}

std::optional<Result<void>> WatcherCore::classify(const WatchTarget& t, std::uint32_t events) {
  switch (t.kind) {
    case WatchKind::sync_file: {
      auto st = t.file.status();  // one SYNC_IOC_FILE_INFO: never a wait
      if (!st) return Result<void>(std::move(st).error());
      if (*st == FenceStatus::pending) return std::nullopt;
      if (*st == FenceStatus::error) {
        auto info = t.file.info();
        const int err = info && info->error_errno != 0 ? info->error_errno : EIO;
        return Result<void>(
            Error(Errc::fence_error, err, "sync_file fd " + std::to_string(t.file.fd()) + " completed with an error"));
      }
      return Result<void>();
    }
    case WatchKind::syncobj:
      // The eventfd is closed right after: no need to read it.
      if (const int err = t.fallback ? t.fallback->error->load(std::memory_order_acquire) : 0; err != 0)
        return Result<void>(Error::from_errno(err, "Watcher: waiting for the syncobj point failed"));
      return Result<void>();
    case WatchKind::fd:
      if (events & EPOLLIN) return Result<void>();
      if (events & EPOLLERR)
        return Result<void>(
            Error(Errc::system, EIO, "Watcher: fd " + std::to_string(t.fd.get()) + " reported EPOLLERR"));
      return Result<void>(
          Error(Errc::system, EPIPE, "Watcher: fd " + std::to_string(t.fd.get()) + " hung up without data"));
    case WatchKind::free: break;
  }
  return std::nullopt;
}

void WatcherCore::rearm(std::uint64_t id, WatchTarget target) {
  std::lock_guard lk(mu_);
  if (WatchSlot* s = table_.lookup(id)) {
    s->target = std::move(target);
    s->state = SlotState::armed;
  }
  firing_ = 0;
  firing_done_.notify_all();
}

void WatcherCore::finish(std::uint64_t id, WatchTarget target, const Result<void>& outcome) {
  WatchCallback cb;
  {
    std::lock_guard lk(mu_);
    if (WatchSlot* s = table_.lookup(id)) {  // still ours: nobody frees a firing slot
      cb = std::move(s->callback);
      table_.release(id, *s);
    }
    ++fired_;
  }
  complete(id, std::move(target), std::move(cb), outcome);
}

void WatcherCore::complete(std::uint64_t id, WatchTarget target, WatchCallback cb, const Result<void>& outcome) {
  // The callback first: the latency that matters. The fd stays ours meanwhile (its number
  // cannot be reused while open, and only this dispatcher runs), and level-triggered epoll
  // would report it again only in a later round, after the DEL below.
  if (cb) cb(outcome);
  cb = nullptr;
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, target.raw_fd(), nullptr);
  // The helper thread wrote this eventfd under its lock and dropped the entry first; taking
  // that lock once more (a no-op remove) orders its write before our close for every
  // observer, TSan included, not only through the kernel.
  if (target.fallback) {
    std::shared_ptr<FallbackWaiter> w;
    {
      std::lock_guard lk(mu_);
      w = waiter_;
    }
    if (w) w->remove(target.fallback->drm_fd, id);
  }
  target = WatchTarget();  // closes the fds
  end_firing();
}

void WatcherCore::end_firing() {
  {
    std::lock_guard lk(mu_);
    firing_ = 0;
  }
  firing_done_.notify_all();
}

std::size_t WatcherCore::round(int timeout_ms, int* got) {
  epoll_event events[kBatch];
  const int n = ::epoll_wait(epoll_.get(), events, kBatch, timeout_ms);
  if (got) *got = n;
  std::size_t ran = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeToken) {
      eventfd_t v;
      (void)::eventfd_read(wake_.get(), &v);
      continue;
    }
    if (handle(events[i].data.u64, events[i].events)) ++ran;
  }
  return ran;
}

void WatcherCore::run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    std::lock_guard lk(dispatch_mu_);
    (void)round(-1);
  }
}

Result<std::size_t> WatcherCore::dispatch() {
  if (mode_ != WatcherMode::caller_loop)
    return Error(Errc::invalid_argument, EINVAL, "Watcher::dispatch: this watcher runs its own thread");
  std::lock_guard lk(dispatch_mu_);
  std::size_t total = 0;
  // Keep going while full batches come back, so one call drains what is ready now.
  for (;;) {
    int got = 0;
    total += round(0, &got);
    if (got < kBatch) break;
  }
  return total;
}

void WatcherCore::stop() {
  if (thread_.joinable()) {
    stopping_.store(true, std::memory_order_release);
    (void)::eventfd_write(wake_.get(), 1);
    thread_.join();
  }
  std::shared_ptr<FallbackWaiter> w;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    w = std::move(waiter_);
  }
  if (w) w->stop();  // no more eventfd writes after this
  // Drop what is left, unrun (see watcher.h), outside the lock.
  std::vector<WatchSlot> left;
  {
    std::lock_guard lk(mu_);
    left = table_.take_all();
  }
}

}  // namespace syncbridge::detail
