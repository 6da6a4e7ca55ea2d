// VulkanBridge: CPU -> GPU waits, every path the machine supports, errors and teardown.
#include <atomic>
#include <thread>

#include "kernel_requirement.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

class VulkanBridgeTest : public VulkanTest {};

// The GPU must not get past a bridged wait before the fence signals, and must after.
TEST_F(VulkanBridgeTest, CoreFenceGatesTheGpuThroughHostSignal) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline();
  auto f = t.fence_at(3);
  SB_ASSERT_OK(f);
  auto wait = bridge->wait_for(*f);
  SB_ASSERT_OK(wait);
  EXPECT_EQ(wait->path(), VulkanWaitPath::host_signal);
  EXPECT_FALSE(wait->released());
  auto done = submit_gated(*stream, *wait);
  SB_ASSERT_OK(done);

  SB_ASSERT_OK(t.advance(2));  // below the point: still gated
  auto r = done->wait(30ms);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::timed_out) << "the GPU ran before its input signaled";
  EXPECT_FALSE(wait->released());

  SB_ASSERT_OK(t.advance(1));
  EXPECT_TRUE(wait->released());  // released synchronously, from the fence's callback
  r = done->wait(5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  SB_ASSERT_OK(wait->status());
  EXPECT_EQ(bridge->stats().waits[static_cast<int>(VulkanWaitPath::host_signal)], 1u);
}

TEST_F(VulkanBridgeTest, AlreadySignaledFenceIsReleasedAtOnce) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline();
  SB_ASSERT_OK(t.advance(5));
  auto f = t.fence_at(4);
  SB_ASSERT_OK(f);
  auto wait = bridge->wait_for(*f);
  SB_ASSERT_OK(wait);
  EXPECT_TRUE(wait->released());
  auto done = submit_gated(*stream, *wait);
  SB_ASSERT_OK(done);
  auto r = done->wait(5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
}

// An errored input must not hang the GPU: the wait is released and the error reported.
TEST_F(VulkanBridgeTest, ErroredFenceReleasesTheGpuAndReportsTheError) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline("closing");
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto wait = bridge->wait_for(*f);
  SB_ASSERT_OK(wait);
  auto done = submit_gated(*stream, *wait);
  SB_ASSERT_OK(done);
  t.close();  // the fence completes with ENOENT
  auto r = done->wait(5s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled) << "the submission was not released";
  auto st = wait->status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::fence_error);
  EXPECT_EQ(st.error().sys_errno(), ENOENT);
  EXPECT_EQ(bridge->stats().input_errors, 1u);
}

TEST_F(VulkanBridgeTest, ManyOutOfOrderInputsEachGateTheirOwnSubmission) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  constexpr int n = 8;
  std::vector<Timeline> timelines;
  std::vector<Fence> done;
  std::vector<VulkanWait> waits;
  for (int i = 0; i < n; ++i) {
    timelines.push_back(make_timeline("t" + std::to_string(i)));
    auto f = timelines.back().fence_at(1);
    SB_ASSERT_OK(f);
    auto w = bridge->wait_for(*f);
    SB_ASSERT_OK(w);
    auto d = submit_gated(*stream, *w);
    SB_ASSERT_OK(d);
    done.push_back(*d);
    waits.push_back(std::move(*w));
  }
  // Signal in reverse: the queue executes in order, so nothing completes until input 0.
  for (int i = n - 1; i >= 1; --i) SB_ASSERT_OK(timelines[static_cast<std::size_t>(i)].advance());
  auto r = done.back().wait(30ms);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::timed_out);
  SB_ASSERT_OK(timelines[0].advance());
  for (auto& d : done) {
    auto s = d.wait(5s);
    SB_ASSERT_OK(s);
    EXPECT_EQ(*s, WaitStatus::signaled);
  }
  // One semaphore per wait outstanding at once; they are pooled, never more than needed.
  EXPECT_LE(bridge->stats().semaphores, static_cast<std::uint64_t>(n));
}

