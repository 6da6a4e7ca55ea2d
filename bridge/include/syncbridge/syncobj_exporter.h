// syncbridge/syncobj_exporter.h: a core Timeline mirrored by a DRM timeline syncobj.
//
// Model: SyncobjExporter is one of the two exporters (exporter.h states their shared contract):
// a core Timeline (64-bit points) paired with a timeline syncobj that it creates on a
// DrmDevice, both kept at the same value. advance() and signal_to() signal the syncobj's point
// (one DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL), then move the core timeline. Kernel-side consumers
// take the syncobj itself (export_syncobj_fd(): what Mesa's Vulkan drivers import as a timeline
// semaphore's OPAQUE_FD, and what wp_linux_drm_syncobj_v1 takes) and wait for points with
// WAIT_FOR_SUBMIT, or take sync_files.
//
// Sync_files of future points: unlike a sw_sync timeline, a syncobj has no fence for a point
// until someone submits one, and this exporter submits a point by signaling it. So
// sync_file_at(point) serves reached points only (Errc::invalid_argument, EINVAL, beyond
// value()), and sync_file_at(point, ready) materialises the sync_file once the point is
// submitted: at once (on the calling thread) when value() >= point, otherwise in the
// advance()/signal_to() call that reaches it, after both sides moved (outside the exporter's
// lock; the sync_file is signaled by then). A consumer that needs a *pending* kernel fence for
// a future point waits on the syncobj with WAIT_FOR_SUBMIT (a Vulkan timeline semaphore
// imported from the syncobj fd does), or uses SwSyncExporter.
// Closing signals the syncobj to its last point, 2^64-1, so kernel and GPU waiters of points
// never reached proceed (a syncobj point cannot carry an error: they see it signaled); pending
// sync_file requests get Errc::timeline_closed.
//
// Cost: advance() is one ioctl, two uncontended lock acquisitions and the core advance: no
// allocation, no other syscall. A sync_file costs WAIT_AVAILABLE, create, transfer, export and
// destroy of a temporary binary syncobj (see drm_syncobj.h), plus SyncFile::adopt's
// SYNC_IOC_FILE_INFO.
// Ownership: the exporter owns its syncobj (destroyed with the exporter) and its core timeline;
// the DrmDevice must outlive it. export_syncobj_fd() and every sync_file are new fds, yours.
// Threads: every member may be called concurrently. Points reach the syncobj in order (one
// mutex across the signal ioctl); core callbacks and sync_file callbacks run outside it.
#pragma once

#include "syncbridge/export.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "syncbridge/drm_device.h"
#include "syncbridge/drm_syncobj.h"
#include "syncbridge/exporter.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/timeline.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// Receives the sync_file of a point once it is submitted, or why there is none
// (Errc::timeline_closed when the exporter closed first).
using SyncFileReady = std::function<void(Result<SyncFile> sync_file)>;

class SYNCBRIDGE_API SyncobjExporter final : public Exporter {
 public:
  // A new timeline syncobj on device and a core timeline named name, both at initial.
  // Errc::unsupported without DrmCap::syncobj_timeline.
  [[nodiscard]] static Result<SyncobjExporter> create(const DrmDevice& device, std::string name = "syncobj",
                                                      std::uint64_t initial = 0);

  SyncobjExporter() noexcept;  // empty: every call reports Errc::invalid_handle
  SyncobjExporter(SyncobjExporter&&) noexcept;
  SyncobjExporter& operator=(SyncobjExporter&&) noexcept;
  ~SyncobjExporter() override;  // close()

  bool valid() const noexcept override { return state_ != nullptr; }

  [[nodiscard]] Result<Fence> fence_at(std::uint64_t point) override;
  [[nodiscard]] Result<void> advance(std::uint64_t n = 1) override;
  [[nodiscard]] Result<void> signal_to(std::uint64_t point) override;

  // The sync_file of a submitted point (<= value()); Errc::invalid_argument (EINVAL) otherwise.
  [[nodiscard]] Result<SyncFile> sync_file_at(std::uint64_t point) const override;
  // The sync_file of any point, handed to ready once submitted (see the top of this file).
  [[nodiscard]] Result<void> sync_file_at(std::uint64_t point, SyncFileReady ready);
  std::size_t pending_sync_file_requests() const noexcept;

  // A new fd for the syncobj (you own it); see drm_syncobj.h export_fd().
  [[nodiscard]] Result<UniqueFd> export_syncobj_fd() const;
  // Read-only views; move them through advance()/signal_to() only. Undefined when empty.
  const TimelineSyncobj& syncobj() const noexcept;
  const Timeline& timeline() const noexcept override;

  void close() noexcept override;

  std::uint64_t value() const noexcept override;  // 0 when empty
  bool closed() const noexcept override;          // true when empty
  const std::string& name() const noexcept override;

 private:
  Result<SyncFile> signaled_sync_file() const;  // for point 0, which no syncobj fence may cover
  struct State;
  explicit SyncobjExporter(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace syncbridge
