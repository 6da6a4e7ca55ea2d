// The C API: the Vulkan bridge and completion stream (syncbridge/c/vulkan.h).
#include <cstring>
#include <vector>

#include "capi/capi_internal.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_device.h"

using namespace syncbridge;
using namespace syncbridge::capi;

struct syncbridge_vulkan_device {
  VulkanDevice device;
};
struct syncbridge_vulkan_bridge {
  std::unique_ptr<VulkanBridge> bridge;
};
struct syncbridge_vulkan_wait {
  VulkanWait wait;
};
struct syncbridge_vulkan_stream {
  std::unique_ptr<VulkanCompletionStream> stream;
};
struct syncbridge_vulkan_signal {
  VulkanSignal signal;
};

static_assert(static_cast<int>(VulkanWaitPath::host_signal) == SYNCBRIDGE_VULKAN_WAIT_HOST_SIGNAL);
static_assert(static_cast<int>(VulkanCompletionPath::timeline_wait) == SYNCBRIDGE_VULKAN_COMPLETION_TIMELINE_WAIT);

namespace {

template <class MakeWait>
syncbridge_result wait_for(syncbridge_vulkan_bridge* bridge, syncbridge_vulkan_wait** wait_out, syncbridge_error* error,
                           const char* fn, MakeWait&& make) {
  return produce(error, fn, {{bridge, "bridge"}, {wait_out, "wait_out"}}, wait_out,
                 [&] { return make(*bridge->bridge); });
}

}  // namespace