TEST_F(VulkanBridgeTest, PoolReusesSemaphoresWithoutEarlySignals) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline();
  for (std::uint64_t i = 1; i <= 50; ++i) {
    auto f = t.fence_at(i);
    SB_ASSERT_OK(f);
    auto w = bridge->wait_for(*f);
    SB_ASSERT_OK(w);
    auto d = submit_gated(*stream, *w);
    SB_ASSERT_OK(d);
    if (i % 10 == 0) {  // now and then, prove the gate still holds on a reused semaphore
      auto early = d->wait(2ms);
      SB_ASSERT_OK(early);
      EXPECT_EQ(*early, WaitStatus::timed_out) << "point " << i;
    }
    SB_ASSERT_OK(t.advance());
    auto s = d->wait(5s);
    SB_ASSERT_OK(s);
    ASSERT_EQ(*s, WaitStatus::signaled);
  }
  EXPECT_EQ(bridge->stats().semaphores, 1u) << "a released semaphore should be reused";
}

TEST_F(VulkanBridgeTest, ShutdownReleasesPendingWaitsSoTheQueueDrains) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline();
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto w = bridge->wait_for(*f);
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  bridge->shutdown();
  auto s = d->wait(5s);
  SB_ASSERT_OK(s);
  EXPECT_EQ(*s, WaitStatus::signaled);
  auto st = w->status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::timeline_closed);
  auto again = bridge->wait_for(*f);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::invalid_handle);
  SB_ASSERT_OK(t.advance());  // the late callback finds the bridge shut down: nothing happens
}

TEST_F(VulkanBridgeTest, DestroyingTheBridgeBeforeItsInputsCompleteIsSafe) {
  auto t = make_timeline();
  {
    auto bridge = make_bridge();
    ASSERT_TRUE(bridge);
    for (std::uint64_t i = 1; i <= 4; ++i) {
      auto f = t.fence_at(i);
      SB_ASSERT_OK(f);
      auto w = bridge->wait_for(*f);  // never submitted
      SB_ASSERT_OK(w);
    }
  }
  SB_ASSERT_OK(t.advance(4));  // callbacks of a destroyed bridge: no Vulkan call, no crash
}

TEST_F(VulkanBridgeTest, EmptyInputsAreInvalidHandles) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  auto a = bridge->wait_for(Fence());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), Errc::invalid_handle);
  auto b = bridge->wait_for(SyncFile());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), Errc::invalid_handle);
  auto c = bridge->wait_for(VulkanSyncobjTimeline(), 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Errc::invalid_handle);
  VulkanWait empty;
  EXPECT_EQ(empty.status().error().code(), Errc::invalid_handle);
}

TEST_F(VulkanBridgeTest, SyncobjPathNeedsAMesaDrmDriver) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  if (device().has(VulkanCaps::opaque_fd_maybe_syncobj))
    GTEST_SKIP() << "this driver may take syncobjs: covered by the sample's syncobj backend (needs a render node)";
  auto r = bridge->import_syncobj(UniqueFd(::dup(2)));  // any fd: refused before any import
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::unsupported);
  EXPECT_NE(r.error().message().find("sync_file"), std::string::npos) << r.error().message();
}

TEST_F(VulkanBridgeTest, RetireAfterKeepsTheWaitUntilCompletion) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto t = make_timeline();
  auto f = t.fence_at(1);
  SB_ASSERT_OK(f);
  auto w = bridge->wait_for(*f);
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  bridge->retire_after(std::move(*w), *d);
  SB_ASSERT_OK(t.advance());
  auto s = d->wait(5s);
  SB_ASSERT_OK(s);
  EXPECT_EQ(*s, WaitStatus::signaled);
}

// ---- native paths: need a driver with VK_KHR_external_semaphore_fd (a GPU); skipped on lavapipe

TEST_F(VulkanBridgeTest, SyncFileIsImportedAsSyncFdWhereSupported) {
  SB_REQUIRE_VK_CAP(VulkanCaps::sync_fd_semaphore_import);
  SB_REQUIRE_VK_CAP(VulkanCaps::sync_fd_semaphore_export);  // the sync_file source below
  auto file = make_sync_file_from_gpu();
  SB_ASSERT_OK(file);
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto w = bridge->wait_for(*file);
  SB_ASSERT_OK(w);
  EXPECT_EQ(w->path(), VulkanWaitPath::sync_fd_import);
  EXPECT_TRUE(file->valid()) << "the caller's sync_file is borrowed, not consumed";
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  auto s = d->wait(5s);
  SB_ASSERT_OK(s);
  EXPECT_EQ(*s, WaitStatus::signaled);
  queue_wait_idle();
}

