// syncbridge/watcher.h: kernel fences completing -> callbacks (and core fences), from epoll.
//
// Model: a Watcher is one epoll set of one-shot watches. Each watch is a kernel object that
// completes once, plus a callback told how it completed:
//   - watch_sync_file(): a sync_file; it becomes readable when its fence completes, then one
//     SYNC_IOC_FILE_INFO tells signaled (ok) from errored (Errc::fence_error, the fence's errno).
//   - watch_syncobj(): a point of a timeline syncobj. With DrmCap::syncobj_eventfd (kernel
//     6.6+) the kernel bumps an eventfd when the point signals (registered, then re-checked
//     with a zero-timeout wait: see drm_syncobj.h). Without it, the fallback: one helper thread
//     per watcher, started on first use, waits on the pending points of each DRM device with
//     bounded-timeout DRM_IOCTL_SYNCOBJ_TIMELINE_WAITs (WAIT_FOR_SUBMIT; woken early by a
//     private binary syncobj whenever the set changes) and bumps the watch's eventfd when its
//     point signals; the same epoll path then runs the callback. Fallback cost: O(n) per
//     change in that device's set, and up to 5 ms extra latency per further device.
//     Errors: in 6.12 a timeline point has no error status (dma_fence_chain signals without
//     its contained fence's error), so a syncobj watch reports signaled, or an error only when
//     the syncobj itself failed (destroyed handle, closed DRM fd in the fallback).
//   - watch_fd(): any pollable fd (an eventfd, a pipe, Fence::pollable_fd()): ok once
//     readable; EPOLLERR or a hang-up without data is an error.
// The epoll thread (or your loop) never waits on a kernel fence with a non-zero timeout: it
// only reacts to readiness and issues non-blocking calls (one status ioctl, one read).
// Registration is race-free: epoll reports an fd that is already readable when added, and
// syncobj points are re-checked after the eventfd is registered (KWin's SyncReleasePointHolder
// lesson), so a fence that completed just before or during watch_*() still fires.
//
// Driving it: Mode::own_thread runs one thread blocked in epoll_wait; callbacks run there.
// Mode::caller_loop creates no thread: poll fd() for POLLIN in your own loop (it is the epoll
// fd, level-triggered), then call dispatch(), which never blocks and runs the callbacks of the
// watches ready now, on your thread. Either way one dispatcher runs at a time.
//
// Watches are slots in a vector with a free list, and the WatchId carries a generation: add and
// remove are O(1) (one epoll_ctl each), 10,000 watches cost one fd each and nothing per event.
// remove() is safe at any time: before firing it unregisters and drops the callback unrun
// (true); while the callback runs on another thread it waits for it to return (false); from
// inside the callback itself it returns false at once. Callbacks run once, outside every
// watcher lock, and may add and remove watches; they must not throw, call dispatch() or
// destroy the Watcher.
//
// Ownership: watch_sync_file() and watch_fd() consume their fd (closed when the watch ends).
// watch_syncobj() borrows the syncobj: it (and its DrmDevice) must outlive the watch. The
// watcher owns its epoll fd, its eventfds and its thread. Destroying the watcher stops the
// thread, then drops the pending watches without calling their callbacks (their targets may
// already be gone): remove or complete what you care about first. Moving a Watcher moves a
// handle: the epoll set, its thread and its watches stay where they are, so a SyncobjImporter
// made on it keeps working; one that outlives the watcher sees Errc::invalid_handle.
// Threads: every member may be called from any thread; Watcher moves but never copies.
#pragma once

#include "syncbridge/export.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "syncbridge/drm_syncobj.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/timeline.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

namespace detail {
class WatcherCore;     // bridge/src/drm/watcher_core.h
struct WatcherAccess;  // how SyncobjImporter holds on to the core, not to this handle
}  // namespace detail

// Told once how the watched object completed: ok (signaled / readable) or the error.
using WatchCallback = std::function<void(const Result<void>& outcome)>;

// Names one watch; the generation in the upper half makes a stale id harmless.
struct SYNCBRIDGE_API WatchId {
  std::uint64_t value = 0;  // 0: none
  explicit operator bool() const noexcept { return value != 0; }
  friend bool operator==(WatchId a, WatchId b) noexcept { return a.value == b.value; }
};

enum class WatcherMode : std::uint8_t { own_thread, caller_loop };

struct SYNCBRIDGE_API WatcherStats {
  std::size_t watches = 0;           // armed now
  std::size_t syncobj_fallback = 0;  // of them, syncobj points served by the helper thread
  std::uint64_t fired = 0;           // callbacks run since creation
};

class SYNCBRIDGE_API Watcher {
 public:
  [[nodiscard]] static Result<Watcher> create(WatcherMode mode = WatcherMode::own_thread);

  Watcher() noexcept;  // empty: every call reports Errc::invalid_handle
  Watcher(Watcher&&) noexcept;
  Watcher& operator=(Watcher&&) noexcept;
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  ~Watcher();

  bool valid() const noexcept { return core_ != nullptr; }
  WatcherMode mode() const noexcept;

  [[nodiscard]] Result<WatchId> watch_sync_file(SyncFile file, WatchCallback callback);
  [[nodiscard]] Result<WatchId> watch_fd(UniqueFd fd, WatchCallback callback);
  // Errc::invalid_handle for an empty syncobj; errors of DRM_IOCTL_SYNCOBJ_EVENTFD.
  [[nodiscard]] Result<WatchId> watch_syncobj(const TimelineSyncobj& syncobj, std::uint64_t point,
                                              WatchCallback callback);

  bool remove(WatchId id) noexcept;

  // Caller-loop mode: the fd to poll (POLLIN), and the non-blocking dispatch: how many
  // callbacks ran. Errc::invalid_argument in own-thread mode (the thread dispatches).
  int fd() const noexcept;
  [[nodiscard]] Result<std::size_t> dispatch();

  WatcherStats stats() const noexcept;

 private:
  friend struct detail::WatcherAccess;
  explicit Watcher(std::shared_ptr<detail::WatcherCore> core) noexcept;
  std::shared_ptr<detail::WatcherCore> core_;  // stopped by ~Watcher; others hold it weakly
};

// A WatchCallback that moves timeline to point (a point it already passed is fine) when the
// watch fires, and closes the timeline when the watch reports an error (its pending fences
// complete with ENOENT). timeline must outlive the watch.
SYNCBRIDGE_API WatchCallback signal_timeline(Timeline& timeline, std::uint64_t point);

}  // namespace syncbridge
