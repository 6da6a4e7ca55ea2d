// syncbridge/syncobj_importer.h: the points of a DRM timeline syncobj, as core fences.
//
// Model: SyncobjImporter mirrors one timeline syncobj (made elsewhere: a GPU driver, a Vulkan
// timeline semaphore exported as OPAQUE_FD, a Wayland client's wp_linux_drm_syncobj_v1) into a
// core Timeline. fence_at(point) returns a core fence and, when the point is new, adds one
// Watcher::watch_syncobj() watch for it; when the kernel point signals, the watcher's
// dispatcher moves the mirror to that point, which signals every core fence at or below it
// (timeline points signal in order) and drops the watches of lower points, now redundant.
// One watch (one eventfd) per distinct pending point; none for points already reached.
// Points already signaled in the kernel are found by the watch's own re-check, so the core
// fence signals shortly after fence_at(), on the dispatching thread.
//
// Errors: a syncobj watch that fails (the syncobj destroyed, the DRM fd closed) closes the
// mirror: every pending core fence completes with ENOENT (the core's only error path). In
// kernel 6.12 a timeline point carries no error status (see watcher.h), so a GPU fault shows
// up as a signaled point, as it does to Vulkan and to compositors.
//
// Ownership: nothing is borrowed by address. create() takes a second handle for the syncobj
// (TimelineSyncobj::duplicate()), so the caller's TimelineSyncobj may move or be destroyed;
// the kernel syncobj lives while either handle does. The importer holds the caller's Watcher
// weakly, by its core: the Watcher may move; once it is destroyed (its watches dropped unrun),
// fence_at() of a new point fails with Errc::invalid_handle. The DrmDevice must outlive the
// importer (its fd number is in the handle). The importer owns its core timeline; close() (and
// the destructor) remove its watches, then close the timeline. Moves, never copies.
// Threads: every member may be called concurrently, also from watcher callbacks.
#pragma once

#include "syncbridge/export.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "syncbridge/drm_syncobj.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/timeline.h"
#include "syncbridge/watcher.h"

namespace syncbridge {

class SYNCBRIDGE_API SyncobjImporter {
 public:
  // The mirror starts at the syncobj's current value (one query). syncobj is borrowed for the
  // call only; the Watcher is the one whose thread (or loop) runs the watches.
  [[nodiscard]] static Result<SyncobjImporter> create(Watcher& watcher, const TimelineSyncobj& syncobj,
                                                      std::string name = "syncobj-import");

  SyncobjImporter() noexcept;  // empty: every call reports Errc::invalid_handle
  SyncobjImporter(SyncobjImporter&&) noexcept;
  SyncobjImporter& operator=(SyncobjImporter&&) noexcept;
  SyncobjImporter(const SyncobjImporter&) = delete;
  SyncobjImporter& operator=(const SyncobjImporter&) = delete;
  ~SyncobjImporter();  // close()

  bool valid() const noexcept { return state_ != nullptr; }

  // A core fence that signals once the syncobj's point does. Errc::timeline_closed after
  // close() or after a watch failed.
  [[nodiscard]] Result<Fence> fence_at(std::uint64_t point);
  // Watches armed now (distinct pending points).
  std::size_t watch_count() const noexcept;
  const Timeline& timeline() const noexcept;  // undefined when empty
  // The importer's own handle for the syncobj (see Ownership); undefined when empty.
  const TimelineSyncobj& syncobj() const noexcept;

  void close() noexcept;

 private:
  struct State;
  explicit SyncobjImporter(std::shared_ptr<State> state) noexcept;
  std::shared_ptr<State> state_;
};

}  // namespace syncbridge