TEST_F(VulkanBridgeTest, SyncFileTakesHostSignalWhenImportIsTurnedOff) {
  auto file = make_sync_file_from_gpu();
  if (!file) {
    if (require_native_paths()) FAIL() << "no sync_file source: " << file.error().message();
    GTEST_SKIP() << "no sync_file source on this machine: " << file.error().message();
  }
  VulkanBridgeOptions o;
  o.allow_sync_fd_import = false;
  auto bridge = make_bridge(o);
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto w = bridge->wait_for(*file);
  SB_ASSERT_OK(w);
  EXPECT_EQ(w->path(), VulkanWaitPath::host_signal);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  auto s = d->wait(5s);
  SB_ASSERT_OK(s);
  EXPECT_EQ(*s, WaitStatus::signaled);
  SB_ASSERT_OK(w->status());
  queue_wait_idle();
}

// ---- kernel inputs gating lavapipe (or any device): need sw_sync / a DRM render node, so they
// run in the VM (tests/vm) and skip on the development host.

TEST_F(VulkanBridgeTest, SwSyncFileGatesTheGpu) {
  auto exporter = SwSyncExporter::create("vk-test");
  if (!exporter) SB_SKIP_OR_FAIL_IN_VM("no sw_sync: " + exporter.error().message());
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto file = exporter->sync_file_at(2);
  SB_ASSERT_OK(file);
  auto w = bridge->wait_for(*file);
  SB_ASSERT_OK(w);
  EXPECT_EQ(w->path(), device().has(VulkanCaps::sync_fd_semaphore_import) ? VulkanWaitPath::sync_fd_import
                                                                          : VulkanWaitPath::host_signal);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  SB_ASSERT_OK(exporter->advance(1));
  auto early = d->wait(30ms);
  SB_ASSERT_OK(early);
  EXPECT_EQ(*early, WaitStatus::timed_out) << "the GPU ran before the kernel fence signaled";
  SB_ASSERT_OK(exporter->advance(1));
  auto r = d->wait(10s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  SB_ASSERT_OK(w->status());
  queue_wait_idle();
}

// Regression: every member may be called from any thread, so wait_for() racing shutdown()
// must either get a wait or a clean error, never touch a destroyed Watcher.
TEST_F(VulkanBridgeTest, WaitForRacingShutdownIsSafe) {
  auto exporter = SwSyncExporter::create("vk-race");
  if (!exporter) SB_SKIP_OR_FAIL_IN_VM("no sw_sync: " + exporter.error().message());
  auto file = exporter->sync_file_at(1);
  SB_ASSERT_OK(file);
  VulkanBridgeOptions o;
  o.allow_sync_fd_import = false;  // the watcher path is the one that races
  for (int round = 0; round < 20; ++round) {
    auto bridge = make_bridge(o);
    ASSERT_TRUE(bridge);
    std::atomic<bool> started{false};
    std::atomic<int> unexpected{0};
    std::thread racer([&] {
      for (int i = 0; i < 50; ++i) {
        auto w = bridge->wait_for(*file);
        started = true;
        if (!w && w.error().code() != Errc::invalid_handle) ++unexpected;
      }
    });
    while (!started) std::this_thread::yield();
    bridge->shutdown();
    racer.join();
    EXPECT_EQ(unexpected.load(), 0) << "round " << round;
  }
  SB_ASSERT_OK(exporter->advance(1));
}

TEST_F(VulkanBridgeTest, ErroredSwSyncFileReleasesTheGpu) {
  auto exporter = SwSyncExporter::create("vk-test-close");
  if (!exporter) SB_SKIP_OR_FAIL_IN_VM("no sw_sync: " + exporter.error().message());
  VulkanBridgeOptions o;
  o.allow_sync_fd_import = false;  // the host_signal path is the one that must report it
  auto bridge = make_bridge(o);
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto file = exporter->sync_file_at(1);
  SB_ASSERT_OK(file);
  auto w = bridge->wait_for(*file);
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  exporter->close();  // the kernel fence completes with ENOENT
  auto r = d->wait(10s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled) << "an errored kernel fence must not hang the GPU";
  auto st = w->status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::fence_error);
  queue_wait_idle();
}

