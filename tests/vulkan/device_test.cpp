// VulkanDevice: dispatch loading, capability probing, typed errors.
#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

class VulkanDeviceTest : public VulkanTest {};

TEST_F(VulkanDeviceTest, CapabilitiesAreProbedOnceAndDescribed) {
  const auto& d = device();
  EXPECT_TRUE(d.has(VulkanCaps::timeline_semaphore));
  EXPECT_TRUE(d.has(VulkanCaps::synchronization2));
  const auto& r = d.report();
  EXPECT_FALSE(r.device_name.empty());
  ASSERT_EQ(r.handles.size(), 2u);
  EXPECT_STREQ(r.handles[0].handle_type, "SYNC_FD");
  EXPECT_STREQ(r.handles[1].handle_type, "OPAQUE_FD");
  const std::string text = d.description();
  EXPECT_NE(text.find("timeline_semaphore"), std::string::npos) << text;
  EXPECT_NE(text.find(vulkan_driver_id_name(r.driver_id)), std::string::npos) << text;
  // The device's caps are the driver's, limited to what was enabled: never more.
  EXPECT_EQ(d.caps() & r.caps, d.caps() & ~VulkanCaps::opaque_fd_is_syncobj);
  // Nothing is claimed without the extension's entry points.
  if (!d.dispatch().import_semaphore_fd) {
    EXPECT_FALSE(d.has(VulkanCaps::sync_fd_semaphore_import));
    EXPECT_FALSE(d.has(VulkanCaps::opaque_fd_timeline_import));
  }
  // OPAQUE_FD is a syncobj only for Mesa DRM drivers, and never confirmed by the probe alone.
  EXPECT_FALSE(d.has(VulkanCaps::opaque_fd_is_syncobj));
  if (!vulkan_driver_uses_drm_syncobj(r.driver_id)) {
    EXPECT_FALSE(d.has(VulkanCaps::opaque_fd_maybe_syncobj));
  }
  std::printf("device: %s\n", text.c_str());
}

TEST_F(VulkanDeviceTest, SyncFdCapsAreExactlyWhatTheDriverReports) {
  // No fixed fact about one driver version: the caps follow the driver's own answers to
  // vkGetPhysicalDevice*ExternalSemaphoreProperties, and need the extension to be offered.
  const auto& r = device().report();
  const VulkanHandleSupport& sync_fd = r.handles[0];
  ASSERT_STREQ(sync_fd.handle_type, "SYNC_FD");
  EXPECT_EQ(device().has(VulkanCaps::sync_fd_semaphore_import), r.has_external_semaphore_fd && sync_fd.binary_import);
  EXPECT_EQ(device().has(VulkanCaps::sync_fd_semaphore_export), r.has_external_semaphore_fd && sync_fd.binary_export);
  if (!r.has_external_semaphore_fd) {
    EXPECT_FALSE(sync_fd.binary_import || sync_fd.binary_export) << "SYNC_FD reported without the extension";
  }
  // Where the run says the driver must have the native paths (the VM on a driver with them).
  if (require_native_paths()) {
    EXPECT_TRUE(device().has(VulkanCaps::sync_fd_semaphore_import)) << device().description();
    EXPECT_TRUE(device().has(VulkanCaps::sync_fd_semaphore_export)) << device().description();
  }
}

TEST_F(VulkanDeviceTest, DeviceWithoutTimelineFeatureIsRefusedWithTheMissingCapability) {
  VulkanDeviceInfo info = device_info();
  info.timeline_semaphore_enabled = false;  // as if the application had not enabled it
  auto d = VulkanDevice::create(info);
  SB_EXPECT_ERROR(d, Errc::unsupported, 0);
  EXPECT_NE(d.error().message().find("timeline_semaphore"), std::string::npos) << d.error().message();
  EXPECT_NE(d.error().message().find("did not enable"), std::string::npos) << d.error().message();
}

TEST_F(VulkanDeviceTest, MissingHandlesAreInvalidArguments) {
  SB_EXPECT_ERROR(VulkanDevice::create(VulkanDeviceInfo{}), Errc::invalid_argument, EINVAL);
}

TEST_F(VulkanDeviceTest, ExtensionsNotEnabledAreNotLoaded) {
  VulkanDeviceInfo info = device_info();
  info.enabled_extensions = {};  // the features enabled, no extension
  auto d = VulkanDevice::create(info);
  SB_ASSERT_OK(d);
  EXPECT_EQ(d->dispatch().import_semaphore_fd, nullptr);
  EXPECT_EQ(d->dispatch().get_fence_fd, nullptr);
  EXPECT_FALSE(d->has(VulkanCaps::sync_fd_semaphore_import));
  EXPECT_FALSE(d->has(VulkanCaps::sync_fd_semaphore_export));
  EXPECT_TRUE(d->has(VulkanCaps::timeline_semaphore));
}

TEST_F(VulkanDeviceTest, VulkanErrorsCarryTheVkResult) {
  Error e = vulkan_error(VK_ERROR_DEVICE_LOST, "vkQueueSubmit2");
  EXPECT_EQ(e.code(), Errc::vulkan);
  EXPECT_EQ(e.vk_result(), VK_ERROR_DEVICE_LOST);
  EXPECT_EQ(e.sys_errno(), EIO);
  EXPECT_NE(e.message().find("VK_ERROR_DEVICE_LOST"), std::string::npos);
  EXPECT_EQ(describe(VulkanCaps::none), "none");
  EXPECT_EQ(describe(VulkanCaps::timeline_semaphore | VulkanCaps::sync_fd_fence_export),
            "timeline_semaphore|sync_fd_fence_export");
}

TEST_F(VulkanDeviceTest, BridgeNeedsTimelineSemaphores) {
  auto b = VulkanBridge::create(device());
  SB_ASSERT_OK(b);
  EXPECT_EQ((*b)->stats().semaphores, 0u);
}

}  // namespace
}  // namespace syncbridge::testing

namespace syncbridge::testing {
namespace {

// Proves the messenger is wired: a deliberate misuse must be reported (and is then cleared,
// so that this test passes). Every other test fails on any such message.
TEST_F(VulkanDeviceTest, ValidationLayerReportsMisuse) {
  if (!ctx().validation_enabled()) GTEST_SKIP() << "running without VK_LAYER_KHRONOS_validation";
  VkSemaphoreTypeCreateInfo type{};
  type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  type.initialValue = 5;
  VkSemaphoreCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
  ci.pNext = &type;
  VkSemaphore s = VK_NULL_HANDLE;
  ASSERT_EQ(device().dispatch().create_semaphore(ctx().device(), &ci, nullptr, &s), VK_SUCCESS);
  VkSemaphoreSignalInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
  si.semaphore = s;
  si.value = 3;  // below the current value: VUID-VkSemaphoreSignalInfo-value-03258
  (void)device().dispatch().signal_semaphore(ctx().device(), &si);
  device().dispatch().destroy_semaphore(ctx().device(), s, nullptr);
  auto messages = take_messages();
  ASSERT_FALSE(messages.empty()) << "the validation layer reported nothing for a backwards signal";
  EXPECT_NE(messages[0].find("03258"), std::string::npos) << messages[0];
}

}  // namespace
}  // namespace syncbridge::testing
