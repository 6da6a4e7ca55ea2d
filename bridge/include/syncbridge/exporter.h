// syncbridge/exporter.h: the one contract of both timeline exporters.
//
// Model: an exporter is a core Timeline (timeline.h) mirrored by a kernel timeline that other
// processes, drivers and the GPU wait on. Two backends keep this contract:
//   - SwSyncExporter (sw_sync.h): a sw_sync timeline (debugfs, CONFIG_SW_SYNC). Hands out a
//     *pending* sync_file for any future point. The kernel's value is a u32 compared with
//     wrap-around, as the core timeline in wrap32 mode.
//   - SyncobjExporter (syncobj_exporter.h): a DRM timeline syncobj. Consumers take the syncobj
//     (a Vulkan timeline semaphore imports it) and wait with WAIT_FOR_SUBMIT; a sync_file
//     exists only for points already reached (or through its callback form).
// Write producer code once against Exporter& (or a template over either class).
//
// The contract (tests/bridge/exporter_contract_test.cpp checks it on both backends):
//   advance(n)       moves the kernel timeline on by n, then the core one; n == 0 is a no-op.
//   signal_to(p)     moves both to p: Errc::backwards below value(), a no-op at value().
//   fence_at(p)      a core Fence for p, no syscall: signaled when p <= value(), else pending
//                    until an advance reaches it.
//   sync_file_at(p)  a new sync_file (yours) for p; for a reached point (p <= value()) it is
//                    already signaled on both backends. Future points: see the backend.
//   close()          closes the kernel side first (waiters on it are released: sw_sync fences
//                    complete with ENOENT, syncobj waiters see the syncobj signaled), then the
//                    core timeline (pending core fences complete with ENOENT). Every later verb
//                    fails with Errc::timeline_closed (ENOENT); value() keeps the last value. An
//                    advance racing close() either fails as closed and moves nothing, or moves
//                    both sides; close() never waits for it. Idempotent; destructors close.
//   value()          the kernel timeline's value; timeline() the core mirror, read-only (move it
//                    through the exporter only, so that both sides stay in step).
// Points and steps are u64 on both. The sw_sync backend's kernel holds a u32: it answers
// Errc::out_of_range for a point, step or initial value past 2^32-1, compares points with u32
// wrap-around (a point 2^31 or more behind its value is ahead) and its value() wraps at 2^32.
// The syncobj backend answers Errc::out_of_range for an advance past 2^64-1.
// Errors: an empty (default-constructed or moved-from) exporter answers Errc::invalid_handle
// (EBADF) to every verb, value() 0, closed() true; timeline() is undefined on it.
//
// Ownership: each exporter owns its kernel timeline (fd or syncobj handle) and its core
// Timeline; every sync_file it returns is a new fd you own. Exporters move, never copy.
// Threads: every member may be called concurrently. Kernel updates happen in order under the
// exporter's lock; core fence callbacks run on the advancing thread, outside every exporter
// lock, and may call back into the exporter.
#pragma once

#include "syncbridge/export.h"

#include <cstdint>
#include <string>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/timeline.h"

namespace syncbridge {

class SYNCBRIDGE_API Exporter {
 public:
  virtual ~Exporter() = default;

  virtual bool valid() const noexcept = 0;
  [[nodiscard]] virtual Result<void> advance(std::uint64_t n = 1) = 0;
  [[nodiscard]] virtual Result<void> signal_to(std::uint64_t point) = 0;
  [[nodiscard]] virtual Result<Fence> fence_at(std::uint64_t point) = 0;
  [[nodiscard]] virtual Result<SyncFile> sync_file_at(std::uint64_t point) const = 0;
  virtual void close() noexcept = 0;

  virtual std::uint64_t value() const noexcept = 0;
  virtual bool closed() const noexcept = 0;
  virtual const std::string& name() const noexcept = 0;
  virtual const Timeline& timeline() const noexcept = 0;

 protected:
  Exporter() noexcept = default;
  Exporter(Exporter&&) noexcept = default;
  Exporter& operator=(Exporter&&) noexcept = default;
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;
};

}  // namespace syncbridge
