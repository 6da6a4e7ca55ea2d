// GPU -> CPU: VulkanCompletionStream and VulkanSignal.
#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/watcher.h"
#include "vulkan_wait_state.h"

namespace syncbridge {

const char* path_name(VulkanCompletionPath path) noexcept {
  switch (path) {
    case VulkanCompletionPath::sync_fd_export: return "sync_fd_export";
    case VulkanCompletionPath::timeline_wait: return "timeline_wait";
  }
  return "?";
}

namespace detail {

// The stream whose thread (helper, exporter, or watcher callback) this thread is running, if
// any: shutdown() from one of its own callbacks must not join the thread it runs on.
thread_local const void* running_stream = nullptr;

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
  std::set<std::uint64_t> in_flight;       // submitted, not yet seen complete
  std::set<std::uint64_t> abandoned;       // never submitted: done once every earlier point is
  std::uint64_t seen_value = 0;            // the highest counter value seen (plus abandoned points)
  std::multiset<std::uint64_t> direct_points;  // points that threads inside wait() wait for
  bool direct_seen = false;
  bool helper_untimed = false;        // the helper sleeps until notified
  std::chrono::steady_clock::time_point last_direct;  // when a direct wait last ended
  static constexpr std::chrono::milliseconds direct_grace{2};
  // Host-signaled to interrupt the driver waits (the helper's and the direct waiters'): each
  // waits for the timeline OR this semaphore past the value it saw when it started.
  VkSemaphore wake_semaphore = VK_NULL_HANDLE;
  std::uint64_t wake_value = 0;
  bool helper_in_wait = false, kicked = false;
  std::uint64_t helper_target = 0;  // the point the helper waits for, while helper_in_wait
  std::thread helper;

  // sync_fd_export. The export is a wait operation that a driver may block in: Mesa holds a
  // wait-before-signal submission back until its waits are pending and blocks the export until
  // then; lavapipe finishes the work first. So exports never run on the caller's thread (which
  // may be the one that still has to release the submission's inputs): they run in submission
  // order on the exporter thread, each once the inputs given to VulkanSignal::depends_on() are
  // released (VUID-VkSemaphoreGetFdInfoKHR-handleType-03254: the signal operations it depends
  // on must have been submitted).
  struct PendingExport {
    std::uint64_t point = 0;
    VkSemaphore semaphore = VK_NULL_HANDLE;
    std::vector<std::shared_ptr<VulkanWaitState>> inputs;
    bool ready() const {
      for (const auto& in : inputs)
        if (!in->released.load(std::memory_order_acquire)) return false;
      return true;
    }
  };
  std::deque<PendingExport> exports;  // submitted, not exported yet, in point order
  std::condition_variable export_cv;
  std::thread exporter;
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

  // Interrupts every driver wait of the stream (helper and direct waiters). Called with m held.
  void wake_waiters_locked() {
    VkSemaphoreSignalInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
    si.semaphore = wake_semaphore;
    si.value = ++wake_value;
    (void)d.signal_semaphore(vk, &si);
  }
  // Takes the helper out of a driver wait that a direct waiter now covers. Called with m held.
  void kick_helper_locked(std::uint64_t direct_point) {
    if (!helper_in_wait || kicked || helper_target < direct_point) return;
    kicked = true;
    wake_waiters_locked();
  }

  // The timeline_wait counter reached `value`: every submitted point up to it is done, and so is
  // every abandoned point that no later-submitted point is left to cover. Returns the point the
  // core Timeline may be signaled to. Called with m held.
  std::uint64_t seen_locked(std::uint64_t value) {
    in_flight.erase(in_flight.begin(), in_flight.upper_bound(value));
    std::uint64_t v = std::max(seen_value, value);
    while (!abandoned.empty() && *abandoned.begin() <= v + 1) {
      if (*abandoned.begin() == v + 1) ++v;
      abandoned.erase(abandoned.begin());
    }
    seen_value = v;
    return v;
  }