// Whichever path the bridge takes (sync_fd_import where the driver imports SYNC_FD, as in the
// VM's native runs), closing the sw_sync exporter releases the GPU.
TEST_F(VulkanBridgeTest, ClosingTheSwSyncExporterReleasesTheGpuOnEveryPath) {
  auto exporter = SwSyncExporter::create("vk-test-close-native");
  if (!exporter) SB_SKIP_OR_FAIL_IN_VM("no sw_sync: " + exporter.error().message());
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto file = exporter->sync_file_at(3);
  SB_ASSERT_OK(file);
  auto w = bridge->wait_for(*file);
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  exporter->close();
  auto r = d->wait(10s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled) << "closing the SwSyncExporter left the GPU waiting (wait path "
                                      << static_cast<int>(w->path()) << ")";
  queue_wait_idle();
}

// Closing the producer is what releases a native GPU wait (shutdown() cannot: see the header's
// "Lifetimes"). Regression: a SyncobjExporter closed before the point left the GPU waiting.
TEST_F(VulkanBridgeTest, ClosingTheSyncobjExporterReleasesTheGpu) {
  auto drm = DrmDevice::open_render_node();
  if (!drm) SB_SKIP_OR_FAIL_IN_VM("no DRM render node with timeline syncobjs: " + drm.error().message());
  auto exporter = SyncobjExporter::create(*drm, "vk-test-close");
  SB_ASSERT_OK(exporter);
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  Result<VulkanWait> w = Error(Errc::unsupported, EOPNOTSUPP, "");
  VulkanSyncobjTimeline imported;
  if (bridge->caps() != VulkanCaps::none && device().has(VulkanCaps::opaque_fd_maybe_syncobj)) {
    auto fd = exporter->export_syncobj_fd();
    SB_ASSERT_OK(fd);
    auto imp = bridge->import_syncobj(std::move(*fd));
    SB_ASSERT_OK(imp);
    imported = *imp;
    w = bridge->wait_for(imported, 5);
  } else {
    w = bridge->wait_for(exporter->syncobj(), 5);  // host_signal through the watcher
  }
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  SB_ASSERT_OK(exporter->advance(2));
  exporter->close();  // point 5 is never reached
  auto r = d->wait(10s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled) << "closing the SyncobjExporter left the GPU waiting on point 5 (wait path "
                                      << static_cast<int>(w->path()) << ")";
  queue_wait_idle();
}

TEST_F(VulkanBridgeTest, SyncobjPointGatesTheGpu) {
  auto drm = DrmDevice::open_render_node();
  if (!drm) SB_SKIP_OR_FAIL_IN_VM("no DRM render node with timeline syncobjs: " + drm.error().message());
  auto exporter = SyncobjExporter::create(*drm, "vk-test");
  SB_ASSERT_OK(exporter);
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  Result<VulkanWait> w = Error(Errc::unsupported, EOPNOTSUPP, "");
  VulkanSyncobjTimeline imported;
  if (bridge->caps() != VulkanCaps::none && device().has(VulkanCaps::opaque_fd_maybe_syncobj)) {
    auto fd = exporter->export_syncobj_fd();
    SB_ASSERT_OK(fd);
    auto imp = bridge->import_syncobj(std::move(*fd));
    SB_ASSERT_OK(imp);
    EXPECT_TRUE(has(bridge->caps(), VulkanCaps::opaque_fd_is_syncobj));
    imported = *imp;
    w = bridge->wait_for(imported, 2);
  } else {
    w = bridge->wait_for(exporter->syncobj(), 2);  // host_signal through the watcher
  }
  SB_ASSERT_OK(w);
  auto d = submit_gated(*stream, *w);
  SB_ASSERT_OK(d);
  SB_ASSERT_OK(exporter->signal_to(1));
  auto early = d->wait(30ms);
  SB_ASSERT_OK(early);
  EXPECT_EQ(*early, WaitStatus::timed_out) << "the GPU ran before the syncobj point signaled";
  SB_ASSERT_OK(exporter->signal_to(2));
  auto r = d->wait(10s);
  SB_ASSERT_OK(r);
  EXPECT_EQ(*r, WaitStatus::signaled);
  queue_wait_idle();
}

}  // namespace
}  // namespace syncbridge::testing