extern "C" {

syncbridge_result syncbridge_vulkan_device_create(const syncbridge_vulkan_device_info* info,
                                                  syncbridge_vulkan_device** device_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_vulkan_device_create";
  if (!info) return null_argument(error, fn, "info");
  if (!device_out) return null_argument(error, fn, "device_out");
  if (info->enabled_extension_count > 0 && !info->enabled_extensions)
    return null_argument(error, fn, "info->enabled_extensions");
  return guarded(error, fn, [&] {
    VulkanDeviceInfo cxx;
    cxx.instance = info->instance;
    cxx.physical_device = info->physical_device;
    cxx.device = info->device;
    cxx.get_instance_proc_addr = info->get_instance_proc_addr;
    cxx.get_device_proc_addr = info->get_device_proc_addr;
    cxx.enabled_extensions = std::span<const char* const>(info->enabled_extensions, info->enabled_extension_count);
    cxx.timeline_semaphore_enabled = info->timeline_semaphore_enabled;
    cxx.synchronization2_enabled = info->synchronization2_enabled;
    return hand_out_result<syncbridge_vulkan_device>(error, fn, device_out, VulkanDevice::create(cxx));
  });
}

void syncbridge_vulkan_device_destroy(syncbridge_vulkan_device* device) { delete device; }

size_t syncbridge_vulkan_device_describe(const syncbridge_vulkan_device* device, char* buffer, size_t size) {
  if (!device) return 0;
  try {
    const std::string text = device->device.description();
    if (buffer && size > 0) {
      const std::size_t n = std::min(text.size(), size - 1);
      std::memcpy(buffer, text.data(), n);
      buffer[n] = '\0';
    }
    return text.size();
  } catch (...) {
    if (buffer && size > 0) buffer[0] = '\0';
    return 0;
  }
}

syncbridge_result syncbridge_vulkan_bridge_create(const syncbridge_vulkan_device* device, bool allow_sync_fd_import,
                                                  syncbridge_vulkan_bridge** bridge_out, syncbridge_error* error) {
  return produce(error, "syncbridge_vulkan_bridge_create", {{device, "device"}, {bridge_out, "bridge_out"}}, bridge_out,
                 [&] {
                   VulkanBridgeOptions options;
                   options.allow_sync_fd_import = allow_sync_fd_import;
                   return VulkanBridge::create(device->device, options);
                 });
}

void syncbridge_vulkan_bridge_destroy(syncbridge_vulkan_bridge* bridge) { delete bridge; }

void syncbridge_vulkan_bridge_shutdown(syncbridge_vulkan_bridge* bridge) {
  if (bridge) quietly([&] { bridge->bridge->shutdown(); });
}

syncbridge_result syncbridge_vulkan_bridge_wait_for_fence(syncbridge_vulkan_bridge* bridge,
                                                          const syncbridge_fence* fence,
                                                          syncbridge_vulkan_wait** wait_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_vulkan_bridge_wait_for_fence";
  if (!fence) return null_argument(error, fn, "fence");
  return wait_for(bridge, wait_out, error, fn, [&](VulkanBridge& b) { return b.wait_for(fence->fence); });
}

syncbridge_result syncbridge_vulkan_bridge_wait_for_sync_file(syncbridge_vulkan_bridge* bridge,
                                                              const syncbridge_sync_file* sync_file,
                                                              syncbridge_vulkan_wait** wait_out,
                                                              syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_vulkan_bridge_wait_for_sync_file";
  if (!sync_file) return null_argument(error, fn, "sync_file");
  return wait_for(bridge, wait_out, error, fn, [&](VulkanBridge& b) { return b.wait_for(sync_file->file); });
}

syncbridge_result syncbridge_vulkan_bridge_wait_for_syncobj(syncbridge_vulkan_bridge* bridge,
                                                            const syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                            syncbridge_vulkan_wait** wait_out,
                                                            syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_vulkan_bridge_wait_for_syncobj";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (const auto r = check_valid(error, fn, *exporter); r != SYNCBRIDGE_OK) return r;
  return wait_for(bridge, wait_out, error, fn,
                  [&](VulkanBridge& b) { return b.wait_for(exporter->exporter.syncobj(), point); });
}

void syncbridge_vulkan_bridge_retire_after(syncbridge_vulkan_bridge* bridge, syncbridge_vulkan_wait* wait,
                                           const syncbridge_fence* completion) {
  std::unique_ptr<syncbridge_vulkan_wait> owned(wait);
  if (!bridge || !owned || !completion) return;  // a NULL completion: destroyed at once, as documented
  quietly([&] { bridge->bridge->retire_after(std::move(owned->wait), completion->fence); });
}

VkSemaphoreSubmitInfo syncbridge_vulkan_wait_submit_info(const syncbridge_vulkan_wait* wait) {
  if (!wait) return VkSemaphoreSubmitInfo{};
  return wait->wait.submit_info();
}

syncbridge_vulkan_wait_path syncbridge_vulkan_wait_path_taken(const syncbridge_vulkan_wait* wait) {
  return wait ? static_cast<syncbridge_vulkan_wait_path>(wait->wait.path()) : SYNCBRIDGE_VULKAN_WAIT_HOST_SIGNAL;
}

syncbridge_result syncbridge_vulkan_wait_status(const syncbridge_vulkan_wait* wait, syncbridge_error* error) {
  return call(error, "syncbridge_vulkan_wait_status", {{wait, "wait"}},
              [&] { return check(error, wait->wait.status()); });
}

void syncbridge_vulkan_wait_destroy(syncbridge_vulkan_wait* wait) { delete wait; }

syncbridge_result syncbridge_vulkan_stream_create(const syncbridge_vulkan_device* device, const char* name,
                                                  bool allow_sync_fd_export, syncbridge_vulkan_stream** stream_out,
                                                  syncbridge_error* error) {
  return produce(error, "syncbridge_vulkan_stream_create", {{device, "device"}, {stream_out, "stream_out"}}, stream_out,
                 [&] {
                   VulkanCompletionStreamOptions options;
                   if (name) options.name = name;
                   options.allow_sync_fd_export = allow_sync_fd_export;
                   return VulkanCompletionStream::create(device->device, options);
                 });
}

void syncbridge_vulkan_stream_destroy(syncbridge_vulkan_stream* stream) { delete stream; }

void syncbridge_vulkan_stream_shutdown(syncbridge_vulkan_stream* stream) {
  if (stream) quietly([&] { stream->stream->shutdown(); });
}

syncbridge_vulkan_completion_path syncbridge_vulkan_stream_path(const syncbridge_vulkan_stream* stream) {
  return stream ? static_cast<syncbridge_vulkan_completion_path>(stream->stream->path())
                : SYNCBRIDGE_VULKAN_COMPLETION_TIMELINE_WAIT;
}

syncbridge_result syncbridge_vulkan_stream_prepare(syncbridge_vulkan_stream* stream,
                                                   syncbridge_vulkan_signal** signal_out, syncbridge_error* error) {
  return produce(error, "syncbridge_vulkan_stream_prepare", {{stream, "stream"}, {signal_out, "signal_out"}},
                 signal_out, [&] { return stream->stream->prepare(); });
}

VkSemaphoreSubmitInfo syncbridge_vulkan_signal_submit_info(const syncbridge_vulkan_signal* signal) {
  if (!signal) return VkSemaphoreSubmitInfo{};
  return signal->signal.submit_info();
}

uint64_t syncbridge_vulkan_signal_point(const syncbridge_vulkan_signal* signal) {
  return signal ? signal->signal.point() : 0;
}

void syncbridge_vulkan_signal_depends_on(syncbridge_vulkan_signal* signal, const syncbridge_vulkan_wait* input) {
  if (signal && input) quietly([&] { signal->signal.depends_on(input->wait); });
}

syncbridge_result syncbridge_vulkan_stream_submitted(syncbridge_vulkan_stream* stream, syncbridge_vulkan_signal* signal,
                                                     syncbridge_fence** fence_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_vulkan_stream_submitted";
  std::unique_ptr<syncbridge_vulkan_signal> owned(signal);  // consumed, whatever happens next
  return call(error, fn, {{stream, "stream"}, {owned, "signal"}}, [&]() -> syncbridge_result {
    auto fence = stream->stream->submitted(std::move(owned->signal));
    if (!fence_out) return check(error, fence.ok() ? Result<void>() : Result<void>(fence.error()));
    return hand_out_result<syncbridge_fence>(error, fn, fence_out, std::move(fence));
  });
}

void syncbridge_vulkan_stream_abandon(syncbridge_vulkan_stream* stream, syncbridge_vulkan_signal* signal) {
  std::unique_ptr<syncbridge_vulkan_signal> owned(signal);
  if (!stream || !owned) return;  // a signal destroyed unsubmitted is abandoned anyway
  quietly([&] { stream->stream->abandon(std::move(owned->signal)); });
}

bool syncbridge_vulkan_stream_explains_validation_message(const syncbridge_vulkan_stream* stream, const char* message) {
  if (!stream || !message) return false;
  try {
    return stream->stream->explains_validation_message(message);
  } catch (...) {
    return false;
  }
}

}  // extern "C"
