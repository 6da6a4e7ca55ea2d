#include "vk_setup.h"

#include <stdio.h>
#include <string.h>

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  vk_setup* setup = user;
  (void)type;
  if (!(severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) return VK_FALSE;
  if (setup->excuse && setup->excuse(data->pMessage, setup->excuse_user_data)) return VK_FALSE;
  setup->validation_errors++;
  fprintf(stderr, "validation error: %s\n", data->pMessage);
  return VK_FALSE;
}

static bool has_layer(const char* name) {
  VkLayerProperties layers[64];
  uint32_t count = 64;
  if (vkEnumerateInstanceLayerProperties(&count, layers) < 0) return false;
  for (uint32_t i = 0; i < count; ++i)
    if (strcmp(layers[i].layerName, name) == 0) return true;
  return false;
}

static bool has_device_extension(VkPhysicalDevice pd, const char* name) {
  VkExtensionProperties props[512];
  uint32_t count = 512;
  if (vkEnumerateDeviceExtensionProperties(pd, NULL, &count, props) < 0) return false;
  for (uint32_t i = 0; i < count; ++i)
    if (strcmp(props[i].extensionName, name) == 0) return true;
  return false;
}

static int create_instance(vk_setup* setup, bool require_validation) {
  static const char* layer = "VK_LAYER_KHRONOS_validation";
  static const char* debug_ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  const bool validate = has_layer(layer);
  if (require_validation && !validate) {
    fprintf(stderr, "vk_setup: the Khronos validation layer is not installed\n");
    return -1;
  }
  VkDebugUtilsMessengerCreateInfoEXT messenger = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity =
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT,
      .pfnUserCallback = on_message,
      .pUserData = setup};
  const VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                                 .pApplicationName = "syncbridge-c",
                                 .apiVersion = VK_API_VERSION_1_3};
  const VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                     .pNext = validate ? &messenger : NULL,
                                     .pApplicationInfo = &app,
                                     .enabledLayerCount = validate ? 1 : 0,
                                     .ppEnabledLayerNames = &layer,
                                     .enabledExtensionCount = validate ? 1 : 0,
                                     .ppEnabledExtensionNames = &debug_ext};
  VkResult r = vkCreateInstance(&info, NULL, &setup->instance);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "vk_setup: vkCreateInstance failed: %d\n", (int)r);
    return (int)r;
  }
  if (validate) {
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(setup->instance, "vkCreateDebugUtilsMessengerEXT");
    if (create) create(setup->instance, &messenger, NULL, &setup->messenger);
  }
  return 0;
}

/* The first device offering Vulkan 1.3 and a compute queue; its family index in *family. */
static bool pick_device(vk_setup* setup, uint32_t* family) {
  VkPhysicalDevice devices[16];
  uint32_t count = 16;
  if (vkEnumeratePhysicalDevices(setup->instance, &count, devices) < 0) return false;
  for (uint32_t d = 0; d < count; ++d) {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(devices[d], &props);
    if (props.apiVersion < VK_API_VERSION_1_3) continue;
    VkQueueFamilyProperties families[16];
    uint32_t nf = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(devices[d], &nf, families);
    for (uint32_t f = 0; f < nf; ++f) {
      if (families[f].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        setup->physical_device = devices[d];
        *family = f;
        return true;
      }
    }
  }
  return false;
}

int vk_setup_create(vk_setup* setup, bool require_validation) {
  memset(setup, 0, sizeof *setup);
  int r = create_instance(setup, require_validation);
  if (r != 0) return r;
  uint32_t family = 0;
  if (!pick_device(setup, &family)) {
    fprintf(stderr, "vk_setup: no Vulkan 1.3 device with a compute queue\n");
    vk_setup_destroy(setup);
    return -1;
  }
  static const char* wanted[] = {VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME, VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME};
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; ++i)
    if (has_device_extension(setup->physical_device, wanted[i]))
      setup->extensions[setup->extension_count++] = wanted[i];
  VkPhysicalDeviceVulkan13Features v13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                          .synchronization2 = VK_TRUE};
  VkPhysicalDeviceVulkan12Features v12 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &v13, .timelineSemaphore = VK_TRUE};
  const float priority = 1.0f;
  const VkDeviceQueueCreateInfo queue = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                         .queueFamilyIndex = family,
                                         .queueCount = 1,
                                         .pQueuePriorities = &priority};
  const VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                                   .pNext = &v12,
                                   .queueCreateInfoCount = 1,
                                   .pQueueCreateInfos = &queue,
                                   .enabledExtensionCount = setup->extension_count,
                                   .ppEnabledExtensionNames = setup->extensions};
  VkResult vr = vkCreateDevice(setup->physical_device, &info, NULL, &setup->device);
  if (vr != VK_SUCCESS) {
    fprintf(stderr, "vk_setup: vkCreateDevice failed: %d\n", (int)vr);
    vk_setup_destroy(setup);
    return (int)vr;
  }
  vkGetDeviceQueue(setup->device, family, 0, &setup->queue);
  return 0;
}

void vk_setup_destroy(vk_setup* setup) {
  if (setup->device) {
    vkDeviceWaitIdle(setup->device);
    vkDestroyDevice(setup->device, NULL);
  }
  if (setup->messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(setup->instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy) destroy(setup->instance, setup->messenger, NULL);
  }
  if (setup->instance) vkDestroyInstance(setup->instance, NULL);
  setup->device = VK_NULL_HANDLE;
  setup->messenger = VK_NULL_HANDLE;
  setup->instance = VK_NULL_HANDLE;
}

VkResult vk_setup_submit(const vk_setup* setup, const VkSemaphoreSubmitInfo* wait,
                         const VkSemaphoreSubmitInfo* signal) {
  const VkSubmitInfo2 submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2,
                                .waitSemaphoreInfoCount = wait ? 1 : 0,
                                .pWaitSemaphoreInfos = wait,
                                .signalSemaphoreInfoCount = signal ? 1 : 0,
                                .pSignalSemaphoreInfos = signal};
  return vkQueueSubmit2(setup->queue, 1, &submit, VK_NULL_HANDLE);
}
