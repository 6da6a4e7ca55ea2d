/* syncbridge-c-gate: the C API end to end. A CPU timeline's fence gates a GPU submission; the
 * GPU's completion comes back as a CPU fence. Exit 0 when the GPU ran only after the CPU
 * signaled and its completion arrived within the deadline; 1 otherwise; 77 without a Vulkan
 * 1.3 device.
 *   syncbridge-c-gate [--validate]   (--validate: fail without the validation layer)
 * SYNCBRIDGE_VK_REQUIRE_NATIVE=1 fails the run unless the completion came back as a sync_file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncbridge/syncbridge.h"
#include "vk_setup.h"

#define DEADLINE_NS (10LL * 1000 * 1000 * 1000)

static int report(const char* what, const syncbridge_error* e) {
  fprintf(stderr, "c-gate: %s failed: %s (%s, errno %d)\n", what, e->message, syncbridge_result_name(e->code),
          e->sys_errno);
  return 1;
}

static bool excuse(const char* message, void* user_data) {
  return syncbridge_vulkan_stream_explains_validation_message(user_data, message);
}

/* Timeline fence -> GPU wait -> submission -> completion fence. */
static int gate_one_submission(vk_setup* vk, syncbridge_vulkan_bridge* bridge, syncbridge_vulkan_stream* stream) {
  syncbridge_error e;
  syncbridge_timeline* cpu = NULL;
  syncbridge_fence* input = NULL;
  syncbridge_vulkan_wait* wait = NULL;
  syncbridge_vulkan_signal* signal = NULL;
  syncbridge_fence* done = NULL;
  syncbridge_wait_status status;
  int rc = 1;
  if (syncbridge_timeline_create("cpu-producer", 0, false, &cpu, &e) != SYNCBRIDGE_OK) return report("timeline", &e);
  if (syncbridge_timeline_fence_at(cpu, 1, &input, &e) != SYNCBRIDGE_OK) goto out;
  if (syncbridge_vulkan_bridge_wait_for_fence(bridge, input, &wait, &e) != SYNCBRIDGE_OK) goto out;
  if (syncbridge_vulkan_stream_prepare(stream, &signal, &e) != SYNCBRIDGE_OK) goto out;
  syncbridge_vulkan_signal_depends_on(signal, wait);
  const VkSemaphoreSubmitInfo wait_info = syncbridge_vulkan_wait_submit_info(wait);
  const VkSemaphoreSubmitInfo signal_info = syncbridge_vulkan_signal_submit_info(signal);
  const VkResult submitted = vk_setup_submit(vk, &wait_info, &signal_info);
  if (submitted != VK_SUCCESS) {
    fprintf(stderr, "c-gate: vkQueueSubmit2 failed: %d\n", (int)submitted);
    syncbridge_vulkan_stream_abandon(stream, signal);
    goto out_quiet;
  }
  if (syncbridge_vulkan_stream_submitted(stream, signal, &done, &e) != SYNCBRIDGE_OK) goto out;
  if (syncbridge_fence_wait(done, 50 * 1000 * 1000, &status, &e) != SYNCBRIDGE_OK) goto out;
  if (status != SYNCBRIDGE_TIMED_OUT) {
    fprintf(stderr, "c-gate: the GPU finished before the CPU signaled its input\n");
    goto out_quiet;
  }
  if (syncbridge_timeline_advance(cpu, 1, &e) != SYNCBRIDGE_OK) goto out;
  if (syncbridge_fence_wait(done, DEADLINE_NS, &status, &e) != SYNCBRIDGE_OK) goto out;
  if (status != SYNCBRIDGE_SIGNALED) {
    fprintf(stderr, "c-gate: no GPU completion within 10 s of the CPU signal (point %llu)\n",
            (unsigned long long)syncbridge_fence_point(done));
    goto out_quiet;
  }
  if (getenv("SYNCBRIDGE_VK_REQUIRE_NATIVE") &&
      syncbridge_vulkan_stream_path(stream) != SYNCBRIDGE_VULKAN_COMPLETION_SYNC_FD_EXPORT) {
    fprintf(stderr,
            "c-gate: SYNCBRIDGE_VK_REQUIRE_NATIVE is set, but the completion did not come back as a "
            "sync_file (the driver lacks SYNC_FD export)\n");
    goto out_quiet;
  }
  static const char* const wait_paths[] = {"sync_fd_import", "syncobj_timeline", "host_signal"};
  static const char* const completion_paths[] = {"sync_fd_export", "timeline_wait"};
  printf("c-gate: GPU submission gated by a CPU fence (wait path %s), completion fence at point %llu (path %s)\n",
         wait_paths[syncbridge_vulkan_wait_path_taken(wait)], (unsigned long long)syncbridge_fence_point(done),
         completion_paths[syncbridge_vulkan_stream_path(stream)]);
  rc = 0;
  goto out_quiet;
out:
  report("a syncbridge call", &e);
out_quiet:
  vkQueueWaitIdle(vk->queue); /* the wait's semaphore may go only once the GPU is done with it */
  syncbridge_fence_release(done);
  syncbridge_vulkan_wait_destroy(wait);
  syncbridge_fence_release(input);
  syncbridge_timeline_destroy(cpu);
  return rc;
}

