// VulkanCompletionStream: GPU -> CPU, both paths; faults injected through the app's proc-addr.
#include <atomic>
#include <cstring>
#include <thread>

#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

class VulkanCompletionTest : public VulkanTest {};

// timeline_wait: a partly released queue shows its progress point by point. (On sync_fd_export
// a driver may hold every export until the queue drains, lavapipe 25 does: see below.)
TEST_F(VulkanCompletionTest, PointsSignalInOrderWhenTheGpuIsDone) {
  auto [stream, bridge, t] = make_rig({.allow_sync_fd_export = false});
  ASSERT_TRUE(stream && bridge);
  auto batch = gate_on_points(*bridge, *stream, t, 16);
  SB_ASSERT_OK(batch);
  SB_EXPECT_ERROR(stream->fence_at(17), Errc::invalid_argument, EINVAL);  // 16 points prepared, no more
  const auto done = fences_of(*batch);
  SB_ASSERT_OK(t.signal_to(8));
  EXPECT_TRUE(signals_within(done[7], 5s));
  EXPECT_EQ(done[8].status(), FenceStatus::pending);  // its input is still gated
  EXPECT_GE(stream->completed_point(), 8u);
  EXPECT_LT(stream->completed_point(), 9u);
  SB_ASSERT_OK(t.signal_to(16));
  EXPECT_TRUE(signals_within(done[15], 5s));
  for (auto& d : done) EXPECT_EQ(d.status(), FenceStatus::signaled);
  for (std::size_t i = 1; i < done.size(); ++i) EXPECT_LE(*done[i - 1].timestamp(), *done[i].timestamp());
  EXPECT_FALSE(stream->error().has_value());
}

// wait() signals the Timeline itself; points nobody waits on directly still complete through
// the helper (at most its grace period later). The direct wait is timeline_wait's.
TEST_F(VulkanCompletionTest, DirectWaitsAndFenceObserversBothComplete) {
  auto [stream, bridge, t] = make_rig({.allow_sync_fd_export = false});
  ASSERT_TRUE(stream && bridge);
  auto batch = gate_on_points(*bridge, *stream, t, 6);
  SB_ASSERT_OK(batch);
  const auto done = fences_of(*batch);
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
  for (std::size_t i = 3; i < 6; ++i) EXPECT_TRUE(signals_within(done[i], 5s));
  SB_EXPECT_ERROR(stream->wait(1, -1ns), Errc::invalid_argument, 0);
}

TEST_F(VulkanCompletionTest, FallbackIsTimelineWaitOnLavapipe) {
  auto stream = make_stream();
  ASSERT_TRUE(stream);
  if (device().has(VulkanCaps::sync_fd_semaphore_export))
    EXPECT_EQ(stream->path(), VulkanCompletionPath::sync_fd_export);
  else
    EXPECT_EQ(stream->path(), VulkanCompletionPath::timeline_wait);
  auto forced = make_stream({.allow_sync_fd_export = false});
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
  auto d = submit_ungated(*stream);  // point 2
  SB_ASSERT_OK(d);
  EXPECT_TRUE(signals_within(*d, 5s));
  auto f1 = stream->fence_at(1);
  SB_ASSERT_OK(f1);
  EXPECT_EQ(f1->status(), FenceStatus::signaled);
  SB_EXPECT_ERROR(stream->fence_at(3), Errc::invalid_argument, 0);
}

TEST_F(VulkanCompletionTest, ShutdownClosesPendingFences) {
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  auto g = gate_on_points(*bridge, *stream, t, 1);
  SB_ASSERT_OK(g);
  SB_ASSERT_OK(t.advance());
  queue_wait_idle();  // the GPU is done; shutting the stream down is now allowed
  stream->shutdown();
  // Either the helper saw it first (signaled) or shutdown closed it (error): never pending.
  EXPECT_NE((*g)[0].done.status(), FenceStatus::pending);
  SB_EXPECT_ERROR(stream->prepare(), Errc::invalid_handle, 0);
}

