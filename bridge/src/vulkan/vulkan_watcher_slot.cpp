#include "vulkan/vulkan_watcher_slot.h"

#include <thread>
#include <utility>
#include <vector>

namespace syncbridge::detail {

WatcherSlot::WatcherSlot(std::shared_ptr<Watcher> callers)
    : callers_(callers != nullptr), state_(std::make_shared<State>()) {
  state_->watcher = std::move(callers);
}

// Callers share ownership while they register a watch, so a concurrent stop() never destroys
// the Watcher under them; the last holder destroys it (joining its thread).
Result<std::shared_ptr<Watcher>> WatcherSlot::get() {
  std::lock_guard guard(state_->mutex);
  if (state_->stopped) return Error(Errc::invalid_handle, EBADF, "the watcher is stopped (shutdown())");
  if (!state_->watcher) {
    auto w = Watcher::create(WatcherMode::own_thread);
    if (!w) return std::move(w).error();
    state_->watcher = std::make_shared<Watcher>(std::move(*w));
  }
  return state_->watcher;
}

Result<void> WatcherSlot::start() {
  auto w = get();
  if (!w) return std::move(w).error();
  return {};
}

Result<void> WatcherSlot::watch(const Arm& arm, WatchCallback callback) {
  auto watcher = get();
  if (!watcher) return std::move(watcher).error();
  std::uint64_t token = 0;
  {
    std::lock_guard guard(state_->mutex);
    token = ++state_->next_token;
  }
  // The callback forgets its token first: it may run before arm() returns (a fence that
  // already completed), and then leaves it in fired_early for the bookkeeping below.
  auto id = arm(**watcher, [state = state_, token, cb = std::move(callback)](const Result<void>& outcome) {
    {
      std::lock_guard guard(state->mutex);
      if (state->pending.erase(token) == 0) state->fired_early.insert(token);
    }
    cb(outcome);
  });
  if (!id) return std::move(id).error();
  bool stopped_meanwhile = false;
  {
    std::lock_guard guard(state_->mutex);
    if (state_->fired_early.erase(token) == 0) {
      if (state_->stopped)
        stopped_meanwhile = true;
      else
        state_->pending.emplace(token, *id);
    }
  }
  // stop() ran during arm(): it could not see this watch. (A private Watcher drops it when the
  // last reference, perhaps ours, goes.)
  if (stopped_meanwhile && callers_) (void)(*watcher)->remove(*id);
  return {};
}

void WatcherSlot::stop(bool on_watcher_thread) {
  std::shared_ptr<Watcher> watcher;
  std::vector<WatchId> pending;
  {
    std::lock_guard guard(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    watcher = std::move(state_->watcher);
    for (const auto& [token, id] : state_->pending) pending.push_back(id);
    state_->pending.clear();
    state_->fired_early.clear();
  }
  if (!watcher) return;
  // Outside the lock: remove() waits for a callback running on another thread, which takes it.
  if (callers_)
    for (WatchId id : pending) (void)watcher->remove(id);
  // Dropping the last reference stops the Watcher's thread and drops its watches; on that very
  // thread the Watcher cannot be destroyed, so then it is, on a thread of its own.
  if (on_watcher_thread && watcher.use_count() == 1)
    std::thread([dying = std::move(watcher)]() mutable { dying.reset(); }).detach();
}

}  // namespace syncbridge::detail
