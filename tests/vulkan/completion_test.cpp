// VulkanCompletionStream: GPU -> CPU, both paths; faults injected through the app's proc-addr.
#include <cstring>
#include <thread>

#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

class VulkanCompletionTest : public VulkanTest {};

TEST_F(VulkanCompletionTest, PointsSignalInOrderWhenTheGpuIsDone) {
  auto stream = make_stream();
  auto bridge = make_bridge();
  ASSERT_TRUE(stream && bridge);
  auto t = make_timeline();
  std::vector<Fence> done;
  for (std::uint64_t i = 1; i <= 16; ++i) {
    auto f = t.fence_at(i);
    SB_ASSERT_OK(f);
    auto w = bridge->wait_for(*f);
    SB_ASSERT_OK(w);
    auto sig = stream->prepare();
    SB_ASSERT_OK(sig);
    EXPECT_EQ(sig->point(), i);
    ASSERT_EQ(submit({w->submit_info()}, {sig->submit_info()}), VK_SUCCESS);
    auto d = stream->submitted(std::move(*sig));
    SB_ASSERT_OK(d);
    done.push_back(*d);
  }
  SB_ASSERT_OK(t.signal_to(8));
  auto r = done[7].wait(5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  EXPECT_EQ(done[8].status(), FenceStatus::pending);  // its input is still gated
  EXPECT_GE(stream->completed_point(), 8u);
  EXPECT_LT(stream->completed_point(), 9u);
  SB_ASSERT_OK(t.signal_to(16));
  r = done[15].wait(5s);
  SB_ASSERT_OK(r);
  for (auto& d : done) EXPECT_EQ(d.status(), FenceStatus::signaled);
  for (std::size_t i = 1; i < done.size(); ++i) EXPECT_LE(*done[i - 1].timestamp(), *done[i].timestamp());
  EXPECT_FALSE(stream->error().has_value());
}

// wait() signals the Timeline itself; points nobody waits on directly still complete through
// the helper (at most its grace period later).
TEST_F(VulkanCompletionTest, DirectWaitsAndFenceObserversBothComplete) {
  auto stream = make_stream();
  auto bridge = make_bridge();
  ASSERT_TRUE(stream && bridge);
  auto t = make_timeline();
  std::vector<Fence> done;
  for (std::uint64_t i = 1; i <= 6; ++i) {
    auto f = t.fence_at(i);
    SB_ASSERT_OK(f);
    auto w = bridge->wait_for(*f);
    SB_ASSERT_OK(w);
    auto sig = stream->prepare();
    SB_ASSERT_OK(sig);
    ASSERT_EQ(submit({w->submit_info()}, {sig->submit_info()}), VK_SUCCESS);
    auto d = stream->submitted(std::move(*sig));
    SB_ASSERT_OK(d);
    done.push_back(*d);
  }
  auto early = stream->wait(2, 5ms);
  SB_ASSERT_OK(early);
  EXPECT_EQ(*early, WaitStatus::timed_out);
  SB_ASSERT_OK(t.signal_to(3));
  auto r = stream->wait(3, 5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  EXPECT_EQ(done[2].status(), FenceStatus::signaled);  // signaled by the waiting thread
  EXPECT_EQ(done[3].status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(6));  // nobody waits directly on 4..6: the helper signals them
  for (std::size_t i = 3; i < 6; ++i) {
    auto s = done[i].wait(5s);
    SB_ASSERT_OK(s);
    EXPECT_EQ(*s, WaitStatus::signaled);
  }
  auto bad = stream->wait(1, -1ns);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
}

TEST_F(VulkanCompletionTest, FallbackIsTimelineWaitOnLavapipe) {
  auto stream = make_stream();
  ASSERT_TRUE(stream);
  if (device().has(VulkanCaps::sync_fd_semaphore_export)) EXPECT_EQ(stream->path(), VulkanCompletionPath::sync_fd_export);
  else EXPECT_EQ(stream->path(), VulkanCompletionPath::timeline_wait);
  VulkanCompletionStreamOptions o;
  o.allow_sync_fd_export = false;
  auto forced = make_stream(o);
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->path(), VulkanCompletionPath::timeline_wait);
}

TEST_F(VulkanCompletionTest, AbandonedSignalDoesNotHoldUpLaterPoints) {
  auto stream = make_stream();
  ASSERT_TRUE(stream);
  {
    auto lost = stream->prepare();  // "the submit failed": dropped without submitting
    SB_ASSERT_OK(lost);
  }
  auto sig = stream->prepare();
  SB_ASSERT_OK(sig);
  EXPECT_EQ(sig->point(), 2u);
  ASSERT_EQ(submit({}, {sig->submit_info()}), VK_SUCCESS);
  auto d = stream->submitted(std::move(*sig));
  SB_ASSERT_OK(d);
  auto r = d->wait(5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  auto f1 = stream->fence_at(1);
  SB_ASSERT_OK(f1);
  EXPECT_EQ(f1->status(), FenceStatus::signaled);
  auto future = stream->fence_at(3);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code(), Errc::invalid_argument);
}

TEST_F(VulkanCompletionTest, ShutdownClosesPendingFences) {
  auto stream = make_stream();
  auto bridge = make_bridge();
  ASSERT_TRUE(stream && bridge);
  auto t = make_timeline();
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto w = bridge->wait_for(*f);
  SB_ASSERT_OK(w);
  auto sig = stream->prepare();
  SB_ASSERT_OK(sig);
  ASSERT_EQ(submit({w->submit_info()}, {sig->submit_info()}), VK_SUCCESS);
  auto d = stream->submitted(std::move(*sig));
  SB_ASSERT_OK(d);
  SB_ASSERT_OK(t.advance());
  queue_wait_idle();  // the GPU is done; shutting the stream down is now allowed
  stream->shutdown();
  // Either the helper saw it first (signaled) or shutdown closed it (error): never pending.
  EXPECT_NE(d->status(), FenceStatus::pending);
  auto again = stream->prepare();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::invalid_handle);
}