TEST_F(VulkanCompletionTest, ExportsSyncFileWhereSupported) {
  SB_REQUIRE_VK_CAP(VulkanCaps::sync_fd_semaphore_export);
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  ASSERT_EQ(stream->path(), VulkanCompletionPath::sync_fd_export);
  auto batch = gate_on_points(*bridge, *stream, t, 32);
  SB_ASSERT_OK(batch);
  const auto done = fences_of(*batch);
  EXPECT_EQ(done.back().status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(32));
  for (auto& d : done) EXPECT_TRUE(signals_within(d, 20s));
  for (std::size_t i = 1; i < done.size(); ++i) EXPECT_LE(*done[i - 1].timestamp(), *done[i].timestamp());
  EXPECT_FALSE(stream->error().has_value());
}

// sync_fd_export with the caller's Watcher: the exported sync_files are watched there, and the
// stream starts no watcher thread (its exporter thread only).
TEST_F(VulkanCompletionTest, ExportedSyncFilesCompleteThroughTheCallersWatcher) {
  SB_REQUIRE_VK_CAP(VulkanCaps::sync_fd_semaphore_export);
  auto watcher = make_watcher();
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  const std::size_t threads_before = thread_count();
  auto stream = make_stream({.watcher = watcher});
  ASSERT_TRUE(stream);
  ASSERT_EQ(stream->path(), VulkanCompletionPath::sync_fd_export);
  EXPECT_EQ(thread_count(), threads_before + 1) << "more than the exporter thread started";
  auto t = make_core_timeline();
  auto batch = gate_on_points(*bridge, *stream, t, 8);
  SB_ASSERT_OK(batch);
  SB_ASSERT_OK(t.signal_to(8));
  for (auto& d : fences_of(*batch)) EXPECT_TRUE(signals_within(d, 20s));
  EXPECT_FALSE(stream->error().has_value());
}

// ---- Regressions: a direct wait must not starve the other points; a stream may be destroyed
// from its own completion callback; an abandoned last point completes.

// Frame 2's input is released by frame 1's completion callback while a consumer already sits in
// wait(2): the helper must still observe frame 1. (Valid whatever the timing; with the consumer
// inside wait() first, the old helper stayed out of the driver and frame 1 never completed.)
TEST_F(VulkanCompletionTest, DirectWaitDoesNotStarveTheEarlierPointThatReleasesIt) {
  auto [stream, bridge, t] = make_rig({.allow_sync_fd_export = false}, "inputs");
  ASSERT_TRUE(stream && bridge);
  auto batch = gate_on_points(*bridge, *stream, t, 2);
  SB_ASSERT_OK(batch);
  const auto done = fences_of(*batch);
  auto chain = done[0].on_complete([&t](const Fence&) { (void)t.signal_to(2); });
  SB_ASSERT_OK(chain);
  std::atomic<bool> entering{false};
  Result<WaitStatus> consumer_result = WaitStatus::timed_out;
  std::thread consumer([&] {
    entering = true;
    consumer_result = stream->wait(2, 20s);
  });
  while (!entering) std::this_thread::yield();
  step("frame 1 released; the consumer waits for frame 2");
  SB_ASSERT_OK(t.signal_to(1));
  consumer.join();
  SB_ASSERT_OK(consumer_result);
  EXPECT_EQ(*consumer_result, WaitStatus::signaled) << "frame 1's completion was never observed";
  EXPECT_EQ(done[0].status(), FenceStatus::signaled);
}

