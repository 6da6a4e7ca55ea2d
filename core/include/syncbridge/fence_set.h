// syncbridge/fence_set.h: several fences waited on as one, like a merged sync_file.
//
// Model: a FenceSet keeps at most one fence per timeline, the later point (as SYNC_IOC_MERGE
// does), in a small vector sorted by timeline. It is complete when every fence is; it is in
// error when any fence completed with an error. A FenceSet holds references to its fences.
#pragma once

#include "syncbridge/export.h"

#include <cstddef>
#include <span>
#include <vector>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"

namespace syncbridge {

struct SYNCBRIDGE_API WaitAnyResult {
  WaitStatus status;  // signaled: index names a completed fence
  std::size_t index;  // into fences(); meaningless on timed_out
};

class SYNCBRIDGE_API FenceSet {
 public:
  FenceSet() = default;

  // Errc::invalid_handle for an empty fence.
  [[nodiscard]] Result<void> add(const Fence& fence);
  [[nodiscard]] static FenceSet merge(const FenceSet& a, const FenceSet& b);

  std::span<const Fence> fences() const noexcept { return fences_; }
  std::size_t size() const noexcept { return fences_.size(); }
  bool empty() const noexcept { return fences_.empty(); }
  // signaled when all are (an empty set is signaled), error when any errored, else pending.
  FenceStatus status() const noexcept;

  // Waits for all: signaled, timed_out, or Errc::fence_error naming the errored fence.
  Result<WaitStatus> wait_all(std::chrono::nanoseconds timeout) const;
  // Waits until a fence of the set completes and names one that has (when several have, the
  // lowest index); an errored fence counts as completed (check its status). Registers nothing
  // per member: its cost hardly grows with the set. Errc::invalid_argument on an empty set.
  Result<WaitAnyResult> wait_any(std::chrono::nanoseconds timeout) const;

 private:
  std::vector<Fence> fences_;
};

}  // namespace syncbridge
