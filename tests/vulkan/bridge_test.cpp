// VulkanBridge: CPU -> GPU waits, every path the machine supports, errors and teardown.
#include <poll.h>

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
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  auto g = gate(*stream, bridge->wait_for(must(t.fence_at(3))));
  SB_ASSERT_OK(g);
  EXPECT_EQ(g->wait.path(), VulkanWaitPath::host_signal);
  EXPECT_FALSE(g->wait.released());

  SB_ASSERT_OK(t.advance(2));  // below the point: still gated
  EXPECT_TRUE(pending_after(g->done, 30ms)) << "the GPU ran before its input signaled";
  EXPECT_FALSE(g->wait.released());

  SB_ASSERT_OK(t.advance(1));
  EXPECT_TRUE(g->wait.released());  // released synchronously, from the fence's callback
  EXPECT_TRUE(signals_within(g->done, 5s));
  SB_ASSERT_OK(g->wait.status());
  EXPECT_EQ(bridge->stats().waits[static_cast<int>(VulkanWaitPath::host_signal)], 1u);
}

TEST_F(VulkanBridgeTest, AlreadySignaledFenceIsReleasedAtOnce) {
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  SB_ASSERT_OK(t.advance(5));
  auto g = gate(*stream, bridge->wait_for(must(t.fence_at(4))));
  SB_ASSERT_OK(g);
  EXPECT_TRUE(g->wait.released());
  EXPECT_TRUE(signals_within(g->done, 5s));
}

// An errored input must not hang the GPU: the wait is released and the error reported.
TEST_F(VulkanBridgeTest, ErroredFenceReleasesTheGpuAndReportsTheError) {
  auto [stream, bridge, t] = make_rig({}, "closing");
  ASSERT_TRUE(stream && bridge);
  auto g = gate_on_points(*bridge, *stream, t, 1);
  SB_ASSERT_OK(g);
  t.close();  // the fence completes with ENOENT
  EXPECT_TRUE(signals_within((*g)[0].done, 5s)) << "the submission was not released";
  SB_EXPECT_ERROR((*g)[0].wait.status(), Errc::fence_error, ENOENT);
  EXPECT_EQ(bridge->stats().input_errors, 1u);
}

TEST_F(VulkanBridgeTest, ManyOutOfOrderInputsEachGateTheirOwnSubmission) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  constexpr int n = 8;
  std::vector<Timeline> timelines;
  std::vector<Gated> gated;
  for (int i = 0; i < n; ++i) {
    timelines.push_back(make_core_timeline("t" + std::to_string(i)));
    auto g = gate(*stream, bridge->wait_for(must(timelines.back().fence_at(1))));
    SB_ASSERT_OK(g);
    gated.push_back(std::move(*g));
  }
  // Signal in reverse: the queue executes in order, so nothing completes until input 0.
  for (int i = n - 1; i >= 1; --i) SB_ASSERT_OK(timelines[static_cast<std::size_t>(i)].advance());
  EXPECT_TRUE(pending_after(gated.back().done, 30ms));
  SB_ASSERT_OK(timelines[0].advance());
  for (auto& g : gated) EXPECT_TRUE(signals_within(g.done, 5s));
  // One semaphore per wait outstanding at once; they are pooled, never more than needed.
  EXPECT_LE(bridge->stats().semaphores, static_cast<std::uint64_t>(n));
}

TEST_F(VulkanBridgeTest, PoolReusesSemaphoresWithoutEarlySignals) {
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  for (std::uint64_t i = 1; i <= 50; ++i) {
    auto g = gate(*stream, bridge->wait_for(must(t.fence_at(i))));
    SB_ASSERT_OK(g);
    // Now and then, prove the gate still holds on a reused semaphore.
    if (i % 10 == 0) {
      EXPECT_TRUE(pending_after(g->done, 2ms)) << "point " << i;
    }
    SB_ASSERT_OK(t.advance());
    ASSERT_TRUE(signals_within(g->done, 5s)) << "point " << i;
  }
  EXPECT_EQ(bridge->stats().semaphores, 1u) << "a released semaphore should be reused";
}

