// GPU -> CPU: VulkanCompletionStream and VulkanSignal, over the core in vulkan_stream_core*.cpp.
#include "syncbridge/vulkan_completion.h"

#include <charconv>

#include "vulkan/vulkan_stream_core.h"

namespace syncbridge {

const char* path_name(VulkanCompletionPath path) noexcept {
  switch (path) {
    case VulkanCompletionPath::sync_fd_export: return "sync_fd_export";
    case VulkanCompletionPath::timeline_wait: return "timeline_wait";
  }
  return "?";
}

// ---- VulkanSignal

VulkanSignal::VulkanSignal(VulkanSignal&& o) noexcept
    : stream_(std::move(o.stream_)),
      inputs_(std::move(o.inputs_)),
      binary_(o.binary_),
      info_(o.info_),
      point_(o.point_),
      path_(o.path_) {}
VulkanSignal& VulkanSignal::operator=(VulkanSignal&& o) noexcept {
  if (this != &o) {
    if (stream_) stream_->abandon(point_, binary_);
    stream_ = std::move(o.stream_);
    inputs_ = std::move(o.inputs_);
    binary_ = o.binary_;
    info_ = o.info_;
    point_ = o.point_;
    path_ = o.path_;
  }
  return *this;
}
VulkanSignal::~VulkanSignal() {
  if (stream_) stream_->abandon(point_, binary_);
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
  auto core = std::make_shared<detail::VulkanStreamCore>(device, std::move(options));
  if (auto started = core->start(); !started) {
    core->destroy();
    return std::move(started).error();
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
  auto fence = fence_at(point);
  if (!fence) return std::move(fence).error();
  if (timeout < std::chrono::nanoseconds::zero())
    return Error(Errc::invalid_argument, EINVAL, "VulkanCompletionStream::wait: negative timeout");
  if (core_->path != VulkanCompletionPath::timeline_wait || fence->status() != FenceStatus::pending)
    return fence->wait(timeout);
  return core_->direct_wait(point, timeout, *fence);
}

Result<VulkanSignal> VulkanCompletionStream::prepare() {
  auto& c = *core_;
  {
    std::lock_guard guard(c.m);
    if (c.stopping) return Error(Errc::invalid_handle, EBADF, "VulkanCompletionStream::prepare after shutdown()");
    if (c.error) return *c.error;
  }
  detail::PooledSemaphore* binary = nullptr;
  if (c.path == VulkanCompletionPath::sync_fd_export) {
    auto acquired = c.binaries.acquire();
    if (!acquired) return std::move(acquired).error();
    binary = *acquired;
  }
  VulkanSignal s;
  {
    std::lock_guard guard(c.m);
    s.point_ = ++c.next_point;
  }
  s.stream_ = core_;
  s.path_ = c.path;
  s.binary_ = binary;
  s.info_.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO;
  s.info_.stageMask = c.options.signal_stage_mask;
  s.info_.semaphore = binary ? binary->semaphore : c.timeline_semaphore;
  s.info_.value = binary ? 0 : s.point_;
  return s;
}

Result<Fence> VulkanCompletionStream::submitted(VulkanSignal&& signal) {
  auto& c = *core_;
  if (signal.stream_ != core_) return Error(Errc::invalid_argument, EINVAL, "VulkanSignal of another stream");
  const std::uint64_t point = signal.point_;
  signal.stream_.reset();  // submitted: no abandon
  auto fence = c.timeline.fence_at(point);
  if (!fence) return fence;
  if (c.path == VulkanCompletionPath::timeline_wait)
    c.submitted_in_flight(point);
  else
    c.queue_export(point, signal.binary_, std::move(signal.inputs_));
  return fence;
}

bool VulkanCompletionStream::explains_validation_message(std::string_view message) const {
  auto& c = *core_;
  if (c.path != VulkanCompletionPath::sync_fd_export || message.find("QueueForwardProgress") == std::string_view::npos)
    return false;
  static constexpr std::string_view tag = "VkSemaphore 0x";
  const auto at = message.find(tag);
  if (at == std::string_view::npos) return false;
  std::uint64_t handle = 0;
  const char* first = message.data() + at + tag.size();
  if (std::from_chars(first, message.data() + message.size(), handle, 16).ec != std::errc()) return false;
  return c.binaries.owns_handle(handle);
}

void VulkanCompletionStream::abandon(VulkanSignal&& signal) {
  if (signal.stream_ != core_) return;
  signal.stream_.reset();
  core_->abandon(signal.point_, signal.binary_);
}

}  // namespace syncbridge
