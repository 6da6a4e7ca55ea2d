#include "bridge_sync.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace gpu_pipeline {

using namespace syncbridge;

// ---- LiveStreams

bool LiveStreams::explains(const char* text) {
  std::lock_guard guard(mutex_);
  return std::any_of(streams_.begin(), streams_.end(),
                     [&](const VulkanCompletionStream* s) { return s->explains_validation_message(text); });
}
void LiveStreams::add(const VulkanCompletionStream* s) {
  std::lock_guard guard(mutex_);
  streams_.push_back(s);
}
void LiveStreams::remove(const VulkanCompletionStream* s) {
  std::lock_guard guard(mutex_);
  std::erase(streams_, s);
}
LiveStreams& live_streams() {
  static LiveStreams live;
  return live;
}

// ---- BaselineSync

namespace {
VkSemaphoreSubmitInfo info(VkSemaphore s, std::uint64_t v) {
  return {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO,
          .semaphore = s,
          .value = v,
          .stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT};
}
}  // namespace

BaselineSync::BaselineSync(ComputeJob& job) : job_(job) {
  in_ = job.make_timeline_semaphore();
  done_ = job.make_timeline_semaphore();
}

Result<void> BaselineSync::prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                                   std::vector<VkSemaphoreSubmitInfo>& signals) {
  waits.push_back(info(in_, point));
  signals.push_back(info(done_, point));
  return {};
}

Result<void> BaselineSync::signal(std::uint64_t point) {
  if (VkResult r = job_.host_signal(in_, point); r != VK_SUCCESS) return vulkan_error(r, "vkSignalSemaphore");
  signaled_.store(point);
  return {};
}

void BaselineSync::release_all(std::uint64_t last_point) {
  if (signaled_.load() < last_point) (void)job_.host_signal(in_, last_point);
}

Result<WaitStatus> BaselineSync::wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) {
  const auto ns = timeout == wait_forever ? UINT64_MAX : static_cast<std::uint64_t>(timeout.count());
  const VkResult r = job_.host_wait(done_, point, ns);
  if (r == VK_TIMEOUT) return WaitStatus::timed_out;
  if (r != VK_SUCCESS) return vulkan_error(r, "vkWaitSemaphores");
  return WaitStatus::signaled;
}

// ---- BridgeSync

Result<std::unique_ptr<BridgeSync>> BridgeSync::create(const VulkanDevice& dev, KernelTimeline kernel,
                                                       std::uint32_t frames) {
  std::unique_ptr<BridgeSync> s(new BridgeSync);
  s->kernel_ = std::move(kernel);
  s->syncobj_ = dynamic_cast<const SyncobjExporter*>(s->kernel_.exporter.get());
  auto bridge = VulkanBridge::create(dev);
  if (!bridge) return std::move(bridge).error();
  s->bridge_ = std::move(*bridge);
  auto stream = VulkanCompletionStream::create(dev, {.name = "gpu-pipeline-done"});
  if (!stream) return std::move(stream).error();
  s->stream_ = std::move(*stream);
  live_streams().add(s->stream_.get());
  if (!s->kernel_.exporter) {
    auto t = Timeline::create({.name = "gpu-pipeline-input"});
    if (!t) return std::move(t).error();
    s->input_ = std::move(*t);
  }
  if (auto imported = s->import_syncobj(); !imported) return std::move(imported).error();
  s->frames_.resize(frames + 1);
  return s;
}

// The syncobj backend, where the driver's OPAQUE_FD semaphores are syncobjs: the GPU waits on
// the syncobj itself. A refused import is a note, and the watcher's host_signal path instead.
Result<void> BridgeSync::import_syncobj() {
  if (!syncobj_ || bridge_->caps() == VulkanCaps::none || !has(bridge_->caps(), VulkanCaps::opaque_fd_maybe_syncobj))
    return {};
  auto fd = syncobj_->export_syncobj_fd();
  if (!fd) return std::move(fd).error();
  auto imported = bridge_->import_syncobj(std::move(*fd));
  if (imported)
    imported_ = std::move(*imported);
  else
    notes_.push_back("OPAQUE_FD import of the syncobj failed (" + imported.error().message() +
                     "): waiting through the watcher instead");
  return {};
}

Result<VulkanWait> BridgeSync::wait_for_input(std::uint64_t point) {
  if (imported_.valid()) return bridge_->wait_for(imported_, point);
  if (syncobj_) return bridge_->wait_for(syncobj_->syncobj(), point);
  if (kernel_.exporter) {
    auto file = kernel_.exporter->sync_file_at(point);  // sw_sync: a pending kernel fence
    if (!file) return std::move(file).error();
    return bridge_->wait_for(*file);
  }
  auto fence = input_.fence_at(point);
  if (!fence) return std::move(fence).error();
  return bridge_->wait_for(*fence);
}

Result<void> BridgeSync::prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                                 std::vector<VkSemaphoreSubmitInfo>& signals) {
  Frame& f = frames_[point];
  auto w = wait_for_input(point);
  if (!w) return std::move(w).error();
  f.wait = std::move(*w);
  wait_paths_.fetch_or(1u << static_cast<unsigned>(f.wait.path()), std::memory_order_relaxed);
  auto sig = stream_->prepare();
  if (!sig) return std::move(sig).error();
  f.signal = std::move(*sig);
  f.signal.depends_on(f.wait);  // a SYNC_FD export waits for this input's release
  waits.push_back(f.wait.submit_info());
  signals.push_back(f.signal.submit_info());
  return {};
}

Result<void> BridgeSync::submitted(std::uint64_t point) {
  Frame& f = frames_[point];
  auto done = stream_->submitted(std::move(f.signal));
  if (!done) return std::move(done).error();
  f.done = std::move(*done);
  return {};
}

// The producer, once for every backend: the exporter's signal_to (kernel side, then core), or
// the core Timeline's.
Result<void> BridgeSync::signal(std::uint64_t point) {
  return kernel_.exporter ? kernel_.exporter->signal_to(point) : input_.signal_to(point);
}

Result<WaitStatus> BridgeSync::wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) {
  // The stream's own wait: on timeline_wait it waits on the semaphore on this thread, which
  // saves the helper thread's wake-up; frames_[point].done is signaled at the same moment.
  return stream_->wait(point, timeout);
}

void BridgeSync::retire(std::uint64_t point) {
  Frame& f = frames_[point];
  if (auto st = f.wait.status(); !st) ++input_errors_;
  f.wait = VulkanWait();  // the GPU is done with it
  f.done = Fence();
}

// Every path the run's waits took: "sync_fd_import+host_signal" when an import the driver
// refused fell back, so that a mixed run never passes for a native one.
std::string BridgeSync::wait_path() const {
  std::string names;
  for (auto p : {VulkanWaitPath::sync_fd_import, VulkanWaitPath::syncobj_timeline, VulkanWaitPath::host_signal})
    if (wait_paths_.load() & (1u << static_cast<unsigned>(p)))
      names += (names.empty() ? "" : "+") + std::string(path_name(p));
  return names.empty() ? "?" : names;
}

std::string BridgeSync::completion_path() const { return path_name(stream_->path()); }

void BridgeSync::release_all(std::uint64_t last_point) {
  (void)signal(last_point);  // kernel fences too (sync_fd_import waits on them directly)
  bridge_->shutdown();       // every host_signal wait still pending
}

BridgeSync::~BridgeSync() {
  if (bridge_) bridge_->shutdown();
  if (stream_) {
    stream_->shutdown();
    live_streams().remove(stream_.get());
  }
}

}  // namespace gpu_pipeline
