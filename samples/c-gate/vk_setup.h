/* A Vulkan 1.3 device for the C sample and the C API tests: the first physical device with a
 * compute queue, timelineSemaphore and synchronization2 enabled, and the external-semaphore fd
 * extensions where offered (so the bridge can take its native paths). With validation on, the
 * Khronos layer's errors are counted (vk_setup.validation_errors) and printed. */
#ifndef SYNCBRIDGE_SAMPLES_C_GATE_VK_SETUP_H
#define SYNCBRIDGE_SAMPLES_C_GATE_VK_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

typedef struct vk_setup {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice physical_device;
  VkDevice device;
  VkQueue queue;
  const char* extensions[4];
  uint32_t extension_count;
  volatile int validation_errors;
  /* A message the caller may excuse (a known layer false positive); may be NULL. */
  bool (*excuse)(const char* message, void* user_data);
  void* excuse_user_data;
} vk_setup;

/* 0 on success; otherwise prints why to stderr and returns the VkResult (or -1 when no device
 * fits). Validation is on when the layer is installed, or required when require_validation. */
int vk_setup_create(vk_setup* setup, bool require_validation);
void vk_setup_destroy(vk_setup* setup);
/* vkQueueSubmit2 of a batch without command buffers: one wait, one signal. */
VkResult vk_setup_submit(const vk_setup* setup, const VkSemaphoreSubmitInfo* wait, const VkSemaphoreSubmitInfo* signal);

#endif
