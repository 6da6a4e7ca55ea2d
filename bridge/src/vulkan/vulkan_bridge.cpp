// CPU -> GPU: VulkanBridge and VulkanWait.
#include "syncbridge/vulkan_bridge.h"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "syncbridge/watcher.h"
#include "vulkan/vulkan_semaphore_pool.h"
#include "vulkan/vulkan_wait_state.h"
#include "vulkan/vulkan_watcher_slot.h"

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

struct VulkanSyncobjState {
  std::shared_ptr<VulkanBridgeCore> core;
  VkSemaphore semaphore = VK_NULL_HANDLE;
  ~VulkanSyncobjState();
};

// The bridge's state, shared by the VulkanBridge, every wait state and every callback: a
// callback that runs late finds it alive, and shut down.
struct VulkanBridgeCore : std::enable_shared_from_this<VulkanBridgeCore> {
  VulkanBridgeCore(const VulkanDevice& dev, VulkanBridgeOptions opts)
      : device(dev),
        d(dev.dispatch()),
        vk(dev.device()),
        options(std::move(opts)),
        host_slots(d, vk, {.timeline = true}),
        binaries(d, vk, {.timeline = false}),
        watch(options.watcher) {}

  const VulkanDevice device;
  const VulkanDispatch d;
  const VkDevice vk;
  const VulkanBridgeOptions options;

  // Exclusive only in shutdown(): callbacks signal under the shared lock, so once shutdown
  // holds it exclusively no callback is touching a semaphore.
  std::shared_mutex rw;
  bool shut_down = false;  // written under rw exclusive

  SemaphorePool host_slots;  // timeline semaphores of host_signal waits (value: the last handed out)
  SemaphorePool binaries;    // binary semaphores of sync_fd_import waits
  std::mutex mutex;          // guards the three below
  bool destroyed = false;    // the semaphores are gone
  std::vector<std::shared_ptr<VulkanWait>> kept;  // retire_after() without a usable fence
  std::vector<VkSemaphore> syncobj_semaphores;    // imported syncobjs still alive

  std::mutex pending_mutex;
  std::unordered_map<VulkanWaitState*, std::shared_ptr<VulkanWaitState>> pending;  // host_signal

  std::atomic<int> syncobj_state{0};  // 0 unknown, 1 confirmed, -1 refused by the driver
  WatcherSlot watch;

  std::atomic<std::uint64_t> waits[3] = {0, 0, 0};
  std::atomic<std::uint64_t> input_errors{0};
  std::atomic<std::uint64_t> signal_failures{0};
  std::atomic<std::uint64_t> import_failures{0};

  // Errc::invalid_handle "<what> after shutdown()" once shut down.
  Result<void> check_open(const char* what);
  void set_error(VulkanWaitState& s, Error e);
  void host_signal(VulkanWaitState& s);
  void input_completed(const std::shared_ptr<VulkanWaitState>& s, int errno_value, const char* what);
  Result<std::shared_ptr<VulkanWaitState>> new_host_wait();
  VulkanWait make_wait(std::shared_ptr<VulkanWaitState> s, VkSemaphore sem, std::uint64_t value);
  Result<VulkanWait> host_wait_via_watcher(const WatcherSlot::Arm& arm);
  bool can_import_sync_fd() const {
    return options.allow_sync_fd_import && device.has(VulkanCaps::sync_fd_semaphore_import);
  }
  Result<VulkanWait> import_sync_fd(SyncFile& file);
  Result<void> can_import_syncobj() const;
  Result<VkSemaphore> import_syncobj(UniqueFd fd);
  void shutdown();
  void destroy();
};

Result<void> VulkanBridgeCore::check_open(const char* what) {
  std::shared_lock lock(rw);
  if (shut_down) return Error(Errc::invalid_handle, EBADF, std::string(what) + " after shutdown()");
  return {};
}

void VulkanBridgeCore::set_error(VulkanWaitState& s, Error e) {
  std::lock_guard guard(s.mutex);
  if (!s.error) s.error = std::move(e);
}

