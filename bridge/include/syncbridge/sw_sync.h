// syncbridge/sw_sync.h: kernel sw_sync timelines, and a core Timeline exported through one.
//
// Model: sw_sync is the kernel's software fence timeline (drivers/dma-buf/sw_sync.c, built with
// CONFIG_SW_SYNC, reached through debugfs). Each open() of /sys/kernel/debug/sync/sw_sync is one
// timeline with a u32 value starting at 0. SW_SYNC_IOC_CREATE_FENCE returns a sync_file whose
// fence signals when the value reaches its seqno, compared with u32 wrap-around:
// (int32_t)(seqno - value) <= 0; a seqno already reached gives an already-signaled fence.
// SW_SYNC_IOC_INC moves the value on (any u32; the kernel walks it in INT_MAX steps). Closing
// the timeline completes every pending fence with -ENOENT. The kernel names a timeline after
// the thread that opened it (its comm); the fence name passed to CREATE_FENCE is ignored.
//
// The kernel's refcount race (see the seed thread; unfixed in 6.12): sw_sync's pending list
// holds no reference to its fences. If userspace closes the last fd of a pending fence while
// SW_SYNC_IOC_INC walks the list, the kernel takes a reference on a fence whose count already
// reached 0: a refcount warning, then a use-after-free (rb_erase NULL dereference, spinlock
// hang). SwSyncTimeline is the raw interface and leaves that to you. SwSyncExporter is the
// safe form: it keeps its own fd to every pending fence it handed out and closes that fd only
// after the INC that signaled the fence has returned, so no INC can ever meet a dying fence.
//
// SwSyncExporter is one of the two exporters (exporter.h states their shared contract): a core
// Timeline in wrap32 mode (timeline.h) kept at the same u32 value as one kernel timeline;
// points compare with wrap-around, exactly as the kernel's seqnos. Its own additions: pending
// sync_files for future points, and the deadlines consumers set on them
// (SYNC_IOC_SET_DEADLINE), read back with poll_deadlines() into earliest_deadline().
//
// Cost: sync_file_at() of a new pending point is CREATE_FENCE plus one dup; of a point already
// held, one dup; the held fds sit in a reused sorted array (no allocation per fence once warm).
// advance() is one INC plus one close per fence it signaled. No other syscalls. Each distinct
// pending point costs the process one fd until it is reached (RLIMIT_NOFILE bounds how many
// distinct future points can be outstanding; sync_file_at then fails with EMFILE).
// Ownership: SwSyncTimeline owns its debugfs fd (closing it closes the timeline). The exporter
// owns its timeline fd and one fd per pending point it handed out (UniqueFds); every sync_file
// it returns is a new fd, yours.
// Threads: every SwSyncExporter member may be called concurrently (one mutex, held only across
// non-blocking ioctls, dup and close). SwSyncTimeline is a thin handle: its const members may
// be called concurrently, as the kernel serializes them.
#pragma once

#include "syncbridge/export.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "syncbridge/exporter.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/timeline.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

inline constexpr std::string_view kSwSyncPath = "/sys/kernel/debug/sync/sw_sync";

// One kernel sw_sync timeline (owns the debugfs fd; destroying it closes the timeline).
class SYNCBRIDGE_API SwSyncTimeline {
 public:
  // Errc::not_found when the file is missing (kernel without CONFIG_SW_SYNC, or debugfs not
  // mounted), Errc::permission_denied on EACCES/EPERM (debugfs is root-only on most systems).
  // path is for tests and unusual debugfs mount points.
  [[nodiscard]] static Result<SwSyncTimeline> open(std::string_view path = kSwSyncPath);

  SwSyncTimeline() noexcept = default;  // empty: every call reports Errc::invalid_handle
  bool valid() const noexcept { return fd_.valid(); }
  int fd() const noexcept { return fd_.get(); }  // borrowed

  // A new sync_file for seqno value: pending until the timeline reaches it. Errc::unsupported
  // (ENOTTY) when the fd is not a sw_sync timeline. The kernel ignores name (kept for the uAPI).
  [[nodiscard]] Result<SyncFile> create_fence(std::uint32_t value, std::string_view name = "syncbridge") const;
  // Moves the value on by n, signaling every fence reached. n == 0 is a no-op in the kernel.
  [[nodiscard]] Result<void> inc(std::uint32_t n = 1) const;
  // The earliest deadline set on a sw_sync fence (SW_SYNC_IOC_GET_DEADLINE, kernel 6.5+):
  // std::nullopt when none was set; Errc::unsupported on older kernels (remembered);
  // Errc::invalid_argument (EINVAL) when the sync_file's fence is not a sw_sync fence (merges).
  [[nodiscard]] Result<std::optional<MonotonicTime>> get_deadline(const SyncFile& fence) const;
  // Closes the timeline: its pending fences complete with ENOENT. (Only when no other fd
  // refers to the same open file: a fork()ed child holds one until it exits or closes it.)
  void close() noexcept { fd_.reset(); }

 private:
  explicit SwSyncTimeline(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// A core Timeline mirrored by a kernel sw_sync timeline; the contract is exporter.h's.
class SYNCBRIDGE_API SwSyncExporter final : public Exporter {
 public:
  // A wrap32 core timeline named name at initial, and a kernel timeline INCed to initial.
  // Errors as SwSyncTimeline::open; Errc::out_of_range for initial past 2^32-1.
  [[nodiscard]] static Result<SwSyncExporter> create(std::string name, std::uint64_t initial = 0,
                                                     std::string_view sw_sync_path = kSwSyncPath);

  SwSyncExporter() noexcept;  // empty: every call reports Errc::invalid_handle
  SwSyncExporter(SwSyncExporter&&) noexcept;
  SwSyncExporter& operator=(SwSyncExporter&&) noexcept;
  ~SwSyncExporter() override;  // close()

  bool valid() const noexcept override { return state_ != nullptr; }

  // Pending until the exporter reaches point, already signaled once it did. Every
  // sync_file_at of one pending point shares one kernel fence (and one open file).
  [[nodiscard]] Result<SyncFile> sync_file_at(std::uint64_t point) const override;
  [[nodiscard]] Result<Fence> fence_at(std::uint64_t point) override;
  // n up to 2^32-1. Then closes the held fds of the fences signaled.
  [[nodiscard]] Result<void> advance(std::uint64_t n = 1) override;
  [[nodiscard]] Result<void> signal_to(std::uint64_t point) override;

  // Reads the deadline of every held (pending) kernel fence (SW_SYNC_IOC_GET_DEADLINE, one
  // ioctl each) and passes new ones to the core fences, so that earliest_deadline() shows what
  // consumers asked for with SyncFile::set_deadline. Returns how many held fences carry one.
  // Errc::unsupported on kernels before 6.5.
  [[nodiscard]] Result<std::size_t> poll_deadlines();

  // Closes the kernel timeline (pending sync_files complete with ENOENT, which releases GPU
  // waits on them), drops the held fds, then closes the core timeline.
  void close() noexcept override;

  std::uint64_t value() const noexcept override;  // the kernel's u32 value (0 when empty)
  bool closed() const noexcept override;          // true when empty
  const std::string& name() const noexcept override;
  const Timeline& timeline() const noexcept override;
  // Pending kernel fences the exporter holds an fd to (one per distinct pending point).
  std::size_t held_fence_count() const noexcept;
  std::optional<MonotonicTime> earliest_deadline() const;

 private:
  struct State;
  explicit SwSyncExporter(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace syncbridge