TEST_F(VulkanBridgeTest, ShutdownReleasesPendingWaitsSoTheQueueDrains) {
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  auto g = gate_on_points(*bridge, *stream, t, 1);
  SB_ASSERT_OK(g);
  bridge->shutdown();
  EXPECT_TRUE(signals_within((*g)[0].done, 5s));
  SB_EXPECT_ERROR((*g)[0].wait.status(), Errc::timeline_closed, 0);
  SB_EXPECT_ERROR(bridge->wait_for(must(t.fence_at(1))), Errc::invalid_handle, 0);
  SB_ASSERT_OK(t.advance());  // the late callback finds the bridge shut down: nothing happens
}

TEST_F(VulkanBridgeTest, DestroyingTheBridgeBeforeItsInputsCompleteIsSafe) {
  auto t = make_core_timeline();
  {
    auto bridge = make_bridge();
    ASSERT_TRUE(bridge);
    for (std::uint64_t i = 1; i <= 4; ++i) SB_ASSERT_OK(bridge->wait_for(must(t.fence_at(i))));  // never submitted
  }
  SB_ASSERT_OK(t.advance(4));  // callbacks of a destroyed bridge: no Vulkan call, no crash
}

TEST_F(VulkanBridgeTest, EmptyInputsAreInvalidHandles) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  SB_EXPECT_ERROR(bridge->wait_for(Fence()), Errc::invalid_handle, 0);
  SB_EXPECT_ERROR(bridge->wait_for(SyncFile()), Errc::invalid_handle, 0);
  const SyncFile empty_file;
  SB_EXPECT_ERROR(bridge->wait_for(empty_file), Errc::invalid_handle, 0);
  SB_EXPECT_ERROR(bridge->wait_for(VulkanSyncobjTimeline(), 1), Errc::invalid_handle, 0);
  SB_EXPECT_ERROR(VulkanWait().status(), Errc::invalid_handle, 0);
}

TEST_F(VulkanBridgeTest, SyncobjPathNeedsAMesaDrmDriver) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  if (device().has(VulkanCaps::opaque_fd_maybe_syncobj))
    GTEST_SKIP() << "this driver may take syncobjs: covered by the sample's syncobj backend (needs a render node)";
  auto r = bridge->import_syncobj(UniqueFd(::dup(2)));  // any fd: refused before any import
  SB_EXPECT_ERROR(r, Errc::unsupported, 0);
  EXPECT_NE(r.error().message().find("sync_file"), std::string::npos) << r.error().message();
}

TEST_F(VulkanBridgeTest, RetireAfterKeepsTheWaitUntilCompletion) {
  auto [stream, bridge, t] = make_rig();
  ASSERT_TRUE(stream && bridge);
  auto g = gate_on_points(*bridge, *stream, t, 1);
  SB_ASSERT_OK(g);
  const Fence done = (*g)[0].done;
  bridge->retire_after(std::move((*g)[0].wait), done);
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(signals_within(done, 5s));
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
  auto g = gate(*stream, bridge->wait_for(*file));
  SB_ASSERT_OK(g);
  EXPECT_EQ(g->wait.path(), VulkanWaitPath::sync_fd_import);
  EXPECT_TRUE(file->valid()) << "the caller's sync_file is borrowed, not consumed";
  EXPECT_TRUE(signals_within(g->done, 5s));
  queue_wait_idle();
}

