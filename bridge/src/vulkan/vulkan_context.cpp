// VulkanContext: an instance, a physical device and a VkDevice for programs without their own.
#include "syncbridge/vulkan_context.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace syncbridge {

namespace {

constexpr const char* validation_layer = "VK_LAYER_KHRONOS_validation";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int type_score(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

struct InstanceFns {
  PFN_vkCreateInstance create_instance = nullptr;
  PFN_vkEnumerateInstanceLayerProperties enum_layers = nullptr;
  PFN_vkEnumerateInstanceExtensionProperties enum_exts = nullptr;
  PFN_vkEnumerateInstanceVersion enum_version = nullptr;
};

InstanceFns global_fns(PFN_vkGetInstanceProcAddr gipa) {
  InstanceFns f;
  f.create_instance = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
  f.enum_layers = reinterpret_cast<PFN_vkEnumerateInstanceLayerProperties>(
      gipa(VK_NULL_HANDLE, "vkEnumerateInstanceLayerProperties"));
  f.enum_exts = reinterpret_cast<PFN_vkEnumerateInstanceExtensionProperties>(
      gipa(VK_NULL_HANDLE, "vkEnumerateInstanceExtensionProperties"));
  f.enum_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
  return f;
}

bool has_layer(const InstanceFns& f, const char* name) {
  if (!f.enum_layers) return false;
  std::uint32_t n = 0;
  if (f.enum_layers(&n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(n);
  if (f.enum_layers(&n, layers.data()) != VK_SUCCESS) return false;
  return std::any_of(layers.begin(), layers.begin() + n,
                     [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_instance_ext(const InstanceFns& f, const char* name) {
  if (!f.enum_exts) return false;
  std::uint32_t n = 0;
  if (f.enum_exts(nullptr, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> exts(n);
  if (f.enum_exts(nullptr, &n, exts.data()) != VK_SUCCESS) return false;
  return std::any_of(exts.begin(), exts.begin() + n,
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

std::uint32_t instance_version(const InstanceFns& f) {
  std::uint32_t v = VK_API_VERSION_1_0;
  if (f.enum_version && f.enum_version(&v) != VK_SUCCESS) v = VK_API_VERSION_1_0;
  return v;
}

// Every VK_EXT_debug_utils message of the severities the options ask for, to `user`'s callback.
VkDebugUtilsMessengerCreateInfoEXT messenger_info(bool verbose, void* user,
                                                  PFN_vkDebugUtilsMessengerCallbackEXT callback) {
  VkDebugUtilsMessengerCreateInfoEXT mci{};
  mci.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
  mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  if (verbose)
    mci.messageSeverity |=
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_INFO_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_VERBOSE_BIT_EXT;
  mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  mci.pfnUserCallback = callback;
  mci.pUserData = user;
  return mci;
}

// A family with compute, preferring one with timestamps (graphics+compute is fine too).
std::uint32_t compute_queue_family(PFN_vkGetPhysicalDeviceQueueFamilyProperties get_qf, VkPhysicalDevice pd) {
  std::uint32_t qn = 0;
  get_qf(pd, &qn, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qn);
  get_qf(pd, &qn, qf.data());
  std::uint32_t family = UINT32_MAX;
  for (std::uint32_t i = 0; i < qn; ++i) {
    if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (family == UINT32_MAX || (qf[family].timestampValidBits == 0 && qf[i].timestampValidBits != 0)) family = i;
  }
  return family;
}

// The feature chain for vkCreateDevice: timelineSemaphore, and synchronization2 from the 1.3
// struct or, on a 1.2 device, the KHR one. Not copyable: the chain points into itself.
struct DeviceFeatures {
  VkPhysicalDeviceVulkan12Features f12{};
  VkPhysicalDeviceVulkan13Features f13{};
  VkPhysicalDeviceSynchronization2Features sync2{};
  explicit DeviceFeatures(std::uint32_t device_version) {
    f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    f12.timelineSemaphore = VK_TRUE;
    f13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES;
    f13.synchronization2 = VK_TRUE;
    sync2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SYNCHRONIZATION_2_FEATURES;
    sync2.synchronization2 = VK_TRUE;
    if (VK_API_VERSION_MINOR(device_version) >= 3)
      f12.pNext = &f13;
    else
      f12.pNext = &sync2;
  }
  DeviceFeatures(const DeviceFeatures&) = delete;
  DeviceFeatures& operator=(const DeviceFeatures&) = delete;
};

// Enumerates and reports every physical device of instance.
Result<std::vector<VulkanDeviceChoice>> enumerate(VkInstance instance, PFN_vkGetInstanceProcAddr gipa) {
  auto enum_pd = reinterpret_cast<PFN_vkEnumeratePhysicalDevices>(gipa(instance, "vkEnumeratePhysicalDevices"));
  auto get_qf = reinterpret_cast<PFN_vkGetPhysicalDeviceQueueFamilyProperties>(
      gipa(instance, "vkGetPhysicalDeviceQueueFamilyProperties"));
  if (!enum_pd || !get_qf) return Error(Errc::vulkan, EIO, "the instance has no vkEnumeratePhysicalDevices");
  std::uint32_t n = 0;
  if (VkResult r = enum_pd(instance, &n, nullptr); r != VK_SUCCESS)
    return vulkan_error(r, "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> pds(n);
  if (VkResult r = enum_pd(instance, &n, pds.data()); r != VK_SUCCESS && r != VK_INCOMPLETE)
    return vulkan_error(r, "vkEnumeratePhysicalDevices");
  std::vector<VulkanDeviceChoice> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    VulkanDeviceChoice c;
    c.index = i;
    c.physical_device = pds[i];
    auto report = query_vulkan_physical_device(instance, pds[i], gipa);
    if (!report) {
      c.why_not = report.error().message();
      out.push_back(std::move(c));
      continue;
    }
    c.report = std::move(*report);
    std::uint32_t qn = 0;
    get_qf(pds[i], &qn, nullptr);
    std::vector<VkQueueFamilyProperties> qf(qn);
    get_qf(pds[i], &qn, qf.data());
    const bool compute = std::any_of(
        qf.begin(), qf.end(), [](const VkQueueFamilyProperties& q) { return q.queueFlags & VK_QUEUE_COMPUTE_BIT; });
    if (!c.report.timeline_semaphore_feature)
      c.why_not = "no timeline_semaphore feature";
    else if (!compute)
      c.why_not = "no compute queue";
    else if (!c.report.synchronization2_feature)
      c.why_not = "no synchronization2 feature";
    c.usable = c.why_not.empty();
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

VKAPI_ATTR VkBool32 VKAPI_CALL VulkanContext::messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                                 const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                                 void* user) {
  auto* self = static_cast<VulkanContext*>(user);
  const char* text = data && data->pMessage ? data->pMessage : "(no message)";
  if (self && self->options_.on_message) {
    self->options_.on_message(severity, type, text);
  } else {
    std::fprintf(stderr, "vulkan %s: %s\n",
                 severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning", text);
  }
  return VK_FALSE;
}

Result<std::vector<VulkanDeviceChoice>> list_vulkan_devices(PFN_vkGetInstanceProcAddr gipa) {
  VulkanContextOptions options;
  options.application_name = "syncbridge-list";
  auto f = global_fns(gipa);
  if (!f.create_instance) return Error(Errc::vulkan, EIO, "the loader has no vkCreateInstance");
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = options.application_name.c_str();
  app.apiVersion = std::min(instance_version(f), static_cast<std::uint32_t>(VK_API_VERSION_1_3));
  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  if (VkResult r = f.create_instance(&ci, nullptr, &instance); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateInstance");
  auto out = enumerate(instance, gipa);
  auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(gipa(instance, "vkDestroyInstance"));
  if (destroy) destroy(instance, nullptr);
  return out;
}

Result<std::unique_ptr<VulkanContext>> VulkanContext::create(PFN_vkGetInstanceProcAddr gipa,
                                                             VulkanContextOptions options) {
  if (!gipa) return Error(Errc::invalid_argument, EINVAL, "VulkanContext::create: no vkGetInstanceProcAddr");
  std::unique_ptr<VulkanContext> ctx(new VulkanContext);
  ctx->gipa_ = gipa;
  ctx->options_ = std::move(options);
  if (auto r = ctx->create_instance(); !r) return std::move(r).error();
  auto choices = enumerate(ctx->instance_, gipa);
  if (!choices) return std::move(choices).error();
  ctx->choices_ = std::move(*choices);
  if (ctx->choices_.empty())
    return Error(Errc::not_found, ENODEV, "no Vulkan physical device (no ICD found by the loader)");
  auto chosen = ctx->pick_physical_device();
  if (!chosen) return std::move(chosen).error();
  if (auto r = ctx->create_device(**chosen); !r) return std::move(r).error();
  return ctx;
}

// The instance (validation layer and debug messenger as the options ask), at the loader's
// version capped to 1.3.
Result<void> VulkanContext::create_instance() {
  auto f = global_fns(gipa_);
  if (!f.create_instance) return Error(Errc::vulkan, EIO, "the loader has no vkCreateInstance");
  const std::uint32_t loader_version = instance_version(f);
  if (loader_version < VK_API_VERSION_1_2)
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "the Vulkan loader is version " + vulkan_version_string(loader_version) + "; 1.2 or later is needed");
  api_version_ = std::min(loader_version, static_cast<std::uint32_t>(VK_API_VERSION_1_3));

  std::vector<const char*> layers;
  if (options_.validation) {
    if (has_layer(f, validation_layer)) {
      layers.push_back(validation_layer);
      validation_ = true;
    } else if (!options_.validation_optional) {
      return Error(Errc::not_found, ENOENT,
                   std::string(validation_layer) +
                       " is not installed (Debian: vulkan-validationlayers; or set "
                       "VK_LAYER_PATH to a folder holding VkLayer_khronos_validation.json)");
    }
  }
  std::vector<const char*> instance_exts;
  const bool debug_utils = has_instance_ext(f, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) || validation_;
  if (debug_utils) instance_exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  const VkDebugUtilsMessengerCreateInfoEXT mci =
      messenger_info(options_.verbose_messages, this, &VulkanContext::messenger_callback);

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = options_.application_name.c_str();
  app.pEngineName = "syncbridge";
  app.apiVersion = api_version_;
  VkInstanceCreateInfo ici{};
  ici.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ici.pNext = debug_utils ? &mci : nullptr;  // messages from vkCreateInstance/vkDestroyInstance too
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<std::uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<std::uint32_t>(instance_exts.size());
  ici.ppEnabledExtensionNames = instance_exts.data();
  if (VkResult r = f.create_instance(&ici, nullptr, &instance_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateInstance");
  if (debug_utils) {
    auto create_messenger = instance_fn<PFN_vkCreateDebugUtilsMessengerEXT>("vkCreateDebugUtilsMessengerEXT");
    if (create_messenger) {
      if (VkResult r = create_messenger(instance_, &mci, nullptr, &messenger_); r != VK_SUCCESS)
        return vulkan_error(r, "vkCreateDebugUtilsMessengerEXT");
    }
  }
  return {};
}

// The device the options name (an index or a name substring), or the best usable one.
Result<const VulkanDeviceChoice*> VulkanContext::pick_physical_device() const {
  const std::string& wanted = options_.device;
  const VulkanDeviceChoice* chosen = nullptr;
  if (wanted.empty()) {
    for (const auto& c : choices_)
      if (c.usable && (!chosen || type_score(c.report.device_type) > type_score(chosen->report.device_type)))
        chosen = &c;
    if (chosen) return chosen;
    std::string why;
    for (const auto& c : choices_) why += " [" + c.report.device_name + ": " + c.why_not + "]";
    return Error(Errc::unsupported, EOPNOTSUPP, "no usable Vulkan device:" + why);
  }
  const bool numeric = std::all_of(wanted.begin(), wanted.end(), [](unsigned char ch) { return std::isdigit(ch); });
  for (const auto& c : choices_) {
    if (numeric ? std::to_string(c.index) == wanted
                : lower(c.report.device_name).find(lower(wanted)) != std::string::npos) {
      chosen = &c;
      break;
    }
  }
  if (!chosen) return Error(Errc::not_found, ENODEV, "no Vulkan device matches --device '" + wanted + "'");
  if (!chosen->usable)
    return Error(Errc::unsupported, EOPNOTSUPP, "Vulkan device " + chosen->report.device_name + ": " + chosen->why_not);
  return chosen;
}

// The VkDevice on `chosen`: one queue of a compute family, timelineSemaphore and
// synchronization2 enabled, every extension the bridge can use; then its VulkanDevice.
Result<void> VulkanContext::create_device(const VulkanDeviceChoice& chosen) {
  physical_device_ = chosen.physical_device;
  const auto& report = chosen.report;
  queue_family_ = compute_queue_family(
      instance_fn<PFN_vkGetPhysicalDeviceQueueFamilyProperties>("vkGetPhysicalDeviceQueueFamilyProperties"),
      physical_device_);
  extensions_ = vulkan_bridge_device_extensions(report);
  DeviceFeatures features(std::min(report.api_version, api_version_));
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{};
  qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{};
  dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  dci.pNext = &features.f12;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<std::uint32_t>(extensions_.size());
  dci.ppEnabledExtensionNames = extensions_.data();
  auto create_device = instance_fn<PFN_vkCreateDevice>("vkCreateDevice");
  if (VkResult r = create_device(physical_device_, &dci, nullptr, &device_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateDevice (" + report.device_name + ")");
  gdpa_ = instance_fn<PFN_vkGetDeviceProcAddr>("vkGetDeviceProcAddr");
  auto get_queue = device_fn<PFN_vkGetDeviceQueue>("vkGetDeviceQueue");
  get_queue(device_, queue_family_, 0, &queue_);

  VulkanDeviceInfo info;
  info.instance = instance_;
  info.physical_device = physical_device_;
  info.device = device_;
  info.get_instance_proc_addr = gipa_;
  info.get_device_proc_addr = gdpa_;
  info.enabled_extensions = extensions_;
  info.timeline_semaphore_enabled = true;
  info.synchronization2_enabled = true;
  auto dev = VulkanDevice::create(info);
  if (!dev) return std::move(dev).error();
  bridge_device_ = std::make_unique<VulkanDevice>(std::move(*dev));
  return {};
}

VulkanContext::~VulkanContext() {
  if (device_ != VK_NULL_HANDLE) {
    auto wait_idle = device_fn<PFN_vkDeviceWaitIdle>("vkDeviceWaitIdle");
    if (wait_idle) (void)wait_idle(device_);
    auto destroy_device = device_fn<PFN_vkDestroyDevice>("vkDestroyDevice");
    if (destroy_device) destroy_device(device_, nullptr);
  }
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy_messenger = instance_fn<PFN_vkDestroyDebugUtilsMessengerEXT>("vkDestroyDebugUtilsMessengerEXT");
    if (destroy_messenger) destroy_messenger(instance_, messenger_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) {
    auto destroy_instance = instance_fn<PFN_vkDestroyInstance>("vkDestroyInstance");
    if (destroy_instance) destroy_instance(instance_, nullptr);
  }
}

}  // namespace syncbridge
