// GPU -> CPU: VulkanCompletionStream and VulkanSignal.
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/watcher.h"

namespace syncbridge {

const char* path_name(VulkanCompletionPath path) noexcept {
  switch (path) {
    case VulkanCompletionPath::sync_fd_export: return "sync_fd_export";
    case VulkanCompletionPath::timeline_wait: return "timeline_wait";
  }
  return "?";
}

namespace detail {

struct VulkanStreamCore : std::enable_shared_from_this<VulkanStreamCore> {
  explicit VulkanStreamCore(const VulkanDevice& dev) : device(dev), d(dev.dispatch()), vk(dev.device()) {}

  VulkanDevice device;
  VulkanDispatch d;
  VkDevice vk;
  VulkanCompletionStreamOptions options;
  VulkanCompletionPath path = VulkanCompletionPath::timeline_wait;
  Timeline timeline;

  std::mutex m;
  std::condition_variable cv;
  std::uint64_t next_point = 0;  // the last point handed out by prepare()
  bool stopping = false;
  bool destroyed = false;
  std::optional<Error> error;

  // timeline_wait
  VkSemaphore timeline_semaphore = VK_NULL_HANDLE;
  std::set<std::uint64_t> in_flight;  // submitted, not yet seen complete
  int direct_waiters = 0;             // threads inside wait(): they signal the timeline themselves
  bool direct_seen = false;
  bool helper_untimed = false;        // the helper sleeps until notified
  std::chrono::steady_clock::time_point last_direct;  // when a direct wait last ended
  static constexpr std::chrono::milliseconds direct_grace{2};
  VkSemaphore wake_semaphore = VK_NULL_HANDLE;  // host-signaled to interrupt the helper's wait
  std::uint64_t wake_value = 0;
  bool helper_in_wait = false, kicked = false;
  std::thread helper;

  // sync_fd_export
  std::vector<VkSemaphore> free_binary;
  std::vector<VkSemaphore> all_binary;
  std::set<std::uint64_t> done;  // completed out of order, above `retired`
  std::uint64_t retired = 0;
  Watcher watch;  // created with the stream on the sync_fd_export path

  Result<VkSemaphore> create_semaphore(bool timeline_type, bool exportable) {
    VkSemaphoreTypeCreateInfo type{};
    type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
    type.semaphoreType = timeline_type ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY;
    VkExportSemaphoreCreateInfo exp{};
    exp.sType = VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO;
    exp.handleTypes = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    if (exportable) type.pNext = &exp;
    VkSemaphoreCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    ci.pNext = &type;
    VkSemaphore s = VK_NULL_HANDLE;
    if (VkResult r = d.create_semaphore(vk, &ci, nullptr, &s); r != VK_SUCCESS) return vulkan_error(r, "vkCreateSemaphore");
    return s;
  }

  // Closes the timeline: every pending fence completes with ENOENT.
  void fail(Error e) {
    {
      std::lock_guard guard(m);
      if (!error) error = std::move(e);
    }
    timeline.close();
  }

  void signal_to(std::uint64_t point) {
    auto r = timeline.signal_to(point);
    // backwards: another thread got there first; timeline_closed: shut down or failed.
    (void)r;
  }

  // Wakes the helper out of vkWaitSemaphores (it waits on the stream's semaphore OR this
  // private one). Called with m held.
  void kick_locked() {
    if (!helper_in_wait || kicked) return;
    kicked = true;
    VkSemaphoreSignalInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
    si.semaphore = wake_semaphore;
    si.value = ++wake_value;
    (void)d.signal_semaphore(vk, &si);
  }

