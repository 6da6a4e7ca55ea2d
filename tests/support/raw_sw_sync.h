// The sw_sync ioctls as a program without this library issues them, for the benchmark's raw
// baseline and the kernel-bug negative control. sw_sync has no uapi header of its own; these
// are the values the kernel's sw_sync driver (drivers/dma-buf/sw_sync.c) takes as of 6.12,
// written out here.
#pragma once

#include <linux/types.h>
#include <sys/ioctl.h>

namespace syncbridge::testing::raw_sw_sync {

// SW_SYNC_IOC_CREATE_FENCE's argument: the point, a name, and (out) the new sync_file's fd.
struct create_fence_data {
  __u32 value;
  char name[32];
  __s32 fence;
};

inline constexpr unsigned long kCreateFence = _IOWR('W', 0, create_fence_data);  // SW_SYNC_IOC_CREATE_FENCE
inline constexpr unsigned long kInc = _IOW('W', 1, __u32);                       // SW_SYNC_IOC_INC

}  // namespace syncbridge::testing::raw_sw_sync