TEST_F(VulkanBridgeTest, SyncFileTakesHostSignalWhenImportIsTurnedOff) {
  auto file = make_sync_file_from_gpu();
  if (!file) {
    if (require_native_paths()) FAIL() << "no sync_file source: " << file.error().message();
    GTEST_SKIP() << "no sync_file source on this machine: " << file.error().message();
  }
  auto bridge = make_bridge({.allow_sync_fd_import = false});
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  auto g = gate(*stream, bridge->wait_for(*file));
  SB_ASSERT_OK(g);
  EXPECT_EQ(g->wait.path(), VulkanWaitPath::host_signal);
  EXPECT_TRUE(signals_within(g->done, 5s));
  SB_ASSERT_OK(g->wait.status());
  queue_wait_idle();
}

// ---- kernel inputs gating lavapipe (or any device): need sw_sync / a DRM render node, so they
// run in the VM (tests/vm) and skip on the development host.

// The sw_sync tests: an exporter whose sync_files gate the submissions, and a stream.
class VulkanBridgeSwSyncTest : public VulkanBridgeTest {
 protected:
  void SetUp() override {
    VulkanBridgeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto exporter = SwSyncExporter::create("vk-test");
    if (!exporter) SB_SKIP_OR_FAIL_IN_VM("no sw_sync: " + exporter.error().message());
    exporter_ = std::move(*exporter);
    stream_ = make_stream();
    ASSERT_TRUE(stream_);
  }
  void TearDown() override {
    exporter_ = SwSyncExporter();  // closed first: releases any input a failed test left pending
    stream_.reset();
    VulkanBridgeTest::TearDown();
  }
  // The exporter reaches `point`: the submission gated on it completes, its wait reports ok.
  void signal_and_expect_done(std::uint64_t point, const Gated& g) {
    SB_ASSERT_OK(exporter_.signal_to(point));
    EXPECT_TRUE(signals_within(g.done, 10s));
    SB_ASSERT_OK(g.wait.status());
    queue_wait_idle();
  }
  SyncFile file_at(std::uint64_t point) { return must(exporter_.sync_file_at(point), "sync_file_at"); }

  SwSyncExporter exporter_;
  StreamPtr stream_{nullptr, DrainThenDelete{this}};
};

TEST_F(VulkanBridgeSwSyncTest, FileGatesTheGpu) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  auto g = gate(*stream_, bridge->wait_for(file_at(2)));
  SB_ASSERT_OK(g);
  EXPECT_EQ(g->wait.path(), device().has(VulkanCaps::sync_fd_semaphore_import) ? VulkanWaitPath::sync_fd_import
                                                                               : VulkanWaitPath::host_signal);
  SB_ASSERT_OK(exporter_.advance(1));
  EXPECT_TRUE(pending_after(g->done, 30ms)) << "the GPU ran before the kernel fence signaled";
  signal_and_expect_done(2, *g);
}

// wait_for(SyncFile&&) takes the caller's sync_file as it is: no dup is made (no more fds are
// open after the call than before), the file is left empty, and once the GPU is done nothing of
// it stays open (the fixture compares the open fds at the end).
TEST_F(VulkanBridgeSwSyncTest, ConsumedSyncFileIsTakenWithoutADup) {
  auto watcher = make_watcher();  // its own fds open before counting
  auto bridge = make_bridge({.watcher = watcher});
  ASSERT_TRUE(bridge);
  SyncFile file = file_at(1);
  const int fds_before = open_fd_count();
  auto g = gate(*stream_, bridge->wait_for(std::move(file)));
  SB_ASSERT_OK(g);
  EXPECT_FALSE(file.valid()) << "the sync_file was not consumed";
  EXPECT_LE(open_fd_count(), fds_before) << "a dup was made (wait path " << path_name(g->wait.path()) << ")";
  signal_and_expect_done(1, *g);
}

