// CPU -> GPU: VulkanBridge and VulkanWait.
#include "syncbridge/vulkan_bridge.h"

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "syncbridge/watcher.h"
#include "vulkan_wait_state.h"

namespace syncbridge {

const char* path_name(VulkanWaitPath path) noexcept {
  switch (path) {
    case VulkanWaitPath::sync_fd_import: return "sync_fd_import";
    case VulkanWaitPath::syncobj_timeline: return "syncobj_timeline";
    case VulkanWaitPath::host_signal: return "host_signal";
  }
  return "?";
}

namespace detail {

// A Watcher (watcher.h) made on first use: no thread for bridges that never need one. Callers
// share ownership of it while they register a watch, so a concurrent stop() never destroys it
// under them; the last holder destroys it (joining its thread).
class LazyWatcher {
 public:
  Result<std::shared_ptr<Watcher>> get() {
    std::lock_guard guard(mutex_);
    if (stopped_) return Error(Errc::invalid_handle, EBADF, "the bridge's watcher is stopped");
    if (!watcher_) {
      auto w = Watcher::create(WatcherMode::own_thread);
      if (!w) return std::move(w).error();
      watcher_ = std::make_shared<Watcher>(std::move(*w));
    }
    return watcher_;
  }
  // Stops the thread once no caller holds the watcher; pending watches are dropped without
  // their callbacks.
  void stop() {
    std::shared_ptr<Watcher> dying;
    {
      std::lock_guard guard(mutex_);
      stopped_ = true;
      dying = std::move(watcher_);
    }
  }

 private:
  std::mutex mutex_;
  bool stopped_ = false;
  std::shared_ptr<Watcher> watcher_;
};

struct VulkanSyncobjState {
  std::shared_ptr<VulkanBridgeCore> core;
  VkSemaphore semaphore = VK_NULL_HANDLE;
  ~VulkanSyncobjState();
};

struct VulkanBridgeCore : std::enable_shared_from_this<VulkanBridgeCore> {
  explicit VulkanBridgeCore(const VulkanDevice& dev) : device(dev), d(dev.dispatch()), vk(dev.device()) {}

  VulkanDevice device;
  VulkanDispatch d;
  VkDevice vk;
  VulkanBridgeOptions options;

  // Exclusive only in shutdown(): callbacks signal under the shared lock, so once shutdown
  // holds it exclusively no callback is touching a semaphore.
  std::shared_mutex rw;
  bool shut_down = false;  // written under rw exclusive
  bool destroyed = false;  // under pool_mutex: semaphores are gone

  std::mutex pool_mutex;
  std::vector<HostSlot*> free_slots;
  std::vector<std::unique_ptr<HostSlot>> slots;
  std::vector<VkSemaphore> free_binary;
  std::vector<VkSemaphore> all_binary;
  std::vector<std::shared_ptr<VulkanWait>> kept;  // retire_after() without a usable fence
  std::vector<VkSemaphore> syncobj_semaphores;    // imported syncobjs still alive

  std::mutex pending_mutex;
  std::unordered_map<VulkanWaitState*, std::shared_ptr<VulkanWaitState>> pending;

  std::atomic<int> syncobj_state{0};  // 0 unknown, 1 confirmed, -1 refused by the driver

  LazyWatcher watch;

  std::atomic<std::uint64_t> waits[3] = {0, 0, 0};
  std::atomic<std::uint64_t> input_errors{0};
  std::atomic<std::uint64_t> signal_failures{0};
  std::atomic<std::uint64_t> import_failures{0};
  std::atomic<std::uint64_t> semaphore_count{0};

