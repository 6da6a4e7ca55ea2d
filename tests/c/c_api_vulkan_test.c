/* The C API with a real Vulkan driver (lavapipe on the CI host), validation layer on: any
 * validation error fails the test. */
#include <string.h>

#include "c_test.h"
#include "vk_setup.h"

typedef struct vk_fixture {
  vk_setup vk;
  syncbridge_vulkan_device* device;
  syncbridge_vulkan_bridge* bridge;
  syncbridge_vulkan_stream* stream;
} vk_fixture;

static bool excuse(const char* message, void* user_data) {
  return syncbridge_vulkan_stream_explains_validation_message(user_data, message);
}

/* NULL, with the reason in *why, when the machine has no usable device. */
static bool fixture_up(vk_fixture* f, const char** why) {
  memset(f, 0, sizeof *f);
  if (vk_setup_create(&f->vk, true) != 0) {
    *why = "no Vulkan 1.3 device with a compute queue and the Khronos validation layer";
    return false;
  }
  syncbridge_error e;
  const syncbridge_vulkan_device_info info = {.instance = f->vk.instance,
                                              .physical_device = f->vk.physical_device,
                                              .device = f->vk.device,
                                              .get_instance_proc_addr = vkGetInstanceProcAddr,
                                              .enabled_extensions = f->vk.extensions,
                                              .enabled_extension_count = f->vk.extension_count,
                                              .timeline_semaphore_enabled = true,
                                              .synchronization2_enabled = true};
  CHECK_OK(syncbridge_vulkan_device_create(&info, &f->device, &e), e);
  CHECK_OK(syncbridge_vulkan_bridge_create(f->device, true, &f->bridge, &e), e);
  CHECK_OK(syncbridge_vulkan_stream_create(f->device, "c-stream", true, &f->stream, &e), e);
  f->vk.excuse = excuse;
  f->vk.excuse_user_data = f->stream;
  return f->stream != NULL;
}

static void fixture_down(vk_fixture* f) {
  syncbridge_vulkan_bridge_shutdown(f->bridge);
  syncbridge_vulkan_stream_shutdown(f->stream);
  if (f->vk.device) vkQueueWaitIdle(f->vk.queue);
  syncbridge_vulkan_stream_destroy(f->stream);
  syncbridge_vulkan_bridge_destroy(f->bridge);
  syncbridge_vulkan_device_destroy(f->device);
  f->vk.excuse = NULL;
  vk_setup_destroy(&f->vk);
  CHECK(f->vk.validation_errors == 0);
}

/* Submits a batch gated by wait; the completion fence comes back in *done. */
static void submit_gated(vk_fixture* f, syncbridge_vulkan_wait* wait, syncbridge_fence** done) {
  syncbridge_error e;
  syncbridge_vulkan_signal* signal = NULL;
  CHECK_OK(syncbridge_vulkan_stream_prepare(f->stream, &signal, &e), e);
  syncbridge_vulkan_signal_depends_on(signal, wait);
  const VkSemaphoreSubmitInfo w = syncbridge_vulkan_wait_submit_info(wait);
  const VkSemaphoreSubmitInfo s = syncbridge_vulkan_signal_submit_info(signal);
  CHECK(vk_setup_submit(&f->vk, &w, &s) == VK_SUCCESS);
  CHECK_OK(syncbridge_vulkan_stream_submitted(f->stream, signal, done, &e), e);
}

