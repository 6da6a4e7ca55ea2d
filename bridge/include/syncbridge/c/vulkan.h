/* syncbridge/c/vulkan.h: CPU fences -> GPU waits, GPU completion -> CPU fences (see C++
 * vulkan_bridge.h, whose rules apply unchanged: "No deadlock, by design" and "Lifetimes").
 *
 * The application creates VkInstance and VkDevice and keeps them; syncbridge_vulkan_device
 * borrows them with the application's loader entry point and probes what the bridge may use.
 * Order of destruction: waits, signals and fences of the GPU -> bridge and streams (after
 * shutdown and a drained queue) -> the device handle -> the application's VkDevice.
 *   bridge:  wait_for_*() -> a syncbridge_vulkan_wait whose VkSemaphoreSubmitInfo goes into
 *            vkQueueSubmit2's waits; keep it until that submission completed, or hand it to
 *            syncbridge_vulkan_bridge_retire_after().
 *   stream:  prepare() -> a syncbridge_vulkan_signal whose VkSemaphoreSubmitInfo goes into the
 *            submission's signals; name its inputs with depends_on(); after vkQueueSubmit2
 *            returns, submitted() (consumes the signal) gives the fence of the GPU's completion.
 */
#ifndef SYNCBRIDGE_C_VULKAN_H
#define SYNCBRIDGE_C_VULKAN_H

#include <stdbool.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "syncbridge/c/core.h"
#include "syncbridge/c/drm.h"
#include "syncbridge/c/error.h"
#include "syncbridge/c/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct syncbridge_vulkan_device syncbridge_vulkan_device;
typedef struct syncbridge_vulkan_bridge syncbridge_vulkan_bridge;
typedef struct syncbridge_vulkan_wait syncbridge_vulkan_wait;
typedef struct syncbridge_vulkan_stream syncbridge_vulkan_stream;
typedef struct syncbridge_vulkan_signal syncbridge_vulkan_signal;

/* The application's device as it created it. All handles borrowed. */
typedef struct syncbridge_vulkan_device_info {
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  PFN_vkGetInstanceProcAddr get_instance_proc_addr; /* required */
  PFN_vkGetDeviceProcAddr get_device_proc_addr;     /* NULL: from get_instance_proc_addr */
  const char* const* enabled_extensions;            /* as in VkDeviceCreateInfo */
  uint32_t enabled_extension_count;
  bool timeline_semaphore_enabled; /* VkPhysicalDeviceVulkan12Features::timelineSemaphore */
  bool synchronization2_enabled;   /* VkPhysicalDeviceVulkan13Features::synchronization2 */
} syncbridge_vulkan_device_info;

typedef enum syncbridge_vulkan_wait_path {
  SYNCBRIDGE_VULKAN_WAIT_SYNC_FD_IMPORT = 0,
  SYNCBRIDGE_VULKAN_WAIT_SYNCOBJ_TIMELINE,
  SYNCBRIDGE_VULKAN_WAIT_HOST_SIGNAL
} syncbridge_vulkan_wait_path;

typedef enum syncbridge_vulkan_completion_path {
  SYNCBRIDGE_VULKAN_COMPLETION_SYNC_FD_EXPORT = 0,
  SYNCBRIDGE_VULKAN_COMPLETION_TIMELINE_WAIT
} syncbridge_vulkan_completion_path;

SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_device_create(const syncbridge_vulkan_device_info* info,
                                                                 syncbridge_vulkan_device** device_out,
                                                                 syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_vulkan_device_destroy(syncbridge_vulkan_device* device);
/* "llvmpipe (...), Vulkan 1.3.x: timeline_semaphore|..." into buffer (NUL-terminated, truncated);
 * returns the length it needs without the NUL. */
SYNCBRIDGE_API size_t syncbridge_vulkan_device_describe(const syncbridge_vulkan_device* device, char* buffer,
                                                        size_t size);

/* device: borrowed, must outlive the bridge. allow_sync_fd_import: false forces host_signal. */
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_bridge_create(const syncbridge_vulkan_device* device,
                                                                 bool allow_sync_fd_import,
                                                                 syncbridge_vulkan_bridge** bridge_out,
                                                                 syncbridge_error* error);
/* Shuts down (if not yet) and frees. Drain the queue first. */
SYNCBRIDGE_API void syncbridge_vulkan_bridge_destroy(syncbridge_vulkan_bridge* bridge);
/* Releases every host_signal wait still pending and stops the bridge's threads. */
SYNCBRIDGE_API void syncbridge_vulkan_bridge_shutdown(syncbridge_vulkan_bridge* bridge);
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_bridge_wait_for_fence(syncbridge_vulkan_bridge* bridge,
                                                                         const syncbridge_fence* fence,
                                                                         syncbridge_vulkan_wait** wait_out,
                                                                         syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_bridge_wait_for_sync_file(syncbridge_vulkan_bridge* bridge,
                                                                             const syncbridge_sync_file* sync_file,
                                                                             syncbridge_vulkan_wait** wait_out,
                                                                             syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_bridge_wait_for_syncobj(syncbridge_vulkan_bridge* bridge,
                                                                           const syncbridge_syncobj_exporter* exporter,
                                                                           uint64_t point,
                                                                           syncbridge_vulkan_wait** wait_out,
                                                                           syncbridge_error* error);
/* wait: consumed; kept until completion completes (signaled or errored). */
SYNCBRIDGE_API void syncbridge_vulkan_bridge_retire_after(syncbridge_vulkan_bridge* bridge,
                                                          syncbridge_vulkan_wait* wait,
                                                          const syncbridge_fence* completion);

SYNCBRIDGE_API VkSemaphoreSubmitInfo syncbridge_vulkan_wait_submit_info(const syncbridge_vulkan_wait* wait);
SYNCBRIDGE_API syncbridge_vulkan_wait_path syncbridge_vulkan_wait_path_taken(const syncbridge_vulkan_wait* wait);
/* SYNCBRIDGE_OK once released with a signaled input; why not otherwise. */
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_wait_status(const syncbridge_vulkan_wait* wait,
                                                               syncbridge_error* error);
/* Only once the submission that waits on it has completed (or was never submitted). */
SYNCBRIDGE_API void syncbridge_vulkan_wait_destroy(syncbridge_vulkan_wait* wait);

/* device: borrowed, must outlive the stream. name may be NULL. allow_sync_fd_export: false
 * forces timeline_wait. */
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_stream_create(const syncbridge_vulkan_device* device,
                                                                 const char* name, bool allow_sync_fd_export,
                                                                 syncbridge_vulkan_stream** stream_out,
                                                                 syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_vulkan_stream_destroy(syncbridge_vulkan_stream* stream);
SYNCBRIDGE_API void syncbridge_vulkan_stream_shutdown(syncbridge_vulkan_stream* stream);
SYNCBRIDGE_API syncbridge_vulkan_completion_path syncbridge_vulkan_stream_path(const syncbridge_vulkan_stream* stream);
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_stream_prepare(syncbridge_vulkan_stream* stream,
                                                                  syncbridge_vulkan_signal** signal_out,
                                                                  syncbridge_error* error);
SYNCBRIDGE_API VkSemaphoreSubmitInfo syncbridge_vulkan_signal_submit_info(const syncbridge_vulkan_signal* signal);
SYNCBRIDGE_API uint64_t syncbridge_vulkan_signal_point(const syncbridge_vulkan_signal* signal);
/* The submission waits on input (borrowed): its completion is exported only once input is released. */
SYNCBRIDGE_API void syncbridge_vulkan_signal_depends_on(syncbridge_vulkan_signal* signal,
                                                        const syncbridge_vulkan_wait* input);
/* signal: consumed. Call after vkQueueSubmit2 returned; the caller owns *fence_out (fence_out may
 * be NULL: the completion is not needed). */
SYNCBRIDGE_API syncbridge_result syncbridge_vulkan_stream_submitted(syncbridge_vulkan_stream* stream,
                                                                    syncbridge_vulkan_signal* signal,
                                                                    syncbridge_fence** fence_out,
                                                                    syncbridge_error* error);
/* signal: consumed; the submission was never made (its point completes as abandoned). */
SYNCBRIDGE_API void syncbridge_vulkan_stream_abandon(syncbridge_vulkan_stream* stream,
                                                     syncbridge_vulkan_signal* signal);
/* A validation-layer message that is a known false positive about this stream's semaphores. */
SYNCBRIDGE_API bool syncbridge_vulkan_stream_explains_validation_message(const syncbridge_vulkan_stream* stream,
                                                                         const char* message);

#ifdef __cplusplus
}
#endif

#endif