TEST_F(VulkanCompletionTest, ExportsSyncFileWhereSupported) {
  if (!device().has(VulkanCaps::sync_fd_semaphore_export))
    GTEST_SKIP() << "device lacks sync_fd_semaphore_export (" << device().report().device_name << ")";
  auto stream = make_stream();
  auto bridge = make_bridge();
  ASSERT_TRUE(stream && bridge);
  ASSERT_EQ(stream->path(), VulkanCompletionPath::sync_fd_export);
  auto t = make_timeline();
  std::vector<Fence> done;
  for (std::uint64_t i = 1; i <= 32; ++i) {
    auto f = t.fence_at(i);
    SB_ASSERT_OK(f);
    auto w = bridge->wait_for(*f);
    SB_ASSERT_OK(w);
    auto sig = stream->prepare();
    SB_ASSERT_OK(sig);
    ASSERT_EQ(submit({w->submit_info()}, {sig->submit_info()}), VK_SUCCESS);
    auto d = stream->submitted(std::move(*sig));
    SB_ASSERT_OK(d);
    done.push_back(*d);
  }
  EXPECT_EQ(done.back().status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(32));
  for (auto& d : done) {
    auto r = d.wait(5s);
    SB_ASSERT_OK(r);
    EXPECT_EQ(*r, WaitStatus::signaled);
  }
}

// ---- Faults, injected through the application's vkGetDeviceProcAddr (the bridge only calls
// what it was given): a lost device on vkSignalSemaphore and vkWaitSemaphores.

PFN_vkGetDeviceProcAddr g_real_gdpa = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL lost_signal(VkDevice, const VkSemaphoreSignalInfo*) { return VK_ERROR_DEVICE_LOST; }
VKAPI_ATTR VkResult VKAPI_CALL lost_wait(VkDevice, const VkSemaphoreWaitInfo*, std::uint64_t) {
  return VK_ERROR_DEVICE_LOST;
}
VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL lossy_gdpa(VkDevice device, const char* name) {
  if (!std::strcmp(name, "vkSignalSemaphore") || !std::strcmp(name, "vkSignalSemaphoreKHR"))
    return reinterpret_cast<PFN_vkVoidFunction>(&lost_signal);
  if (!std::strcmp(name, "vkWaitSemaphores") || !std::strcmp(name, "vkWaitSemaphoresKHR"))
    return reinterpret_cast<PFN_vkVoidFunction>(&lost_wait);
  return g_real_gdpa(device, name);
}

class VulkanFaultTest : public VulkanTest {
 protected:
  VulkanDevice lossy_device() {
    g_real_gdpa = ctx().get_device_proc_addr();
    VulkanDeviceInfo info;
    info.instance = ctx().instance();
    info.physical_device = ctx().physical_device();
    info.device = ctx().device();
    info.get_instance_proc_addr = ctx().get_instance_proc_addr();
    info.get_device_proc_addr = &lossy_gdpa;
    info.enabled_extensions = ctx().enabled_extensions();
    info.timeline_semaphore_enabled = true;
    info.synchronization2_enabled = true;
    auto d = VulkanDevice::create(info);
    EXPECT_TRUE(d.ok());
    return std::move(d).value();
  }
};

TEST_F(VulkanFaultTest, DeviceLostOnHostSignalIsATypedErrorOnTheWait) {
  auto dev = lossy_device();
  auto bridge = VulkanBridge::create(dev);
  SB_ASSERT_OK(bridge);
  auto t = make_timeline();
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto w = (*bridge)->wait_for(*f);  // not submitted: the "GPU" is lost
  SB_ASSERT_OK(w);
  SB_ASSERT_OK(t.advance());
  auto st = w->status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::vulkan);
  EXPECT_EQ(st.error().vk_result(), VK_ERROR_DEVICE_LOST);
  EXPECT_EQ((*bridge)->stats().signal_failures, 1u);
}

TEST_F(VulkanFaultTest, DeviceLostWhileWaitingClosesTheStreamWithTheError) {
  auto dev = lossy_device();
  VulkanCompletionStreamOptions o;
  o.allow_sync_fd_export = false;
  auto stream = VulkanCompletionStream::create(dev, o);
  SB_ASSERT_OK(stream);
  auto sig = (*stream)->prepare();
  SB_ASSERT_OK(sig);
  // Submitted for real (nothing gates it), but the helper's vkWaitSemaphores "loses" the device.
  ASSERT_EQ(submit({}, {sig->submit_info()}), VK_SUCCESS);
  auto d = (*stream)->submitted(std::move(*sig));
  SB_ASSERT_OK(d);
  auto r = d->wait(5s);
  ASSERT_FALSE(r.ok()) << "a lost device must not leave the fence pending or signal it";
  EXPECT_EQ(r.error().code(), Errc::fence_error);
  auto e = (*stream)->error();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), Errc::vulkan);
  EXPECT_EQ(e->vk_result(), VK_ERROR_DEVICE_LOST);
  queue_wait_idle();
}

}  // namespace
}  // namespace syncbridge::testing