TEST_F(VulkanCompletionTest, AbandonedLastPointCompletesOnceEarlierPointsDo) {
  auto bridge = make_bridge();
  for (const bool export_path : {false, true}) {
    auto stream = make_stream({.allow_sync_fd_export = export_path});
    ASSERT_TRUE(stream);
    SCOPED_TRACE(path_name(stream->path()));
    auto t = make_core_timeline("input");
    auto first = gate_on_points(*bridge, *stream, t, 1);
    SB_ASSERT_OK(first);
    {
      auto lost = stream->prepare();  // point 2: its submit "failed"
      SB_ASSERT_OK(lost);
      stream->abandon(std::move(*lost));
    }
    auto d2 = stream->fence_at(2);
    SB_ASSERT_OK(d2);
    EXPECT_EQ(d2->status(), FenceStatus::pending) << "point 2 completed before point 1";
    SB_ASSERT_OK(t.signal_to(1));
    step("waiting on the abandoned point 2");
    auto r = stream->wait(2, 20s);
    SB_ASSERT_OK(r);
    EXPECT_EQ(*r, WaitStatus::signaled) << "an abandoned last point must complete (completed point "
                                        << stream->completed_point() << ")";
    // Abandoned with nothing before it: complete at once.
    auto again = stream->prepare();
    SB_ASSERT_OK(again);
    const std::uint64_t p = again->point();
    stream->abandon(std::move(*again));
    auto d3 = stream->fence_at(p);
    SB_ASSERT_OK(d3);
    EXPECT_TRUE(signals_within(*d3, 20s));
  }
}

// The core allows a callback to destroy its timeline; a stream allows the same from the
// callback of one of its own fences (run on its helper, exporter or watcher thread).
TEST_F(VulkanCompletionTest, StreamMayBeDestroyedFromItsOwnFenceCallback) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  for (const bool export_path : {false, true}) {
    auto stream = make_stream({.allow_sync_fd_export = export_path});
    ASSERT_TRUE(stream);
    const std::string path = path_name(stream->path());
    SCOPED_TRACE(path);
    auto d = submit_ungated(*stream);
    SB_ASSERT_OK(d);
    auto destroyed = make_core_timeline("destroyed");
    auto destroyed_fence = destroyed.fence_at(1);
    SB_ASSERT_OK(destroyed_fence);
    auto reg = d->on_complete([&](const Fence&) {
      stream.reset();  // drains the queue, then destroys the stream on its own thread
      (void)destroyed.advance();
    });
    SB_ASSERT_OK(reg);
    reg->detach();
    step("destroying the " + path + " stream from its own callback");
    EXPECT_TRUE(signals_within(*destroyed_fence, 20s)) << "the callback never finished destroying the stream";
    EXPECT_FALSE(stream);
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
    VulkanDeviceInfo info = device_info();
    info.get_device_proc_addr = &lossy_gdpa;
    auto d = VulkanDevice::create(info);
    EXPECT_TRUE(d.ok());
    return std::move(d).value();
  }
};

TEST_F(VulkanFaultTest, DeviceLostOnHostSignalIsATypedErrorOnTheWait) {
  auto dev = lossy_device();
  auto bridge = VulkanBridge::create(dev);
  SB_ASSERT_OK(bridge);
  auto t = make_core_timeline();
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto w = (*bridge)->wait_for(*f);  // not submitted: the "GPU" is lost
  SB_ASSERT_OK(w);
  SB_ASSERT_OK(t.advance());
  auto st = w->status();
  SB_EXPECT_ERROR(st, Errc::vulkan, 0);
  EXPECT_EQ(st.error().vk_result(), VK_ERROR_DEVICE_LOST);
  EXPECT_EQ((*bridge)->stats().signal_failures, 1u);
}

TEST_F(VulkanFaultTest, DeviceLostWhileWaitingClosesTheStreamWithTheError) {
  auto dev = lossy_device();
  auto stream = VulkanCompletionStream::create(dev, {.allow_sync_fd_export = false});
  SB_ASSERT_OK(stream);
  // Submitted for real (nothing gates it), but the helper's vkWaitSemaphores "loses" the device.
  auto d = submit_ungated(**stream);
  SB_ASSERT_OK(d);
  // A lost device must not leave the fence pending or signal it.
  SB_EXPECT_ERROR(d->wait(5s), Errc::fence_error, 0);
  auto e = (*stream)->error();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), Errc::vulkan);
  EXPECT_EQ(e->vk_result(), VK_ERROR_DEVICE_LOST);
  queue_wait_idle();
}

}  // namespace
}  // namespace syncbridge::testing