  void helper_loop() {
    for (;;) {
      std::uint64_t values[2] = {0, 0};
      {
        std::unique_lock lock(m);
        // While consumers wait on the semaphore themselves (wait()), they signal the timeline as
        // they return: the helper stays out of their way rather than race them in the driver,
        // and starts waiting only once no direct wait was seen for direct_grace (the fences
        // of points nobody waits for directly are then signaled at most that much later).
        for (;;) {
          if (stopping) return;
          const auto now = std::chrono::steady_clock::now();
          const bool recent = direct_seen && now - last_direct < direct_grace;
          if (in_flight.empty() && !recent && direct_waiters == 0) {
            helper_untimed = true;  // submitted() or a direct waiter's exit wakes it
            cv.wait(lock);
            helper_untimed = false;
            continue;
          }
          if (in_flight.empty() || direct_waiters > 0 || recent) {
            cv.wait_until(lock, (direct_waiters > 0 ? now : last_direct) + direct_grace);
            continue;
          }
          break;
        }
        values[0] = *in_flight.begin();
        values[1] = wake_value + 1;
        helper_in_wait = true;
        kicked = false;
      }
      const VkSemaphore sems[2] = {timeline_semaphore, wake_semaphore};
      VkSemaphoreWaitInfo wi{};
      wi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO;
      wi.flags = VK_SEMAPHORE_WAIT_ANY_BIT;
      wi.semaphoreCount = 2;
      wi.pSemaphores = sems;
      wi.pValues = values;
      const VkResult r = d.wait_semaphores(vk, &wi, UINT64_MAX);
      {
        std::lock_guard guard(m);
        helper_in_wait = false;
      }
      if (r == VK_TIMEOUT) continue;
      if (r != VK_SUCCESS) {
        fail(vulkan_error(r, "vkWaitSemaphores (completion stream '" + options.name + "')"));
        return;
      }
      std::uint64_t value = 0;
      if (VkResult g = d.get_semaphore_counter_value(vk, timeline_semaphore, &value); g != VK_SUCCESS) {
        fail(vulkan_error(g, "vkGetSemaphoreCounterValue (completion stream '" + options.name + "')"));
        return;
      }
      {
        std::lock_guard guard(m);
        in_flight.erase(in_flight.begin(), in_flight.upper_bound(value));
      }
      signal_to(value);  // backwards (a direct waiter was first) is fine
    }
  }

  // sync_fd_export: point p is done; advance over every contiguous done point.
  void mark_done(std::uint64_t p) {
    std::uint64_t to = 0;
    {
      std::lock_guard guard(m);
      done.insert(p);
      while (!done.empty() && *done.begin() == retired + 1) {
        done.erase(done.begin());
        ++retired;
      }
      to = retired;
    }
    signal_to(to);
  }

  void release_binary(VkSemaphore s) {
    std::lock_guard guard(m);
    if (!destroyed) free_binary.push_back(s);
  }

  void abandon(const VkSemaphoreSubmitInfo& info, std::uint64_t point) {
    if (path == VulkanCompletionPath::sync_fd_export) {
      release_binary(info.semaphore);  // never submitted: unsignaled, nothing pending
      mark_done(point);
    }
    // timeline_wait: the point is never signaled by the GPU; a later point covers it.
  }

  void shutdown() {
    {
      std::lock_guard guard(m);
      if (stopping) return;
      stopping = true;
      kick_locked();
    }
    cv.notify_all();
    if (helper.joinable()) helper.join();
    { Watcher dying = std::move(watch); }  // joins its thread; pending watches are dropped
    timeline.close();
  }

  void destroy() {
    shutdown();
    std::lock_guard guard(m);
    if (destroyed) return;
    destroyed = true;
    if (timeline_semaphore != VK_NULL_HANDLE) d.destroy_semaphore(vk, timeline_semaphore, nullptr);
    if (wake_semaphore != VK_NULL_HANDLE) d.destroy_semaphore(vk, wake_semaphore, nullptr);
    for (VkSemaphore s : all_binary) d.destroy_semaphore(vk, s, nullptr);
    all_binary.clear();
    free_binary.clear();
  }
};

}  // namespace detail

// ---- VulkanSignal

VulkanSignal::VulkanSignal(VulkanSignal&& o) noexcept
    : stream_(std::move(o.stream_)), info_(o.info_), point_(o.point_), path_(o.path_) {}
VulkanSignal& VulkanSignal::operator=(VulkanSignal&& o) noexcept {
  if (this != &o) {
    if (stream_) stream_->abandon(info_, point_);
    stream_ = std::move(o.stream_);
    info_ = o.info_;
    point_ = o.point_;
    path_ = o.path_;
  }
  return *this;
}
VulkanSignal::~VulkanSignal() {
  if (stream_) stream_->abandon(info_, point_);
}

// ---- VulkanCompletionStream

Result<std::unique_ptr<VulkanCompletionStream>> VulkanCompletionStream::create(const VulkanDevice& device,
                                                                               VulkanCompletionStreamOptions options) {
  if (!device.has(VulkanCaps::timeline_semaphore))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "VulkanCompletionStream needs timeline_semaphore on " + device.report().device_name);
  auto core = std::make_shared<detail::VulkanStreamCore>(device);
  core->options = options;
  auto tl = Timeline::create({.name = options.name});
  if (!tl) return std::move(tl).error();
  core->timeline = std::move(*tl);
  if (options.allow_sync_fd_export && device.has(VulkanCaps::sync_fd_semaphore_export)) {
    core->path = VulkanCompletionPath::sync_fd_export;
    auto w = Watcher::create(WatcherMode::own_thread);
    if (!w) return std::move(w).error();
    core->watch = std::move(*w);
  } else {
    core->path = VulkanCompletionPath::timeline_wait;
    auto sem = core->create_semaphore(true, false);
    if (!sem) return std::move(sem).error();
    core->timeline_semaphore = *sem;
    auto wake = core->create_semaphore(true, false);
    if (!wake) {
      core->destroy();
      return std::move(wake).error();
    }
    core->wake_semaphore = *wake;
    core->helper = std::thread([c = core.get()] { c->helper_loop(); });
  }
  std::unique_ptr<VulkanCompletionStream> s(new VulkanCompletionStream);
  s->core_ = std::move(core);
  return s;
}

