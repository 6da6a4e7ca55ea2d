// Internal: the kernel uAPI this library speaks, where the installed headers fall short, and
// the one place that issues its ioctls. Not installed.
//
// sw_sync has no uapi header at all (its structs live in drivers/dma-buf/sw_sync.c), and
// bookworm's linux/sync_file.h predates SYNC_IOC_SET_DEADLINE (6.5). As Mesa does, we carry
// copies of the definitions; their layout is ABI and checked below.
#pragma once

#include <linux/sync_file.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

namespace syncbridge::detail {

// ---- linux/sync_file.h, kernel 6.5+ ----
struct sync_set_deadline_data {
  __u64 deadline_ns;  // absolute CLOCK_MONOTONIC
  __u64 pad;          // must be zero
};
static_assert(sizeof(sync_set_deadline_data) == 16);
inline constexpr unsigned long kSyncIocSetDeadline = _IOW(SYNC_IOC_MAGIC, 5, sync_set_deadline_data);
#ifdef SYNC_IOC_SET_DEADLINE
static_assert(kSyncIocSetDeadline == SYNC_IOC_SET_DEADLINE);
#endif
inline constexpr unsigned long kSyncIocFileInfo = SYNC_IOC_FILE_INFO;
inline constexpr unsigned long kSyncIocMerge = SYNC_IOC_MERGE;
static_assert(sizeof(sync_file_info) == 56 && sizeof(sync_fence_info) == 80 && sizeof(sync_merge_data) == 48);

// ---- drivers/dma-buf/sw_sync.c (no uapi header) ----
struct sw_sync_create_fence_data {
  __u32 value;    // the seqno
  char name[32];  // ignored by the kernel (as of 6.12)
  __s32 fence;    // out: the new sync_file's fd
};
static_assert(sizeof(sw_sync_create_fence_data) == 40 && offsetof(sw_sync_create_fence_data, fence) == 36);

// Kernel 6.5+; the kernel calls it SW_SYNC_GET_DEADLINE. ENOENT: no deadline set.
struct sw_sync_get_deadline {
  __u64 deadline_ns;  // out; must be zero on the way in
  __u32 pad;          // must be zero
  __s32 fence_fd;     // in: a sync_file of a sw_sync fence
};
static_assert(sizeof(sw_sync_get_deadline) == 16);

inline constexpr unsigned long kSwSyncIocCreateFence = _IOWR('W', 0, sw_sync_create_fence_data);
inline constexpr unsigned long kSwSyncIocInc = _IOW('W', 1, __u32);
inline constexpr unsigned long kSwSyncIocGetDeadline = _IOWR('W', 2, sw_sync_get_deadline);

// ioctl, retried on EINTR/EAGAIN as libdrm's drmIoctl does. -1 with errno set on failure.
inline int sb_ioctl(int fd, unsigned long request, void* arg) noexcept {
  int r;
  do {
    r = ::ioctl(fd, request, arg);
  } while (r == -1 && (errno == EINTR || errno == EAGAIN));
  return r;
}

// Probe-once answers (STYLE.md 12): set on the first definite answer from the kernel, read
// without a lock. An "unsupported" answer spares every later call its syscall.
enum Support : int { kSupportUnknown = 0, kSupported = 1, kUnsupported = 2 };
std::atomic<int>& set_deadline_support() noexcept;  // SYNC_IOC_SET_DEADLINE
std::atomic<int>& get_deadline_support() noexcept;  // SW_SYNC_IOC_GET_DEADLINE

}  // namespace syncbridge::detail