int main(int argc, char** argv) {
  const bool require_validation = argc > 1 && strcmp(argv[1], "--validate") == 0;
  vk_setup vk;
  const int setup = vk_setup_create(&vk, require_validation);
  if (setup != 0) return setup == -1 && !require_validation ? 77 : 1;

  syncbridge_error e;
  syncbridge_vulkan_device* device = NULL;
  syncbridge_vulkan_bridge* bridge = NULL;
  syncbridge_vulkan_stream* stream = NULL;
  int rc = 1;
  const syncbridge_vulkan_device_info info = {.instance = vk.instance,
                                              .physical_device = vk.physical_device,
                                              .device = vk.device,
                                              .get_instance_proc_addr = vkGetInstanceProcAddr,
                                              .get_device_proc_addr = vkGetDeviceProcAddr,
                                              .enabled_extensions = vk.extensions,
                                              .enabled_extension_count = vk.extension_count,
                                              .timeline_semaphore_enabled = true,
                                              .synchronization2_enabled = true};
  if (syncbridge_vulkan_device_create(&info, &device, &e) != SYNCBRIDGE_OK) {
    rc = report("syncbridge_vulkan_device_create", &e);
  } else if (syncbridge_vulkan_bridge_create(device, true, &bridge, &e) != SYNCBRIDGE_OK) {
    rc = report("syncbridge_vulkan_bridge_create", &e);
  } else if (syncbridge_vulkan_stream_create(device, "c-gate", true, &stream, &e) != SYNCBRIDGE_OK) {
    rc = report("syncbridge_vulkan_stream_create", &e);
  } else {
    char description[256];
    syncbridge_vulkan_device_describe(device, description, sizeof description);
    printf("c-gate: syncbridge %s on %s\n", syncbridge_version(), description);
    vk.excuse = excuse;
    vk.excuse_user_data = stream;
    rc = gate_one_submission(&vk, bridge, stream);
    vk.excuse = NULL;
  }
  syncbridge_vulkan_bridge_shutdown(bridge);
  syncbridge_vulkan_stream_shutdown(stream);
  if (vk.device) vkQueueWaitIdle(vk.queue);
  syncbridge_vulkan_stream_destroy(stream);
  syncbridge_vulkan_bridge_destroy(bridge);
  syncbridge_vulkan_device_destroy(device);
  vk_setup_destroy(&vk);
  if (vk.validation_errors > 0) {
    fprintf(stderr, "c-gate: %d validation errors\n", vk.validation_errors);
    rc = 1;
  }
  return rc;
}