// Signals the slot of a claimed host_signal wait. Caller holds rw (shared or exclusive).
void VulkanBridgeCore::host_signal(VulkanWaitState& s) {
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
void VulkanBridgeCore::input_completed(const std::shared_ptr<VulkanWaitState>& s, int errno_value, const char* what) {
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
  host_slots.release(s->slot);
  std::lock_guard guard(pending_mutex);
  pending.erase(s.get());
}

// A new host_signal wait; the caller arranges for input_completed() to be called.
Result<std::shared_ptr<VulkanWaitState>> VulkanBridgeCore::new_host_wait() {
  auto slot = host_slots.acquire();
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
      host_slots.release(s->slot);
      return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for after shutdown()");
    }
    std::lock_guard guard(pending_mutex);
    pending.emplace(s.get(), s);
  }
  return s;
}

VulkanWait VulkanBridgeCore::make_wait(std::shared_ptr<VulkanWaitState> s, VkSemaphore sem, std::uint64_t value) {
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

// host_signal for a kernel object: `arm` registers the callback (input_completed) with the watcher.
Result<VulkanWait> VulkanBridgeCore::host_wait_via_watcher(const WatcherSlot::Arm& arm) {
  if (auto started = watch.start(); !started) return std::move(started).error();
  auto s = new_host_wait();
  if (!s) return std::move(s).error();
  std::shared_ptr<VulkanWaitState> state = *s;
  const VkSemaphore sem = state->slot->semaphore;
  const std::uint64_t value = state->value;
  auto watched = watch.watch(arm, [self = shared_from_this(), state](const Result<void>& outcome) {
    const int e = outcome.ok() ? 0 : (outcome.error().sys_errno() ? outcome.error().sys_errno() : EIO);
    self->input_completed(state, e, "the kernel fence");
  });
  if (!watched) {
    input_completed(state, 0, "");  // never leave a slot half-used: release it
    return std::move(watched).error();
  }
  return make_wait(std::move(state), sem, value);
}

// A TEMPORARY SYNC_FD import of the file's fd into a pooled binary semaphore: sync_fd_import.
// The driver owns the fd only when the import succeeds (then `file` is emptied); otherwise it
// stays the caller's. An empty VulkanWait when the driver refused this fd (the caller falls
// back to host_signal); an error only for what no fallback survives (a lost device, no memory).
Result<VulkanWait> VulkanBridgeCore::import_sync_fd(SyncFile& file) {
  auto sem = binaries.acquire();
  if (!sem) return std::move(sem).error();
  VkImportSemaphoreFdInfoKHR ii{};
  ii.sType = VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR;
  ii.semaphore = (*sem)->semaphore;
  ii.flags = VK_SEMAPHORE_IMPORT_TEMPORARY_BIT;
  ii.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
  ii.fd = file.fd();
  const VkResult r = d.import_semaphore_fd(vk, &ii);
  if (r == VK_SUCCESS) {
    (void)std::move(file).release().release();  // the driver owns it now
    auto state = std::make_shared<VulkanWaitState>();
    state->core = shared_from_this();
    state->path = VulkanWaitPath::sync_fd_import;
    state->binary = *sem;
    state->released.store(true);  // the kernel fence itself gates the GPU
    return make_wait(std::move(state), (*sem)->semaphore, 0);
  }
  binaries.release(*sem);  // left untouched by the failed import
  import_failures.fetch_add(1, std::memory_order_relaxed);
  if (r == VK_ERROR_DEVICE_LOST || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    return vulkan_error(r, "vkImportSemaphoreFdKHR(SYNC_FD, TEMPORARY)");
  return VulkanWait();
}

// Whether import_syncobj may try: options, driver, and no refusal so far.
Result<void> VulkanBridgeCore::can_import_syncobj() const {
  if (!options.allow_syncobj)
    return Error(Errc::unsupported, EOPNOTSUPP, "syncobj_timeline is turned off (VulkanBridgeOptions::allow_syncobj)");
  if (!device.has(VulkanCaps::opaque_fd_maybe_syncobj))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 std::string("no syncobj_timeline on ") + device.report().device_name + " (driver " +
                     vulkan_driver_id_name(device.report().driver_id) + "): " +
                     (device.has(VulkanCaps::opaque_fd_timeline_import)
                          ? "OPAQUE_FD is not known to be a DRM syncobj on this driver"
                          : "no OPAQUE_FD timeline semaphore import") +
                     "; pass a sync_file of the point instead");
  if (syncobj_state.load() < 0)
    return Error(Errc::unsupported, EOPNOTSUPP, "the driver refused a syncobj fd as OPAQUE_FD earlier");
  return {};
}

// A permanent OPAQUE_FD import into a new timeline semaphore, which then is the syncobj.
Result<VkSemaphore> VulkanBridgeCore::import_syncobj(UniqueFd fd) {
  auto created = create_semaphore(d, vk, {.timeline = true});
  if (!created) return std::move(created).error();
  VkImportSemaphoreFdInfoKHR ii{};
  ii.sType = VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR;
  ii.semaphore = *created;
  ii.flags = 0;  // permanent: the semaphore now is the syncobj
  ii.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT;
  ii.fd = fd.get();
  const VkResult r = d.import_semaphore_fd(vk, &ii);
  if (r != VK_SUCCESS) {
    // fd still owns the fd and closes it on return.
    d.destroy_semaphore(vk, *created, nullptr);
    syncobj_state.store(-1);
    return vulkan_error(r, "vkImportSemaphoreFdKHR(OPAQUE_FD of a DRM syncobj)");
  }
  (void)fd.release();  // the driver owns it now
  syncobj_state.store(1);
  std::lock_guard guard(mutex);
  syncobj_semaphores.push_back(*created);
  return created;
}

void VulkanBridgeCore::shutdown() {
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
  watch.stop();  // ends the pending watches (released above) without their callbacks
}

void VulkanBridgeCore::destroy() {
  shutdown();
  std::vector<std::shared_ptr<VulkanWait>> drop;
  {
    std::lock_guard guard(mutex);
    drop.swap(kept);
  }
  drop.clear();  // their states release binary semaphores into the pool; destroyed below
  host_slots.destroy_all();
  binaries.destroy_all();
  std::lock_guard guard(mutex);
  if (destroyed) return;
  destroyed = true;
  for (VkSemaphore s : syncobj_semaphores) d.destroy_semaphore(vk, s, nullptr);
  syncobj_semaphores.clear();
}

VulkanWaitState::~VulkanWaitState() {
  if (binary != nullptr && core) core->binaries.release(binary);
}

VulkanSyncobjState::~VulkanSyncobjState() {
  std::lock_guard guard(core->mutex);
  if (core->destroyed) return;  // destroyed with the bridge
  std::erase(core->syncobj_semaphores, semaphore);
  core->d.destroy_semaphore(core->vk, semaphore, nullptr);
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

VkSemaphore VulkanSyncobjTimeline::semaphore() const noexcept { return state_ ? state_->semaphore : VK_NULL_HANDLE; }

// ---- VulkanBridge

Result<std::unique_ptr<VulkanBridge>> VulkanBridge::create(const VulkanDevice& device, VulkanBridgeOptions options) {
  if (!device.has(VulkanCaps::timeline_semaphore))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "VulkanBridge needs timeline_semaphore on " + device.report().device_name);
  std::unique_ptr<VulkanBridge> b(new VulkanBridge);
  b->core_ = std::make_shared<detail::VulkanBridgeCore>(device, std::move(options));
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
  std::lock_guard guard(core_->mutex);
  s.semaphores = core_->host_slots.size() + core_->binaries.size() + core_->syncobj_semaphores.size();
  return s;
}

Result<VulkanWait> VulkanBridge::wait_for(const Fence& fence) {
  auto& c = *core_;
  if (!fence.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty fence");
  if (auto open = c.check_open("VulkanBridge::wait_for"); !open) return std::move(open).error();
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

Result<VulkanWait> VulkanBridge::wait_for(const SyncFile& sync_file) {
  if (!sync_file.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty SyncFile");
  auto dup = sync_file.dup();
  if (!dup) return std::move(dup).error();
  return wait_for(std::move(*dup));
}

Result<VulkanWait> VulkanBridge::wait_for(SyncFile&& sync_file) {
  auto& c = *core_;
  SyncFile file = std::move(sync_file);  // consumed, whatever happens
  if (!file.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty SyncFile");
  if (auto open = c.check_open("VulkanBridge::wait_for"); !open) return std::move(open).error();
  if (c.can_import_sync_fd()) {
    auto imported = c.import_sync_fd(file);
    if (!imported) return std::move(imported).error();
    if (imported->valid()) return std::move(*imported);
    // Refused by the driver: host_signal below still works.
  }
  return c.host_wait_via_watcher(
      [&file](Watcher& w, WatchCallback cb) { return w.watch_sync_file(std::move(file), std::move(cb)); });
}

Result<VulkanWait> VulkanBridge::wait_for(const TimelineSyncobj& syncobj, std::uint64_t point) {
  auto& c = *core_;
  if (!syncobj.valid()) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty TimelineSyncobj");
  if (auto open = c.check_open("VulkanBridge::wait_for"); !open) return std::move(open).error();
  if (c.can_import_sync_fd()) {
    // A point that has materialized (a fence is attached) goes native: its sync_file, through a
    // temporary binary syncobj, imported as SYNC_FD. A point not submitted yet cannot be a
    // sync_file (EINVAL): the watcher releases it from the host once it signals.
    auto file = syncobj.export_sync_file(point);
    if (file) {
      auto imported = c.import_sync_fd(*file);
      if (!imported) return std::move(imported).error();
      if (imported->valid()) return std::move(*imported);
    } else if (file.error().code() != Errc::invalid_argument) {
      return std::move(file).error();
    }
  }
  return c.host_wait_via_watcher(
      [&](Watcher& w, WatchCallback cb) { return w.watch_syncobj(syncobj, point, std::move(cb)); });
}

Result<VulkanSyncobjTimeline> VulkanBridge::import_syncobj(UniqueFd syncobj_fd) {
  auto& c = *core_;
  if (!syncobj_fd) return Error(Errc::invalid_handle, EBADF, "VulkanBridge::import_syncobj: no syncobj fd");
  if (auto open = c.check_open("VulkanBridge::import_syncobj"); !open) return std::move(open).error();
  if (auto can = c.can_import_syncobj(); !can) return std::move(can).error();
  auto semaphore = c.import_syncobj(std::move(syncobj_fd));
  if (!semaphore) return std::move(semaphore).error();
  VulkanSyncobjTimeline t;
  t.state_ = std::make_shared<detail::VulkanSyncobjState>();
  t.state_->core = core_;
  t.state_->semaphore = *semaphore;
  return t;
}

Result<VulkanWait> VulkanBridge::wait_for(const VulkanSyncobjTimeline& syncobj, std::uint64_t point) {
  auto& c = *core_;
  if (!syncobj.valid())
    return Error(Errc::invalid_handle, EBADF, "VulkanBridge::wait_for: empty VulkanSyncobjTimeline");
  if (auto open = c.check_open("VulkanBridge::wait_for"); !open) return std::move(open).error();
  auto state = std::make_shared<detail::VulkanWaitState>();
  state->core = core_;
  state->path = VulkanWaitPath::syncobj_timeline;
  state->syncobj = syncobj.state_;
  state->released.store(true);
  return c.make_wait(std::move(state), syncobj.state_->semaphore, point);
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
  std::lock_guard guard(core_->mutex);
  core_->kept.push_back(std::move(holder));
}

}  // namespace syncbridge
