// syncbridge/sync_file.h: the kernel's sync_file, as an owned, waitable object.
//
// Model: a sync_file is a file descriptor that stands for one kernel dma_fence (or a merge of
// several, kept as an array with at most one fence per fence context). It is how fences travel
// between drivers, processes and APIs: the sw_sync debugfs timeline, DRM syncobjs, Vulkan's
// SYNC_FD handles, Wayland explicit sync and Android all speak it. The fence completes once:
// signaled, or with an error (then the kernel reports a negative errno as its status, e.g.
// -ENOENT when a sw_sync timeline was closed with the fence still pending). poll() reports
// POLLIN once it has completed either way; SYNC_IOC_FILE_INFO tells which.
//
// Ownership: SyncFile owns exactly one fd (a UniqueFd) and closes it when destroyed; it moves,
// never copies. adopt() consumes the fd you give it (closed even when it is refused);
// dup_from() borrows one and makes its own; fd() lends the number out; release() hands it back
// to you. Every SyncFile made here refers to a real sync_file: adopt() asks the kernel first.
// Each sync_file holds a reference to its fence; a dup of the fd shares the same file, so the
// fence lives until the last fd of every file referring to it is closed.
//
// Errors: fallible calls return Result (see result.h). "Not signaled yet" is never an error:
// wait() returns WaitStatus::timed_out. An errored fence makes wait() fail with
// Errc::fence_error carrying the fence's own errno. A default-constructed or moved-from
// SyncFile reports Errc::invalid_handle (EBADF) from every call.
//
// Kernel interface: linux/sync_file.h (SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE, and
// SYNC_IOC_SET_DEADLINE since 6.5, whose absence is probed once per process and remembered).
// Threads: const members may be called concurrently on one SyncFile.
#pragma once

#include "syncbridge/export.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// One fence inside a sync_file, as SYNC_IOC_FILE_INFO reports it.
struct SYNCBRIDGE_API SyncFenceInfo {
  std::string driver_name;    // "sw_sync", "virtio_gpu", "dma_fence_stub"...
  std::string timeline_name;  // the fence's timeline (the kernel's obj_name)
  FenceStatus status = FenceStatus::pending;
  int error_errno = 0;             // positive errno when status is error
  std::uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC when it completed; 0 while pending
  std::optional<MonotonicTime> timestamp() const;
};

// A snapshot of a sync_file; the file's status is read first, then its fences.
struct SYNCBRIDGE_API SyncFileInfo {
  std::string name;  // merge() name, or "<driver>-<timeline><context>-<seqno>"
  FenceStatus status = FenceStatus::pending;
  int error_errno = 0;  // positive errno when status is error
  std::vector<SyncFenceInfo> fences;
};

class SYNCBRIDGE_API SyncFile {
 public:
  SyncFile() noexcept = default;  // empty: every call reports Errc::invalid_handle
  SyncFile(SyncFile&&) noexcept = default;
  SyncFile& operator=(SyncFile&&) noexcept = default;
  SyncFile(const SyncFile&) = delete;
  SyncFile& operator=(const SyncFile&) = delete;
  ~SyncFile() = default;

  // Consumes fd. Checks with SYNC_IOC_FILE_INFO that it is a sync_file; when it is not (or is
  // empty), the fd is closed and the error says "fd N is not a sync_file" (Errc::invalid_handle,
  // the kernel's errno: ENOTTY or EINVAL for a foreign fd, EBADF for a closed one).
  [[nodiscard]] static Result<SyncFile> adopt(UniqueFd fd);
  // Borrows borrowed_fd: duplicates it (F_DUPFD_CLOEXEC), then adopts the duplicate.
  [[nodiscard]] static Result<SyncFile> dup_from(int borrowed_fd);

  bool valid() const noexcept { return fd_.valid(); }
  explicit operator bool() const noexcept { return valid(); }
  int fd() const noexcept { return fd_.get(); }                            // borrowed: stays owned by this object
  [[nodiscard]] UniqueFd release() && noexcept { return std::move(fd_); }  // you own it now
  [[nodiscard]] Result<SyncFile> dup() const;                              // a new fd for the same file (same fence)

  // poll(POLLIN) until the fence completes or the timeout passes. signaled, timed_out, or an
  // Error: Errc::fence_error with the fence's errno when it completed with an error; POLLNVAL
  // or POLLERR; Errc::invalid_argument for a negative timeout. wait_forever never times out;
  // 0 only looks. Signals (EINTR) are retried with the time remaining until an absolute
  // CLOCK_MONOTONIC deadline, so a wait never ends early nor runs long because of them.
  // A wait that cannot block (timeout 0, a deadline already past) is one SYNC_IOC_FILE_INFO;
  // a blocking one is ppoll, then that ioctl once woken (to tell signaled from errored).
  [[nodiscard]] Result<WaitStatus> wait(std::chrono::nanoseconds timeout) const;
  [[nodiscard]] Result<WaitStatus> wait_until(MonotonicTime deadline) const;

  // The fence's state now (one SYNC_IOC_FILE_INFO); the errno of an errored fence is in info().
  [[nodiscard]] Result<FenceStatus> status() const;
  // Name, status and every fence's driver, timeline, status and timestamp.
  [[nodiscard]] Result<SyncFileInfo> info() const;

  // A new sync_file that completes when both have (SYNC_IOC_MERGE); one fence per timeline,
  // the later point. name is cut to 31 bytes.
  [[nodiscard]] static Result<SyncFile> merge(const SyncFile& a, const SyncFile& b,
                                              std::string_view name = "syncbridge-merge");

  // Deadline hint to the fence's driver (SYNC_IOC_SET_DEADLINE, kernel 6.5+): the consumer
  // needs it by then. The earliest hint wins. Errc::unsupported (ENOTTY) on older kernels,
  // remembered for the rest of the process after the first refusal.
  [[nodiscard]] Result<void> set_deadline(MonotonicTime deadline) const;

 private:
  friend class SwSyncTimeline;
  friend class SwSyncExporter;
  // For fds that the kernel just returned as sync_files: no check, no syscall.
  explicit SyncFile(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  UniqueFd fd_;
};

}  // namespace syncbridge