// A caller's own_thread Watcher serves the bridge's host_signal waits: the bridge starts no
// thread of its own, and the gated submission completes through the caller's watcher.
TEST_F(VulkanBridgeSwSyncTest, CallersWatcherReleasesTheGpuWithoutAThreadOfTheBridge) {
  auto watcher = make_watcher();
  const std::size_t threads_before = thread_count();
  auto bridge = make_bridge({.allow_sync_fd_import = false, .watcher = watcher});
  ASSERT_TRUE(bridge);
  auto w = bridge->wait_for(file_at(1));
  // Counted before anything is submitted (a driver may start threads of its own then).
  EXPECT_EQ(thread_count(), threads_before) << "the bridge started a thread of its own";
  EXPECT_EQ(watcher->stats().watches, 1u) << "the wait is not on the caller's watcher";
  auto g = gate(*stream_, std::move(w));
  SB_ASSERT_OK(g);
  EXPECT_EQ(g->wait.path(), VulkanWaitPath::host_signal);
  EXPECT_TRUE(pending_after(g->done, 30ms)) << "the GPU ran before the kernel fence signaled";
  signal_and_expect_done(1, *g);
}

// The same with a caller_loop Watcher: the GPU wait is released only when the caller dispatches.
TEST_F(VulkanBridgeSwSyncTest, CallersLoopWatcherReleasesTheGpuWhenItDispatches) {
  auto watcher = make_watcher(WatcherMode::caller_loop);
  auto bridge = make_bridge({.allow_sync_fd_import = false, .watcher = watcher});
  ASSERT_TRUE(bridge);
  auto g = gate(*stream_, bridge->wait_for(file_at(1)));
  SB_ASSERT_OK(g);
  SB_ASSERT_OK(exporter_.advance(1));
  EXPECT_TRUE(pending_after(g->done, 30ms)) << "released without the caller's dispatch()";
  EXPECT_FALSE(g->wait.released());
  pollfd p{watcher->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "the watcher never became ready";
  auto ran = watcher->dispatch();
  SB_ASSERT_OK(ran);
  EXPECT_EQ(*ran, 1u);
  EXPECT_TRUE(g->wait.released());
  EXPECT_TRUE(signals_within(g->done, 10s));
  queue_wait_idle();
}

// Regression: every member may be called from any thread, so wait_for() racing shutdown()
// must either get a wait or a clean error, never touch a destroyed Watcher.
TEST_F(VulkanBridgeSwSyncTest, WaitForRacingShutdownIsSafe) {
  const SyncFile file = file_at(1);
  for (int round = 0; round < 20; ++round) {
    auto bridge = make_bridge({.allow_sync_fd_import = false});  // the watcher path is the one that races
    ASSERT_TRUE(bridge);
    std::atomic<bool> started{false};
    std::atomic<int> unexpected{0};
    std::thread racer([&] {
      for (int i = 0; i < 50; ++i) {
        auto w = bridge->wait_for(file);
        started = true;
        if (!w && w.error().code() != Errc::invalid_handle) ++unexpected;
      }
    });
    while (!started) std::this_thread::yield();
    bridge->shutdown();
    racer.join();
    EXPECT_EQ(unexpected.load(), 0) << "round " << round;
  }
  SB_ASSERT_OK(exporter_.advance(1));
}

TEST_F(VulkanBridgeSwSyncTest, ErroredFileReleasesTheGpu) {
  auto bridge = make_bridge({.allow_sync_fd_import = false});  // host_signal must report it
  ASSERT_TRUE(bridge);
  auto g = gate(*stream_, bridge->wait_for(file_at(1)));
  SB_ASSERT_OK(g);
  exporter_.close();  // the kernel fence completes with ENOENT
  EXPECT_TRUE(signals_within(g->done, 10s)) << "an errored kernel fence must not hang the GPU";
  SB_EXPECT_ERROR(g->wait.status(), Errc::fence_error, 0);
  queue_wait_idle();
}

// Whichever path the bridge takes (sync_fd_import where the driver imports SYNC_FD, as in the
// VM's native runs), closing the sw_sync exporter releases the GPU.
TEST_F(VulkanBridgeSwSyncTest, ClosingTheExporterReleasesTheGpuOnEveryPath) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  auto g = gate(*stream_, bridge->wait_for(file_at(3)));
  SB_ASSERT_OK(g);
  exporter_.close();
  EXPECT_TRUE(signals_within(g->done, 10s))
      << "closing the SwSyncExporter left the GPU waiting (wait path " << path_name(g->wait.path()) << ")";
  queue_wait_idle();
}

