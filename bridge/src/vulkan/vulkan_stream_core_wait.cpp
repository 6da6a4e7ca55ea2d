// The timeline_wait path of VulkanCompletionStream: the helper thread that waits on the
// stream's timeline semaphore, and the direct waits of wait(point).
#include <algorithm>

#include "vulkan/vulkan_stream_core.h"

namespace syncbridge::detail {

// Interrupts every driver wait of the stream (helper and direct waiters). Called with m held.
void VulkanStreamCore::wake_waiters_locked() {
  VkSemaphoreSignalInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
  si.semaphore = wake_semaphore;
  si.value = ++wake_value;
  (void)d.signal_semaphore(vk, &si);
}

// Takes the helper out of a driver wait that a direct waiter now covers. Called with m held.
void VulkanStreamCore::kick_helper_locked(std::uint64_t direct_point) {
  if (!helper_in_wait || kicked || helper_target < direct_point) return;
  kicked = true;
  wake_waiters_locked();
}

// The counter reached `value`: every submitted point up to it is done, and so is every
// abandoned point that no later-submitted point is left to cover. Returns the point the core
// Timeline may be signaled to. Called with m held.
std::uint64_t VulkanStreamCore::seen_locked(std::uint64_t value) {
  in_flight.erase(in_flight.begin(), in_flight.upper_bound(value));
  std::uint64_t v = std::max(seen_value, value);
  while (!abandoned.empty() && *abandoned.begin() <= v + 1) {
    if (*abandoned.begin() == v + 1) ++v;
    abandoned.erase(abandoned.begin());
  }
  seen_value = v;
  return v;
}

// Waits for the stream's semaphore to reach `point` or the wake semaphore to pass `wake_seen`;
// returns the counter value it read then (below `point` on a wake-up), nothing when the
// timeout passed first.
Result<std::optional<std::uint64_t>> VulkanStreamCore::driver_wait(std::uint64_t point, std::uint64_t wake_seen,
                                                                   std::uint64_t timeout_ns) {
  const VkSemaphore sems[2] = {timeline_semaphore, wake_semaphore};
  const std::uint64_t values[2] = {point, wake_seen + 1};
  VkSemaphoreWaitInfo wi{};
  wi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO;
  wi.flags = VK_SEMAPHORE_WAIT_ANY_BIT;
  wi.semaphoreCount = 2;
  wi.pSemaphores = sems;
  wi.pValues = values;
  const VkResult r = d.wait_semaphores(vk, &wi, timeout_ns);
  if (r == VK_TIMEOUT) return std::optional<std::uint64_t>();
  if (r != VK_SUCCESS) return vulkan_error(r, "vkWaitSemaphores (completion stream '" + options.name + "')");
  std::uint64_t value = 0;
  if (VkResult g = d.get_semaphore_counter_value(vk, timeline_semaphore, &value); g != VK_SUCCESS)
    return vulkan_error(g, "vkGetSemaphoreCounterValue (completion stream '" + options.name + "')");
  return std::optional<std::uint64_t>(value);
}

// Sleeps until the helper has a point to wait for in the driver (`target`); false when stopping.
// A direct waiter (wait()) signals the timeline itself as it returns: the helper stays out of
// the driver while one waits for a point at or below the helper's next one, and for
// direct_grace after the last direct wait ended (the fences of points nobody waits for directly
// are then signaled at most that much later). A lower point is always waited for here: its
// completion may be what releases the direct waiter's point.
bool VulkanStreamCore::helper_next_locked(std::unique_lock<std::mutex>& lock, std::uint64_t& target) {
  for (;;) {
    if (stopping) return false;
    const auto now = std::chrono::steady_clock::now();
    if (in_flight.empty()) {
      helper_untimed = true;  // submitted() wakes it
      cv.wait(lock);
      helper_untimed = false;
      continue;
    }
    target = *in_flight.begin();
    const bool covered = !direct_points.empty() && *direct_points.begin() <= target;
    const bool recent = direct_seen && now - last_direct < direct_grace;
    if (!covered && !recent) return true;
    cv.wait_until(lock, (covered ? now : last_direct) + direct_grace);
  }
}

void VulkanStreamCore::helper_loop() {
  running_stream = this;
  for (;;) {
    std::uint64_t target = 0, wake_seen = 0;
    {
      std::unique_lock lock(m);
      if (!helper_next_locked(lock, target)) return;
      wake_seen = wake_value;
      helper_target = target;
      helper_in_wait = true;
      kicked = false;
    }
    auto value = driver_wait(target, wake_seen, UINT64_MAX);
    std::uint64_t signal = 0;
    {
      std::lock_guard guard(m);
      helper_in_wait = false;
      if (value && *value) signal = seen_locked(**value);
    }
    if (!value) {
      fail(std::move(value).error());
      return;
    }
    if (signal) signal_to(signal);  // backwards (a direct waiter was first) is fine
  }
}

void VulkanStreamCore::submitted_in_flight(std::uint64_t point) {
  bool wake = false;
  {
    std::lock_guard guard(m);
    in_flight.insert(point);
    // Only a helper sleeping untimed needs waking; otherwise it is in the driver's wait or in a
    // timed wait out of a direct waiter's way, and sees the new point by itself.
    wake = helper_untimed;
  }
  if (wake) cv.notify_one();
}

// The GPU never signals an abandoned point. A later point covers it; if none comes, it is done
// as soon as every earlier point is.
void VulkanStreamCore::abandon_in_flight(std::uint64_t point) {
  std::uint64_t signal = 0;
  {
    std::lock_guard guard(m);
    abandoned.insert(point);
    signal = seen_locked(seen_value);
  }
  if (signal) signal_to(signal);
}

// A direct wait ends: before the Timeline is signaled (its callbacks may shut the stream down).
void VulkanStreamCore::leave_direct_wait_locked(std::uint64_t point) {
  direct_points.erase(direct_points.find(point));
  direct_seen = true;
  last_direct = std::chrono::steady_clock::now();
  cv.notify_all();  // an untimed helper starts timing; shutdown() waits for this
}

// wait(point) on timeline_wait: the caller's thread waits in the driver and signals the
// Timeline itself. `fence` is the point's, pending when called.
Result<WaitStatus> VulkanStreamCore::direct_wait(std::uint64_t point, std::chrono::nanoseconds timeout,
                                                 const Fence& fence) {
  std::uint64_t wake_seen = 0;
  bool in_driver = false;
  {
    std::lock_guard guard(m);
    // Only a submitted point is waited for in the driver: one prepared but not submitted yet may
    // be abandoned, and the semaphore would never reach it.
    if (!stopping && in_flight.contains(point)) {
      in_driver = true;
      direct_points.insert(point);
      kick_helper_locked(point);  // the helper leaves a wait this thread covers
      wake_seen = wake_value;
    }
  }
  if (!in_driver) return fence.wait(timeout);
  // A timeout too long to add to now() is as good as forever.
  const bool forever = timeout >= std::chrono::hours(24 * 365 * 100);
  const auto deadline = forever ? MonotonicTime::max() : std::chrono::steady_clock::now() + timeout;
  std::uint64_t signal = 0;
  bool reached = false;
  std::optional<Error> failed;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
    const std::uint64_t ns = forever ? UINT64_MAX : static_cast<std::uint64_t>(std::max<std::int64_t>(0, left.count()));
    auto value = driver_wait(point, wake_seen, ns);
    std::lock_guard guard(m);
    const bool timed_out = value && !*value;
    reached = value && *value && **value >= point;
    if (value && *value) signal = seen_locked(**value);
    if (reached || !value || timed_out || stopping) {
      if (!value) failed = std::move(value).error();
      leave_direct_wait_locked(point);
      break;
    }
    wake_seen = wake_value;  // woken for the helper's sake, or by another direct waiter: again
  }
  if (failed) {
    fail(std::move(*failed));
    return fence.wait(std::chrono::nanoseconds::zero());  // the closed timeline's error
  }
  if (signal) signal_to(signal);
  if (reached) return fence.wait(std::chrono::nanoseconds::zero());
  // Timed out, or shut down (which closes the Timeline): the fence says which.
  return forever ? fence.wait(wait_forever) : fence.wait_until(deadline);
}

}  // namespace syncbridge::detail
