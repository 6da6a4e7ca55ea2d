// Internal: the Watcher (watcher.h) a VulkanBridge or VulkanCompletionStream registers its
// kernel fences with: the caller's, from the options (shared; no thread of ours), or a private
// own_thread Watcher made on first use.
//
// stop() ends every watch still pending without running its callback: on the caller's Watcher
// it removes them (Watcher::remove waits for a callback running on another thread) and drops
// the slot's reference; a private Watcher is destroyed, which drops them and joins its thread.
// Callbacks hold the slot's state, never its owner.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "syncbridge/result.h"
#include "syncbridge/watcher.h"

namespace syncbridge::detail {

class WatcherSlot {
 public:
  // Registers one watch on the given Watcher (one watch_*() call) with the given callback.
  using Arm = std::function<Result<WatchId>(Watcher&, WatchCallback)>;

  // `callers`: the caller's Watcher, or null for a private one.
  explicit WatcherSlot(std::shared_ptr<Watcher> callers);
  WatcherSlot(const WatcherSlot&) = delete;
  WatcherSlot& operator=(const WatcherSlot&) = delete;
  ~WatcherSlot() { stop(); }

  bool is_callers() const noexcept { return callers_; }
  // Makes the private Watcher now (its thread starts) rather than on the first watch.
  Result<void> start();
  // Registers a watch whose callback runs `callback` once. Errc::invalid_handle once stopped.
  Result<void> watch(const Arm& arm, WatchCallback callback);
  // No new watches; pending ones end without their callbacks (see above). `on_watcher_thread`:
  // the caller may be running on the Watcher's thread, which cannot join itself: if this was
  // the last reference, the Watcher is destroyed on a thread of its own. Idempotent.
  void stop(bool on_watcher_thread = false);

 private:
  struct State {
    std::mutex mutex;
    bool stopped = false;
    std::shared_ptr<Watcher> watcher;
    std::uint64_t next_token = 0;
    std::unordered_map<std::uint64_t, WatchId> pending;  // registered, not fired
    std::set<std::uint64_t> fired_early;                 // fired before watch() recorded them
  };
  Result<std::shared_ptr<Watcher>> get();

  const bool callers_;
  std::shared_ptr<State> state_;
};

}  // namespace syncbridge::detail