VulkanCompletionStream::~VulkanCompletionStream() {
  if (core_) core_->destroy();
}

void VulkanCompletionStream::shutdown() {
  if (core_) core_->shutdown();
}

VulkanCompletionPath VulkanCompletionStream::path() const noexcept { return core_->path; }

std::uint64_t VulkanCompletionStream::completed_point() const noexcept { return core_->timeline.value(); }

std::optional<Error> VulkanCompletionStream::error() const {
  std::lock_guard guard(core_->m);
  return core_->error;
}

Result<Fence> VulkanCompletionStream::fence_at(std::uint64_t point) {
  {
    std::lock_guard guard(core_->m);
    if (point > core_->next_point)
      return Error(Errc::invalid_argument, EINVAL,
                   "fence_at(" + std::to_string(point) + "): point not handed out by prepare() yet");
  }
  return core_->timeline.fence_at(point);
}

Result<WaitStatus> VulkanCompletionStream::wait(std::uint64_t point, std::chrono::nanoseconds timeout) {
  auto& c = *core_;
  auto fence = fence_at(point);
  if (!fence) return std::move(fence).error();
  if (timeout < std::chrono::nanoseconds::zero())
    return Error(Errc::invalid_argument, EINVAL, "VulkanCompletionStream::wait: negative timeout");
  if (c.path != VulkanCompletionPath::timeline_wait || fence->status() != FenceStatus::pending)
    return fence->wait(timeout);
  {
    std::lock_guard guard(c.m);
    if (c.stopping) return fence->wait(timeout);
    ++c.direct_waiters;
    c.kick_locked();  // the helper leaves the driver's wait to this thread
  }
  struct Leave {
    detail::VulkanStreamCore& c;
    ~Leave() {
      std::lock_guard guard(c.m);
      --c.direct_waiters;
      c.direct_seen = true;
      c.last_direct = std::chrono::steady_clock::now();
      // A helper in a timed wait re-checks within direct_grace by itself; only an untimed one
      // needs waking (then it starts timing).
      if (c.helper_untimed) c.cv.notify_all();
    }
  } leave{c};
  VkSemaphoreWaitInfo wi{};
  wi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO;
  wi.semaphoreCount = 1;
  wi.pSemaphores = &c.timeline_semaphore;
  wi.pValues = &point;
  const std::uint64_t ns = timeout == wait_forever ? UINT64_MAX : static_cast<std::uint64_t>(timeout.count());
  const VkResult r = c.d.wait_semaphores(c.vk, &wi, ns);
  if (r == VK_TIMEOUT) return WaitStatus::timed_out;
  if (r != VK_SUCCESS) {
    c.fail(vulkan_error(r, "vkWaitSemaphores (completion stream '" + c.options.name + "')"));
    return fence->wait(std::chrono::nanoseconds::zero());  // the closed timeline's error
  }
  {
    std::lock_guard guard(c.m);
    c.in_flight.erase(c.in_flight.begin(), c.in_flight.upper_bound(point));
  }
  c.signal_to(point);  // the helper may get there too: whoever is first signals
  return fence->wait(std::chrono::nanoseconds::zero());
}

