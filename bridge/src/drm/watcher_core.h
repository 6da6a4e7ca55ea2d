// Internal: what a Watcher (watcher.h) is made of. Not installed.
//
// Model: WatcherCore is the epoll set behind a Watcher handle, shared (std::shared_ptr) so that
// a Watcher can move while SyncobjImporters hold on to it weakly (WatcherAccess). Its watches
// live in a WatchTable: slots in a vector with a free list, named by a WatchId that carries the
// slot's generation. Each watch is a typed WatchTarget (what to poll and how to read the
// outcome) plus its callback. A dispatcher handles one epoll event in steps: claim (armed ->
// firing, under the lock), classify (outside it: one non-blocking status call), then either
// rearm (a spurious wake-up) or finish (free the slot, run the callback, close the fds). Only a
// sync_file needs that look; for every other kind the epoll event says it all, and claim frees
// the slot at once.
// Syncobj points without the kernel's eventfd go through the FallbackWaiter
// (syncobj_fallback_waiter.h), which bumps the watch's eventfd itself.
//
// Ownership: the core owns its epoll fd, its wake eventfd, its thread, its FallbackWaiter and
// every watch's fds (WatchTarget: UniqueFd or SyncFile, closed when the watch ends). The DRM fds
// and syncobj handles of syncobj watches are borrowed from their DrmDevice / TimelineSyncobj.
// Threads: every public member may be called from any thread; stop() is the Watcher's to call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "drm/syncobj_fallback_waiter.h"
#include "syncbridge/watcher.h"

namespace syncbridge::detail {

enum class WatchKind : std::uint8_t { free, fd, sync_file, syncobj };

// A syncobj point served by the FallbackWaiter rather than by the kernel's eventfd.
struct FallbackLink {
  int drm_fd = -1;                          // the waiter's device group (borrowed fd number)
  std::shared_ptr<std::atomic<int>> error;  // the errno the waiter leaves (0: signaled)
};

// What one watch waits on.
struct WatchTarget {
  WatchKind kind = WatchKind::free;
  UniqueFd fd;                           // fd and syncobj kinds (syncobj: the eventfd)
  SyncFile file;                         // sync_file kind
  std::optional<FallbackLink> fallback;  // fallback syncobj watches only

  static WatchTarget of_fd(UniqueFd fd);
  static WatchTarget of_sync_file(SyncFile file);
  static WatchTarget of_syncobj(UniqueFd event_fd, std::optional<FallbackLink> fallback = std::nullopt);
  int raw_fd() const noexcept { return kind == WatchKind::sync_file ? file.fd() : fd.get(); }
};

enum class SlotState : std::uint8_t { armed, firing };

struct WatchSlot {
  std::uint32_t generation = 1;
  WatchKind kind = WatchKind::free;  // stays while the target is out with a dispatcher
  SlotState state = SlotState::armed;
  bool fallback = false;  // counted in WatchTable::fallback_live
  std::uint32_t next_free = 0;
  WatchTarget target;  // moved out while firing
  WatchCallback callback;
};

// The slots. Not locked itself: the WatcherCore's mutex guards it.
class WatchTable {
 public:
  static constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

  WatchSlot* lookup(std::uint64_t id);  // nullptr for a free slot or a stale id
  // A free slot for a new watch and its id; Errc::out_of_range when the table is full.
  [[nodiscard]] Result<WatchId> reserve();
  // A reserved slot that did not get armed goes back to the free list.
  void unreserve(WatchId id);
  // Arms a reserved slot.
  void arm(WatchId id, WatchTarget target, WatchCallback callback);
  // Frees an armed or firing slot whose callback and fds the caller took out.
  void release(std::uint64_t id, WatchSlot& s);
  std::vector<WatchSlot> take_all();  // stop(): every slot, for the caller to drop unlocked

  std::size_t live() const noexcept { return live_; }
  std::size_t fallback_live() const noexcept { return fallback_live_; }

 private:
  static std::uint32_t index_of(std::uint64_t id) noexcept {
    return static_cast<std::uint32_t>((id & 0xffffffffu) - 1);
  }
  std::vector<WatchSlot> slots_;
  std::uint32_t free_head_ = kNoSlot;
  std::size_t live_ = 0;
  std::size_t fallback_live_ = 0;
};

class WatcherCore {
 public:
  [[nodiscard]] static Result<std::shared_ptr<WatcherCore>> create(WatcherMode mode);
  ~WatcherCore() { stop(); }

  WatcherMode mode() const noexcept { return mode_; }
  int fd() const noexcept { return epoll_.get(); }

  [[nodiscard]] Result<WatchId> add(WatchTarget target, WatchCallback cb);
  [[nodiscard]] Result<WatchId> watch_syncobj(const TimelineSyncobj& syncobj, std::uint64_t point, WatchCallback cb);
  bool remove(std::uint64_t id);
  [[nodiscard]] Result<std::size_t> dispatch();  // caller-loop mode
  WatcherStats stats() const;
  // Stops the thread and the fallback waiter, drops the watches unrun; later adds fail.
  void stop();

 private:
  explicit WatcherCore(WatcherMode mode) noexcept : mode_(mode) {}
  std::shared_ptr<FallbackWaiter> fallback_waiter();  // under mu_: made on first use

  // One epoll event: claim, classify, then rearm or finish. True when a callback ran.
  bool handle(std::uint64_t id, std::uint32_t events);
  // What claim() took out of an armed slot. `outcome` is set when the epoll event alone told it
  // (every kind but a sync_file, whose status takes an ioctl): then the slot is already freed
  // and its callback taken, in the same critical section.
  struct Claimed {
    WatchTarget target;
    WatchCallback callback;
    std::optional<Result<void>> outcome;
  };
  std::optional<Claimed> claim(std::uint64_t id, std::uint32_t events);
  // How the watched object completed; std::nullopt for a spurious wake-up (a sync_file still
  // pending). Only a sync_file's takes a system call (never a wait).
  static std::optional<Result<void>> classify(const WatchTarget& t, std::uint32_t events);
  void rearm(std::uint64_t id, WatchTarget target);
  void finish(std::uint64_t id, WatchTarget target, const Result<void>& outcome);
  // After the slot was freed: runs the callback, then unregisters and closes the fds.
  void complete(std::uint64_t id, WatchTarget target, WatchCallback cb, const Result<void>& outcome);
  void end_firing();
  std::size_t round(int timeout_ms, int* got = nullptr);
  void run();

  const WatcherMode mode_;
  UniqueFd epoll_;
  UniqueFd wake_;  // own-thread mode: written to stop the thread

  mutable std::mutex mu_;
  std::condition_variable firing_done_;
  WatchTable table_;
  std::uint64_t fired_ = 0;
  std::uint64_t firing_ = 0;  // the WatchId whose callback runs now (0: none)
  std::thread::id firing_thread_;
  bool stopped_ = false;
  std::shared_ptr<FallbackWaiter> waiter_;  // created on the first fallback watch, under mu_

  std::mutex dispatch_mu_;  // one dispatcher at a time
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The SyncobjImporter's way to the core behind a Watcher: weak, so that the Watcher may move.
struct WatcherAccess {
  static std::weak_ptr<WatcherCore> core(const Watcher& w) noexcept { return w.core_; }
};

}  // namespace syncbridge::detail