  // Waits for the stream's semaphore to reach `point` or the wake semaphore to pass
  // `wake_seen`; returns the counter value it read then (below `point` on a wake-up), nothing
  // when the timeout passed first.
  Result<std::optional<std::uint64_t>> driver_wait(std::uint64_t point, std::uint64_t wake_seen,
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

  void helper_loop() {
    running_stream = this;
    for (;;) {
      std::uint64_t target = 0, wake_seen = 0;
      {
        std::unique_lock lock(m);
        // A direct waiter (wait()) signals the timeline itself as it returns: the helper stays
        // out of the driver while one waits for a point at or below the helper's next one, and
        // for direct_grace after the last direct wait ended (the fences of points nobody waits
        // for directly are then signaled at most that much later). A lower point is always
        // waited for here: its completion may be what releases the direct waiter's point.
        for (;;) {
          if (stopping) return;
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
          if (covered || recent) {
            cv.wait_until(lock, (covered ? now : last_direct) + direct_grace);
            continue;
          }
          break;
        }
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

  void exporter_loop() {
    running_stream = this;
    for (;;) {
      PendingExport job;
      {
        std::unique_lock lock(m);
        export_cv.wait(lock, [&] { return stopping || (!exports.empty() && exports.front().ready()); });
        if (stopping) return;
        job = std::move(exports.front());
        exports.pop_front();
      }
      export_one(job);
    }
  }

  void export_one(const PendingExport& job) {
    VkSemaphoreGetFdInfoKHR gi{};
    gi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR;
    gi.semaphore = job.semaphore;
    gi.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    int fd = -1;
    if (VkResult r = d.get_semaphore_fd(vk, &gi, &fd); r != VK_SUCCESS) {
      // The point can never be observed: close the timeline rather than hang its waiters. The
      // semaphore's state is unknown, so it is not reused (destroyed with the stream).
      fail(vulkan_error(r, "vkGetSemaphoreFdKHR(SYNC_FD) of completion point " + std::to_string(job.point)));
      return;
    }
    release_binary(job.semaphore);  // the export unsignaled it: free for the next submission
    if (fd < 0) {                   // already signaled
      mark_done(job.point);
      return;
    }
    auto file = SyncFile::adopt(UniqueFd(fd));
    if (!file) {
      fail(file.error());
      return;
    }
    // A driver that finishes the work before exporting (lavapipe) hands out a signaled
    // sync_file: complete it here rather than through a watcher wake-up.
    if (auto now = file->wait(std::chrono::nanoseconds::zero()); !now || *now == WaitStatus::signaled) {
      point_outcome(job.point, now ? Result<void>{} : Result<void>(now.error()));
      return;
    }
    std::weak_ptr<VulkanStreamCore> weak = weak_from_this();
    auto watched = watch.watch_sync_file(std::move(*file), [weak, point = job.point](const Result<void>& outcome) {
      if (auto core = weak.lock()) {
        running_stream = core.get();
        core->point_outcome(point, outcome);
        running_stream = nullptr;
      }
    });
    if (!watched) fail(watched.error());
  }

  void point_outcome(std::uint64_t point, const Result<void>& outcome) {
    if (outcome.ok()) {
      mark_done(point);
      return;
    }
    fail(Error(Errc::fence_error, outcome.error().sys_errno(),
               "the exported sync_file of completion point " + std::to_string(point) +
                   " completed with an error: " + outcome.error().message()));
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
      return;
    }
    // timeline_wait: the GPU never signals it. A later point covers it; if none comes, it is
    // done as soon as every earlier point is.
    std::uint64_t signal = 0;
    {
      std::lock_guard guard(m);
      abandoned.insert(point);
      signal = seen_locked(seen_value);
    }
    if (signal) signal_to(signal);
  }

  void shutdown() {
    {
      std::lock_guard guard(m);
      if (stopping) return;
      stopping = true;
      if (wake_semaphore != VK_NULL_HANDLE) wake_waiters_locked();
    }
    cv.notify_all();
    export_cv.notify_all();
    // From one of the stream's own callbacks, the thread running it is left to end by itself
    // (it holds a reference to this core and only checks `stopping` once the callback returns).
    const bool own_thread = running_stream == this;
    for (std::thread* t : {&helper, &exporter}) {
      if (!t->joinable()) continue;
      if (own_thread && t->get_id() == std::this_thread::get_id()) t->detach();
      else t->join();
    }
    {
      // Direct waiters were woken above; the semaphores must outlive their driver waits.
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return direct_points.empty(); });
    }
    // Destroying the watcher joins its thread and drops the pending watches; from its own
    // callback that join happens on a thread of its own, once the callback has returned.
    if (own_thread && watch.valid()) std::thread([dying = std::move(watch)]() mutable { dying = Watcher(); }).detach();
    else { Watcher dying = std::move(watch); }
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
    : stream_(std::move(o.stream_)), inputs_(std::move(o.inputs_)), info_(o.info_), point_(o.point_), path_(o.path_) {}
VulkanSignal& VulkanSignal::operator=(VulkanSignal&& o) noexcept {
  if (this != &o) {
    if (stream_) stream_->abandon(info_, point_);
    stream_ = std::move(o.stream_);
    inputs_ = std::move(o.inputs_);
    info_ = o.info_;
    point_ = o.point_;
    path_ = o.path_;
  }
  return *this;
}
VulkanSignal::~VulkanSignal() {
  if (stream_) stream_->abandon(info_, point_);
}

void VulkanSignal::depends_on(const VulkanWait& input) {
  if (input.state_ && input.state_->path == VulkanWaitPath::host_signal) inputs_.push_back(input.state_);
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
    core->exporter = std::thread([c = core] { c->exporter_loop(); });
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
    core->helper = std::thread([c = core] { c->helper_loop(); });
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
  std::uint64_t wake_seen = 0;
  bool in_driver = false;
  {
    std::lock_guard guard(c.m);
    // Only a submitted point is waited for in the driver: one prepared but not submitted yet may
    // be abandoned, and the semaphore would never reach it.
    if (!c.stopping && c.in_flight.contains(point)) {
      in_driver = true;
      c.direct_points.insert(point);
      c.kick_helper_locked(point);  // the helper leaves a wait this thread covers
      wake_seen = c.wake_value;
    }
  }
  if (!in_driver) return fence->wait(timeout);
  // A timeout too long to add to now() is as good as forever.
  const bool forever = timeout >= std::chrono::hours(24 * 365 * 100);
  const auto deadline = forever ? MonotonicTime::max() : std::chrono::steady_clock::now() + timeout;
  std::uint64_t signal = 0;
  bool done = false;
  std::optional<Error> failed;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
    const std::uint64_t ns = forever ? UINT64_MAX : static_cast<std::uint64_t>(std::max<std::int64_t>(0, left.count()));
    auto value = c.driver_wait(point, wake_seen, ns);
    std::lock_guard guard(c.m);
    const bool timed_out = value && !*value;
    done = value && *value && **value >= point;
    if (value && *value) signal = c.seen_locked(**value);
    if (done || !value || timed_out || c.stopping) {
      if (!value) failed = std::move(value).error();
      // Leaving before the Timeline is signaled: its callbacks may shut the stream down.
      c.direct_points.erase(c.direct_points.find(point));
      c.direct_seen = true;
      c.last_direct = std::chrono::steady_clock::now();
      c.cv.notify_all();  // an untimed helper starts timing; shutdown() waits for this
      break;
    }
    wake_seen = c.wake_value;  // woken for the helper's sake, or by another direct waiter: again
  }
  if (failed) {
    c.fail(std::move(*failed));
    return fence->wait(std::chrono::nanoseconds::zero());  // the closed timeline's error
  }
  if (signal) c.signal_to(signal);
  if (done) return fence->wait(std::chrono::nanoseconds::zero());
  // Timed out, or shut down (which closes the Timeline): the fence says which.
  return forever ? fence->wait(wait_forever) : fence->wait_until(deadline);
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
  // sync_fd_export: queued for the exporter thread, never exported here (see PendingExport).
  detail::VulkanStreamCore::PendingExport job;
  job.point = point;
  job.semaphore = info.semaphore;
  job.inputs = std::move(signal.inputs_);
  std::erase_if(job.inputs, [](const auto& in) { return in->released.load(std::memory_order_acquire); });
  std::vector<std::shared_ptr<detail::VulkanWaitState>> pending_inputs = job.inputs;
  {
    std::lock_guard guard(c.m);
    if (c.stopping) return fence;  // shutdown() closes the timeline: the fence errors
    c.exports.push_back(std::move(job));
  }
  c.export_cv.notify_one();
  // Each input that releases later wakes the exporter (the listener may run right here).
  std::weak_ptr<detail::VulkanStreamCore> weak = core_;
  for (auto& in : pending_inputs) {
    in->when_released([weak] {
      if (auto core = weak.lock()) {
        std::lock_guard guard(core->m);
        core->export_cv.notify_all();
      }
    });
  }
  return fence;
}

bool VulkanCompletionStream::explains_validation_message(std::string_view message) const {
  auto& c = *core_;
  if (c.path != VulkanCompletionPath::sync_fd_export ||
      message.find("QueueForwardProgress") == std::string_view::npos)
    return false;
  static constexpr std::string_view tag = "VkSemaphore 0x";
  const auto at = message.find(tag);
  if (at == std::string_view::npos) return false;
  std::uint64_t handle = 0;
  const char* first = message.data() + at + tag.size();
  if (std::from_chars(first, message.data() + message.size(), handle, 16).ec != std::errc()) return false;
  std::lock_guard guard(c.m);
  return std::any_of(c.all_binary.begin(), c.all_binary.end(),
                     [&](VkSemaphore s) { return reinterpret_cast<std::uint64_t>(s) == handle; });
}

void VulkanCompletionStream::abandon(VulkanSignal&& signal) {
  if (signal.stream_ != core_) return;
  signal.stream_.reset();
  core_->abandon(signal.info_, signal.point_);
}

}  // namespace syncbridge