  Result<VkSemaphore> create_semaphore(bool timeline) {
    VkSemaphoreTypeCreateInfo type{};
    type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
    type.semaphoreType = timeline ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY;
    VkSemaphoreCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    ci.pNext = &type;
    VkSemaphore s = VK_NULL_HANDLE;
    if (VkResult r = d.create_semaphore(vk, &ci, nullptr, &s); r != VK_SUCCESS) return vulkan_error(r, "vkCreateSemaphore");
    semaphore_count.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  Result<HostSlot*> acquire_slot() {
    {
      std::lock_guard guard(pool_mutex);
      if (!free_slots.empty()) {
        HostSlot* s = free_slots.back();
        free_slots.pop_back();
        return s;
      }
    }
    auto sem = create_semaphore(true);
    if (!sem) return std::move(sem).error();
    auto slot = std::make_unique<HostSlot>();
    slot->semaphore = *sem;
    HostSlot* raw = slot.get();
    std::lock_guard guard(pool_mutex);
    slots.push_back(std::move(slot));
    return raw;
  }

  void release_slot(HostSlot* s) {
    std::lock_guard guard(pool_mutex);
    free_slots.push_back(s);
  }

  Result<VkSemaphore> acquire_binary() {
    {
      std::lock_guard guard(pool_mutex);
      if (!free_binary.empty()) {
        VkSemaphore s = free_binary.back();
        free_binary.pop_back();
        return s;
      }
    }
    auto sem = create_semaphore(false);
    if (!sem) return sem;
    std::lock_guard guard(pool_mutex);
    all_binary.push_back(*sem);
    return sem;
  }

  void release_binary(VkSemaphore s) {
    std::lock_guard guard(pool_mutex);
    if (!destroyed) free_binary.push_back(s);
  }

  void set_error(VulkanWaitState& s, Error e) {
    std::lock_guard guard(s.mutex);
    if (!s.error) s.error = std::move(e);
  }

  // Signals the slot of a claimed host_signal wait. Caller holds rw (shared or exclusive).
  void host_signal(VulkanWaitState& s) {
    VkSemaphoreSignalInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
    si.semaphore = s.slot->semaphore;
    si.value = s.value;
    if (VkResult r = d.signal_semaphore(vk, &si); r != VK_SUCCESS) {
      signal_failures.fetch_add(1, std::memory_order_relaxed);
      set_error(s, vulkan_error(r, "vkSignalSemaphore (host_signal release of value " + std::to_string(s.value) + ")"));
    }
    s.mark_released();
  }

  // The input of a host_signal wait completed: release the GPU wait, record an input error.
  // errno_value: 0 signaled, else the input's positive errno.
  void input_completed(const std::shared_ptr<VulkanWaitState>& s, int errno_value, const char* what) {
    {
      std::shared_lock lock(rw);
      if (shut_down) return;  // shutdown() released it (it claims under the exclusive lock)
      if (s->claimed.exchange(true, std::memory_order_acq_rel)) return;
      if (errno_value != 0) {
        input_errors.fetch_add(1, std::memory_order_relaxed);
        set_error(*s, Error(Errc::fence_error, errno_value,
                            std::string(what) + " completed with an error; the GPU wait was released anyway"));
      }
      host_signal(*s);
    }
    release_slot(s->slot);
    std::lock_guard guard(pending_mutex);
    pending.erase(s.get());
  }

  // A new host_signal wait; the caller arranges for input_completed() to be called.
  Result<std::shared_ptr<VulkanWaitState>> new_host_wait() {
    auto slot = acquire_slot();
    if (!slot) return std::move(slot).error();
    auto s = std::make_shared<VulkanWaitState>();
    s->core = shared_from_this();
    s->path = VulkanWaitPath::host_signal;
    s->slot = *slot;
    s->value = ++s->slot->value;  // the slot is ours alone until released
    {
      // Registered under the shared lock: a concurrent shutdown() either sees this wait (and
      // releases it) or has already refused it here.
      std::shared_lock lock(rw);
      if (shut_down) {
        release_slot(s->slot);
        return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
      }
      std::lock_guard guard(pending_mutex);
      pending.emplace(s.get(), s);
    }
    return s;
  }

  VulkanWait make_wait(std::shared_ptr<VulkanWaitState> s, VkSemaphore sem, std::uint64_t value) {
    VulkanWait w;
    w.path_ = s->path;
    w.info_.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO;
    w.info_.semaphore = sem;
    w.info_.value = value;
    w.info_.stageMask = options.wait_stage_mask;
    w.info_.deviceIndex = 0;
    w.state_ = std::move(s);
    waits[static_cast<int>(w.path_)].fetch_add(1, std::memory_order_relaxed);
    return w;
  }

  // host_signal for a kernel object: `arm` registers input_completed() with the watcher.
  template <class Arm>
  Result<VulkanWait> host_wait_via_watcher(Arm&& arm) {
    auto watcher = watch.get();
    if (!watcher) return std::move(watcher).error();
    auto s = new_host_wait();
    if (!s) return std::move(s).error();
    std::shared_ptr<VulkanWaitState> state = *s;
    auto self = shared_from_this();
    WatchCallback cb = [self, state](const Result<void>& outcome) {
      self->input_completed(state, outcome.ok() ? 0 : (outcome.error().sys_errno() ? outcome.error().sys_errno() : EIO),
                            "the kernel fence");
    };
    auto watched = arm(**watcher, std::move(cb));
    if (!watched) {
      input_completed(state, 0, "");  // never leave a slot half-used: release it
      return std::move(watched).error();
    }
    const VkSemaphore sem = state->slot->semaphore;
    const std::uint64_t value = state->value;
    return make_wait(std::move(state), sem, value);
  }

  bool can_import_sync_fd() const {
    return options.allow_sync_fd_import && device.has(VulkanCaps::sync_fd_semaphore_import);
  }

  // A TEMPORARY SYNC_FD import of `fd` into a pooled binary semaphore: sync_fd_import. The
  // driver owns the fd only when the import succeeds; otherwise `fd` closes it here. An empty
  // VulkanWait when the driver refused this fd (the caller falls back to host_signal); an
  // error only for what no fallback survives (a lost device, no memory).
  Result<VulkanWait> import_sync_fd(UniqueFd fd) {
    auto sem = acquire_binary();
    if (!sem) return std::move(sem).error();
    VkImportSemaphoreFdInfoKHR ii{};
    ii.sType = VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR;
    ii.semaphore = *sem;
    ii.flags = VK_SEMAPHORE_IMPORT_TEMPORARY_BIT;
    ii.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    ii.fd = fd.get();
    const VkResult r = d.import_semaphore_fd(vk, &ii);
    if (r == VK_SUCCESS) {
      (void)fd.release();  // the driver owns it now
      auto state = std::make_shared<VulkanWaitState>();
      state->core = shared_from_this();
      state->path = VulkanWaitPath::sync_fd_import;
      state->binary = *sem;
      state->released.store(true);  // the kernel fence itself gates the GPU
      return make_wait(std::move(state), *sem, 0);
    }
    release_binary(*sem);  // left untouched by the failed import
    import_failures.fetch_add(1, std::memory_order_relaxed);
    if (r == VK_ERROR_DEVICE_LOST || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      return vulkan_error(r, "vkImportSemaphoreFdKHR(SYNC_FD, TEMPORARY)");
    return VulkanWait();
  }

  void shutdown() {
    std::vector<std::shared_ptr<VulkanWaitState>> left;
    {
      std::unique_lock lock(rw);
      if (shut_down) return;
      shut_down = true;
      {
        std::lock_guard guard(pending_mutex);
        for (auto& [raw, s] : pending) left.push_back(s);
        pending.clear();
      }
      for (auto& s : left) {
        if (s->claimed.exchange(true)) continue;
        set_error(*s, Error(Errc::timeline_closed, ENOENT,
                            "the bridge was shut down before the input completed; the GPU wait was released"));
        host_signal(*s);
      }
    }
    watch.stop();  // drops the pending watches (released above) and joins its thread
  }

  void destroy() {
    shutdown();
    std::vector<std::shared_ptr<VulkanWait>> drop;
    {
      std::lock_guard guard(pool_mutex);
      drop.swap(kept);
    }
    drop.clear();  // their states release binary semaphores into the pool; destroyed below
    std::lock_guard guard(pool_mutex);
    if (destroyed) return;
    destroyed = true;
    for (auto& slot : slots) d.destroy_semaphore(vk, slot->semaphore, nullptr);
    for (VkSemaphore s : all_binary) d.destroy_semaphore(vk, s, nullptr);
    for (VkSemaphore s : syncobj_semaphores) d.destroy_semaphore(vk, s, nullptr);
    syncobj_semaphores.clear();
    slots.clear();
    free_slots.clear();
    all_binary.clear();
    free_binary.clear();
    semaphore_count.store(0);
  }
};

VulkanWaitState::~VulkanWaitState() {
  if (binary != VK_NULL_HANDLE && core) core->release_binary(binary);
}

VulkanSyncobjState::~VulkanSyncobjState() {
  std::lock_guard guard(core->pool_mutex);
  if (core->destroyed) return;  // destroyed with the bridge
  std::erase(core->syncobj_semaphores, semaphore);
  core->d.destroy_semaphore(core->vk, semaphore, nullptr);
  core->semaphore_count.fetch_sub(1);
}

}  // namespace detail

// ---- VulkanWait

VulkanWait::VulkanWait() noexcept = default;
VulkanWait::VulkanWait(VulkanWait&& o) noexcept
    : state_(std::move(o.state_)), info_(std::exchange(o.info_, VkSemaphoreSubmitInfo{})), path_(o.path_) {}
VulkanWait& VulkanWait::operator=(VulkanWait&& o) noexcept {
  if (this != &o) {
    state_ = std::move(o.state_);
    info_ = std::exchange(o.info_, VkSemaphoreSubmitInfo{});
    path_ = o.path_;
  }
  return *this;
}
VulkanWait::~VulkanWait() = default;

Result<void> VulkanWait::status() const {
  if (!state_) return Error(Errc::invalid_handle, EBADF, "empty VulkanWait");
  std::lock_guard guard(state_->mutex);
  if (state_->error) return *state_->error;
  return {};
}

bool VulkanWait::released() const noexcept {
  if (!state_) return false;
  if (state_->path != VulkanWaitPath::host_signal) return true;
  return state_->released.load(std::memory_order_acquire);
}

// ---- VulkanBridge

Result<std::unique_ptr<VulkanBridge>> VulkanBridge::create(const VulkanDevice& device, VulkanBridgeOptions options) {
  if (!device.has(VulkanCaps::timeline_semaphore))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "VulkanBridge needs timeline_semaphore on " + device.report().device_name);
  std::unique_ptr<VulkanBridge> b(new VulkanBridge);
  b->core_ = std::make_shared<detail::VulkanBridgeCore>(device);
  b->core_->options = options;
  return b;
}

VulkanBridge::~VulkanBridge() {
  if (core_) core_->destroy();
}

void VulkanBridge::shutdown() {
  if (core_) core_->shutdown();
}

const VulkanDevice& VulkanBridge::device() const noexcept { return core_->device; }

VulkanCaps VulkanBridge::caps() const noexcept {
  VulkanCaps c = core_->device.caps();
  if (core_->syncobj_state.load(std::memory_order_relaxed) == 1) c |= VulkanCaps::opaque_fd_is_syncobj;
  return c;
}

VulkanBridge::Stats VulkanBridge::stats() const {
  Stats s;
  for (int i = 0; i < 3; ++i) s.waits[i] = core_->waits[i].load();
  s.input_errors = core_->input_errors.load();
  s.signal_failures = core_->signal_failures.load();
  s.import_failures = core_->import_failures.load();
  s.semaphores = core_->semaphore_count.load();
  return s;
}

Result<VulkanWait> VulkanBridge::wait_for(const Fence& fence) {
  auto& c = *core_;
  if (!fence.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty fence");
  {
    std::shared_lock lock(c.rw);
    if (c.shut_down) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
  }
  auto s = c.new_host_wait();
  if (!s) return std::move(s).error();
  std::shared_ptr<detail::VulkanWaitState> state = *s;
  const VkSemaphore sem = state->slot->semaphore;
  const std::uint64_t value = state->value;
  // The callback holds the state (not the bridge's registration): detached, it runs once, even
  // after the VulkanWait is gone; after shutdown() it does nothing.
  auto reg = fence.on_complete([state](const Fence& f) {
    const int e = f.status() == FenceStatus::error ? (f.error_errno() ? f.error_errno() : EIO) : 0;
    state->core->input_completed(state, e, "the input fence");
  });
  if (!reg) {
    c.input_completed(state, 0, "");
    return std::move(reg).error();
  }
  reg->detach();
  return c.make_wait(std::move(state), sem, value);
}

Result<VulkanWait> VulkanBridge::wait_for(const SyncFile& file) {
  auto& c = *core_;
  if (!file.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty SyncFile");
  {
    std::shared_lock lock(c.rw);
    if (c.shut_down) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
  }
  if (c.can_import_sync_fd()) {
    auto dup = UniqueFd::dup_of(file.fd());
    if (!dup) return std::move(dup).error();
    auto imported = c.import_sync_fd(std::move(*dup));
    if (!imported) return std::move(imported).error();
    if (imported->valid()) return std::move(*imported);
    // Refused by the driver: host_signal below still works.
  }
  auto dup = file.dup();
  if (!dup) return std::move(dup).error();
  return c.host_wait_via_watcher([&](Watcher& w, WatchCallback cb) {
    return w.watch_sync_file(std::move(*dup), std::move(cb));
  });
}

Result<VulkanWait> VulkanBridge::wait_for(const TimelineSyncobj& syncobj, std::uint64_t point) {
  auto& c = *core_;
  if (!syncobj.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty TimelineSyncobj");
  {
    std::shared_lock lock(c.rw);
    if (c.shut_down) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
  }
  if (c.can_import_sync_fd()) {
    // A point that has materialized (a fence is attached) goes native: its sync_file, through a
    // temporary binary syncobj, imported as SYNC_FD. A point not submitted yet cannot be a
    // sync_file (EINVAL): the watcher releases it from the host once it signals.
    auto file = syncobj.export_sync_file(point);
    if (file) {
      auto imported = c.import_sync_fd(std::move(*file).release());
      if (!imported) return std::move(imported).error();
      if (imported->valid()) return std::move(*imported);
    } else if (file.error().code() != Errc::invalid_argument) {
      return std::move(file).error();
    }
  }
  return c.host_wait_via_watcher([&](Watcher& w, WatchCallback cb) {
    return w.watch_syncobj(syncobj, point, std::move(cb));
  });
}

Result<VulkanSyncobjTimeline> VulkanBridge::import_syncobj(UniqueFd syncobj_fd) {
  auto& c = *core_;
  if (!syncobj_fd) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::import_syncobj: no syncobj fd");
  {
    std::shared_lock lock(c.rw);
    if (c.shut_down) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::import_syncobj after shutdown()");
  }
  if (!c.options.allow_syncobj)
    return Error(Errc::unsupported, EOPNOTSUPP, "syncobj_timeline is turned off (VulkanBridgeOptions::allow_syncobj)");
  if (!c.device.has(VulkanCaps::opaque_fd_maybe_syncobj))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 std::string("no syncobj_timeline on ") + c.device.report().device_name + " (driver " +
                     vulkan_driver_id_name(c.device.report().driver_id) + "): " +
                     (c.device.has(VulkanCaps::opaque_fd_timeline_import)
                          ? "OPAQUE_FD is not known to be a DRM syncobj on this driver"
                          : "no OPAQUE_FD timeline semaphore import") +
                     "; pass a sync_file of the point instead");
  if (c.syncobj_state.load() < 0)
    return Error(Errc::unsupported, EOPNOTSUPP, "the driver refused a syncobj fd as OPAQUE_FD earlier");
  auto created = c.create_semaphore(true);
  if (!created) return std::move(created).error();
  VkImportSemaphoreFdInfoKHR ii{};
  ii.sType = VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR;
  ii.semaphore = *created;
  ii.flags = 0;  // permanent: the semaphore now is the syncobj
  ii.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT;
  ii.fd = syncobj_fd.get();
  const VkResult r = c.d.import_semaphore_fd(c.vk, &ii);
  if (r != VK_SUCCESS) {
    // syncobj_fd still owns the fd and closes it on return.
    c.d.destroy_semaphore(c.vk, *created, nullptr);
    c.semaphore_count.fetch_sub(1);
    c.syncobj_state.store(-1);
    return vulkan_error(r, "vkImportSemaphoreFdKHR(OPAQUE_FD of a DRM syncobj)");
  }
  (void)syncobj_fd.release();  // the driver owns it now
  c.syncobj_state.store(1);
  {
    std::lock_guard guard(c.pool_mutex);
    c.syncobj_semaphores.push_back(*created);
  }
  VulkanSyncobjTimeline t;
  t.state_ = std::make_shared<detail::VulkanSyncobjState>();
  t.state_->core = core_;
  t.state_->semaphore = *created;
  return t;
}

Result<VulkanWait> VulkanBridge::wait_for(const VulkanSyncobjTimeline& syncobj, std::uint64_t point) {
  auto& c = *core_;
  if (!syncobj.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty VulkanSyncobjTimeline");
  {
    std::shared_lock lock(c.rw);
    if (c.shut_down) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
  }
  auto state = std::make_shared<detail::VulkanWaitState>();
  state->core = core_;
  state->path = VulkanWaitPath::syncobj_timeline;
  state->syncobj = syncobj.state_;
  state->released.store(true);
  return c.make_wait(std::move(state), syncobj.state_->semaphore, point);
}

VkSemaphore VulkanSyncobjTimeline::semaphore() const noexcept {
  return state_ ? state_->semaphore : VK_NULL_HANDLE;
}

void VulkanBridge::retire_after(VulkanWait&& wait, const Fence& completion) {
  auto holder = std::make_shared<VulkanWait>(std::move(wait));
  if (completion.valid()) {
    auto reg = completion.on_complete([holder](const Fence&) { *holder = VulkanWait(); });
    if (reg) {
      reg->detach();
      return;
    }
  }
  // Nothing will ever say the GPU is done: keep the wait until the bridge is destroyed rather
  // than recycle a semaphore the GPU may still use.
  std::lock_guard guard(core_->pool_mutex);
  core_->kept.push_back(std::move(holder));
}

}  // namespace syncbridge