// The syncobj tests: a DRM render node, a SyncobjExporter on it, a bridge and a stream; the wait
// is syncobj_timeline where the driver may import the syncobj, else host_signal (the watcher).
class VulkanBridgeSyncobjTest : public VulkanBridgeTest {
 protected:
  void SetUp() override {
    VulkanBridgeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto drm = DrmDevice::open_render_node();
    if (!drm) SB_SKIP_OR_FAIL_IN_VM("no DRM render node with timeline syncobjs: " + drm.error().message());
    drm_ = std::move(*drm);
    auto exporter = SyncobjExporter::create(drm_, "vk-test");
    ASSERT_TRUE(exporter.ok()) << exporter.error().describe();
    exporter_ = std::move(*exporter);
    bridge_ = make_bridge();
    stream_ = make_stream();
    ASSERT_TRUE(bridge_ && stream_);
  }
  void TearDown() override {
    bridge_.reset();
    stream_.reset();
    imported_ = VulkanSyncobjTimeline();
    exporter_ = SyncobjExporter();
    drm_ = DrmDevice();
    VulkanBridgeTest::TearDown();
  }
  // A submission gated on `point` of the exporter's syncobj.
  Result<Gated> gate_on_point(std::uint64_t point) {
    if (bridge_->caps() == VulkanCaps::none || !device().has(VulkanCaps::opaque_fd_maybe_syncobj))
      return gate(*stream_, bridge_->wait_for(exporter_.syncobj(), point));
    auto fd = exporter_.export_syncobj_fd();
    if (!fd) return std::move(fd).error();
    auto imported = bridge_->import_syncobj(std::move(*fd));
    if (!imported) return std::move(imported).error();
    EXPECT_TRUE(has(bridge_->caps(), VulkanCaps::opaque_fd_is_syncobj));
    imported_ = *imported;
    return gate(*stream_, bridge_->wait_for(imported_, point));
  }

  DrmDevice drm_;
  SyncobjExporter exporter_;
  VulkanSyncobjTimeline imported_;
  BridgePtr bridge_{nullptr, DrainThenDelete{this}};
  StreamPtr stream_{nullptr, DrainThenDelete{this}};
};

// Closing the producer is what releases a native GPU wait (shutdown() cannot: see the header's
// "Lifetimes"). Regression: a SyncobjExporter closed before the point left the GPU waiting.
TEST_F(VulkanBridgeSyncobjTest, ClosingTheSyncobjExporterReleasesTheGpu) {
  auto g = gate_on_point(5);
  SB_ASSERT_OK(g);
  SB_ASSERT_OK(exporter_.advance(2));
  exporter_.close();  // point 5 is never reached
  EXPECT_TRUE(signals_within(g->done, 10s))
      << "closing the SyncobjExporter left the GPU waiting on point 5 (wait path " << path_name(g->wait.path()) << ")";
  queue_wait_idle();
}

TEST_F(VulkanBridgeSyncobjTest, SyncobjPointGatesTheGpu) {
  auto g = gate_on_point(2);
  SB_ASSERT_OK(g);
  SB_ASSERT_OK(exporter_.signal_to(1));
  EXPECT_TRUE(pending_after(g->done, 30ms)) << "the GPU ran before the syncobj point signaled";
  SB_ASSERT_OK(exporter_.signal_to(2));
  EXPECT_TRUE(signals_within(g->done, 10s));
  queue_wait_idle();
}

}  // namespace
}  // namespace syncbridge::testing
