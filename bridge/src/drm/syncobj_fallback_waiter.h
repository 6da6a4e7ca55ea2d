// Internal: the Watcher's fallback for syncobj points on kernels without
// DRM_IOCTL_SYNCOBJ_EVENTFD (before 6.6; see watcher.h). Not installed.
//
// Model: one helper thread, started on the first add(), serves every DRM device that has
// pending fallback watches. Per device (a group) it keeps the entries and a private binary
// syncobj, the wake, and sleeps in bounded-timeout DRM_IOCTL_SYNCOBJ_TIMELINE_WAITs
// (WAIT_FOR_SUBMIT) on the wake plus every entry's point. add() and remove() signal the wake,
// which cuts the wait short; the helper resets it before each snapshot, so a change after the
// snapshot wakes it again. When a point completes the helper stores its errno (0: signaled) in
// the entry's error cell, writes 1 to the entry's eventfd and drops the entry, all under its
// lock; the Watcher's epoll loop then runs the callback. Groups are served round-robin: with
// one device a wait lasts the single-group slice (500 ms, or SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS
// for tests), with several 5 ms each.
// remove() drops an entry (O(n) in its group); when the group empties it waits until the helper
// no longer sleeps on that group's wake syncobj, then destroys the wake and the group, so that
// the caller may close the device right after.
//
// Ownership: every fd here is borrowed. The DRM fds belong to the DrmDevices (which outlive
// their watches); each entry's eventfd belongs to its Watcher slot, which removes the entry
// before closing it. The wake syncobjs are the waiter's own, destroyed with their group.
// Threads: every member may be called from any thread; stop() joins the helper.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "syncbridge/result.h"

namespace syncbridge::detail {

class FallbackWaiter {
 public:
  struct Entry {
    std::uint64_t id;
    std::uint32_t handle;
    std::uint64_t point;
    int event_fd;                             // the watch's eventfd: written under mu_ only
    std::shared_ptr<std::atomic<int>> error;  // errno for the watch, 0 when it signaled
  };

  FallbackWaiter() = default;
  FallbackWaiter(const FallbackWaiter&) = delete;
  FallbackWaiter& operator=(const FallbackWaiter&) = delete;
  ~FallbackWaiter() { stop(); }

  [[nodiscard]] Result<void> add(int drm_fd, Entry entry);
  // O(n) in the device's set: the fallback only.
  void remove(int drm_fd, std::uint64_t id);
  void stop();

 private:
  struct Group {
    std::uint32_t wake = 0;  // a private binary syncobj, signaled to cut a wait short
    std::vector<Entry> entries;
  };
  using GroupIt = std::map<int, Group>::iterator;
  // One group's wait set: the wake syncobj at index 0, then the entries.
  struct Snapshot {
    std::vector<std::uint32_t> handles;
    std::vector<std::uint64_t> points;
    std::vector<std::uint64_t> ids;
  };
  using Done = std::vector<std::pair<std::uint64_t, int>>;  // (entry id, errno; 0: signaled)

  void drop_group(GroupIt it);
  void drop_empty_groups();  // helper thread, under mu_, while it waits on no wake syncobj
  static std::chrono::milliseconds single_group_slice_from_env();
  static void take_snapshot(int fd, const Group& g, Snapshot& snap);
  static void collect_done(int fd, const Snapshot& snap, Done& done);
  bool report_done(int fd, const Done& done);  // under mu_; false when the group is gone
  void run();

  const std::chrono::milliseconds single_group_slice_ = single_group_slice_from_env();
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable helper_idle_;  // waiting_on_ went back to -1
  int waiting_on_ = -1;                  // the device the helper sleeps on, under mu_
  bool stop_ = false;
  std::map<int, Group> groups_;
  std::thread thread_;
};

}  // namespace syncbridge::detail