static void a_cpu_fence_gates_a_submission(void) {
  vk_fixture f;
  const char* why = NULL;
  if (!fixture_up(&f, &why)) {
    fixture_down(&f);
    if (why) SKIP(why);
    return;
  }
  syncbridge_error e;
  c_pending_fence cpu = c_pending_fence_create("c-cpu", 0, false, 1);
  syncbridge_fence* done = NULL;
  syncbridge_vulkan_wait* wait = NULL;
  syncbridge_wait_status status = SYNCBRIDGE_SIGNALED;
  CHECK_OK(syncbridge_vulkan_bridge_wait_for_fence(f.bridge, cpu.fence, &wait, &e), e);
  CHECK(syncbridge_vulkan_wait_path_taken(wait) == SYNCBRIDGE_VULKAN_WAIT_HOST_SIGNAL);
  submit_gated(&f, wait, &done);
  CHECK_OK(syncbridge_fence_wait(done, 50000000, &status, &e), e);
  CHECK(status == SYNCBRIDGE_TIMED_OUT); /* the GPU waits for the CPU */
  CHECK_OK(syncbridge_timeline_advance(cpu.timeline, 1, &e), e);
  CHECK_OK(syncbridge_fence_wait(done, 10000000000LL, &status, &e), e);
  CHECK(status == SYNCBRIDGE_SIGNALED);
  CHECK_OK(syncbridge_vulkan_wait_status(wait, &e), e);
  syncbridge_vulkan_bridge_retire_after(f.bridge, wait, done); /* consumed */
  syncbridge_fence_release(done);
  c_pending_fence_destroy(&cpu);
  fixture_down(&f);
}

static void a_sync_file_gates_a_submission(void) {
  syncbridge_error e;
  syncbridge_sw_sync_exporter* ex = NULL;
  SKIP_UNLESS_OK(syncbridge_sw_sync_exporter_create("c-vk-sw-sync", 0, &ex, &e), e);
  vk_fixture f;
  const char* why = NULL;
  if (!fixture_up(&f, &why)) {
    fixture_down(&f);
    syncbridge_sw_sync_exporter_destroy(ex);
    if (why) SKIP(why);
    return;
  }
  syncbridge_sync_file* file = NULL;
  syncbridge_vulkan_wait* wait = NULL;
  syncbridge_fence* done = NULL;
  syncbridge_wait_status status = SYNCBRIDGE_SIGNALED;
  CHECK_OK(syncbridge_sw_sync_exporter_sync_file_at(ex, 1, &file, &e), e);
  CHECK_OK(syncbridge_vulkan_bridge_wait_for_sync_file(f.bridge, file, &wait, &e), e);
  submit_gated(&f, wait, &done);
  CHECK_OK(syncbridge_fence_wait(done, 50000000, &status, &e), e);
  CHECK(status == SYNCBRIDGE_TIMED_OUT);
  CHECK_OK(syncbridge_sw_sync_exporter_advance(ex, 1, &e), e);
  CHECK_OK(syncbridge_fence_wait(done, 10000000000LL, &status, &e), e);
  CHECK(status == SYNCBRIDGE_SIGNALED);
  vkQueueWaitIdle(f.vk.queue);
  syncbridge_vulkan_wait_destroy(wait);
  syncbridge_fence_release(done);
  syncbridge_sync_file_destroy(file);
  fixture_down(&f);
  syncbridge_sw_sync_exporter_destroy(ex);
}

static void bad_vulkan_input_is_an_error(void) {
  syncbridge_error e;
  syncbridge_vulkan_device* device = NULL;
  const syncbridge_vulkan_device_info empty = {0};
  CHECK_ERR(syncbridge_vulkan_device_create(&empty, &device, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  CHECK(device == NULL);
  CHECK_ERR(syncbridge_vulkan_device_create(NULL, &device, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  syncbridge_vulkan_bridge* bridge = NULL;
  CHECK_ERR(syncbridge_vulkan_bridge_create(NULL, true, &bridge, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  syncbridge_vulkan_wait* wait = NULL;
  CHECK_ERR(syncbridge_vulkan_bridge_wait_for_fence(NULL, NULL, &wait, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  syncbridge_vulkan_wait_destroy(NULL);
  syncbridge_vulkan_bridge_destroy(NULL);
}

C_TEST_GROUP(vulkan_tests, {"ACpuFenceGatesASubmission", a_cpu_fence_gates_a_submission},
             {"ASyncFileGatesASubmission", a_sync_file_gates_a_submission},
             {"BadVulkanInputIsAnError", bad_vulkan_input_is_an_error});