Result<VulkanSignal> VulkanCompletionStream::prepare() {
  auto& c = *core_;
  VkSemaphore sem = VK_NULL_HANDLE;
  std::uint64_t point = 0;
  {
    std::lock_guard guard(c.m);
    if (c.stopping) return Error(Errc::invalid_handle, EBADF, "VulkanCompletionStream::prepare after shutdown()");
    if (c.error) return *c.error;
    if (c.path == VulkanCompletionPath::sync_fd_export && !c.free_binary.empty()) {
      sem = c.free_binary.back();
      c.free_binary.pop_back();
    }
  }
  if (c.path == VulkanCompletionPath::sync_fd_export && sem == VK_NULL_HANDLE) {
    auto created = c.create_semaphore(false, true);
    if (!created) return std::move(created).error();
    sem = *created;
    std::lock_guard guard(c.m);
    c.all_binary.push_back(sem);
  }
  {
    std::lock_guard guard(c.m);
    point = ++c.next_point;
  }
  VulkanSignal s;
  s.stream_ = core_;
  s.point_ = point;
  s.path_ = c.path;
  s.info_.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO;
  s.info_.stageMask = c.options.signal_stage_mask;
  if (c.path == VulkanCompletionPath::sync_fd_export) {
    s.info_.semaphore = sem;
    s.info_.value = 0;
  } else {
    s.info_.semaphore = c.timeline_semaphore;
    s.info_.value = point;
  }
  return s;
}

Result<Fence> VulkanCompletionStream::submitted(VulkanSignal&& signal) {
  auto& c = *core_;
  if (signal.stream_ != core_) return Error(Errc::invalid_argument, EINVAL, "VulkanSignal of another stream");
  const std::uint64_t point = signal.point_;
  const VkSemaphoreSubmitInfo info = signal.info_;
  signal.stream_.reset();  // submitted: no abandon
  auto fence = c.timeline.fence_at(point);
  if (!fence) return fence;
  if (c.path == VulkanCompletionPath::timeline_wait) {
    bool wake = false;
    {
      std::lock_guard guard(c.m);
      c.in_flight.insert(point);
      // Only a helper sleeping untimed needs waking; otherwise it is in the driver's wait or in
      // a timed wait out of a direct waiter's way, and sees the new point by itself.
      wake = c.helper_untimed;
    }
    if (wake) c.cv.notify_one();
    return fence;
  }
  // sync_fd_export: the export is a wait operation; the semaphore is unsignaled afterwards
  // and can be signaled by the next submission.
  VkSemaphoreGetFdInfoKHR gi{};
  gi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR;
  gi.semaphore = info.semaphore;
  gi.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
  int fd = -1;
  if (VkResult r = c.d.get_semaphore_fd(c.vk, &gi, &fd); r != VK_SUCCESS) {
    Error e = vulkan_error(r, "vkGetSemaphoreFdKHR(SYNC_FD) of completion point " + std::to_string(point));
    c.fail(e);  // the point can never be observed: close the timeline rather than hang
    return e;
  }
  c.release_binary(info.semaphore);
  if (fd < 0) {  // already signaled
    c.mark_done(point);
    return fence;
  }
  auto file = SyncFile::adopt(UniqueFd(fd));
  if (!file) {
    c.fail(file.error());
    return std::move(file).error();
  }
  std::weak_ptr<detail::VulkanStreamCore> weak = core_;
  auto watched = c.watch.watch_sync_file(std::move(*file), [weak, point](const Result<void>& outcome) {
    auto core = weak.lock();
    if (!core) return;
    if (outcome.ok()) {
      core->mark_done(point);
    } else {
      core->fail(Error(Errc::fence_error, outcome.error().sys_errno(),
                       "the exported sync_file of completion point " + std::to_string(point) +
                           " completed with an error: " + outcome.error().message()));
    }
  });
  if (!watched) {
    c.fail(watched.error());
    return std::move(watched).error();
  }
  return fence;
}

void VulkanCompletionStream::abandon(VulkanSignal&& signal) {
  if (signal.stream_ != core_) return;
  signal.stream_.reset();
  core_->abandon(signal.info_, signal.point_);
}

}  // namespace syncbridge
