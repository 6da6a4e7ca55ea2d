// The bridge's promise that nothing waits on the GPU behind the caller's back: a thread submits
// work gated on an input it has not signaled yet, takes the completion fence, and only then
// signals the input. Every input kind the machine offers, both completion paths, with and
// without VulkanSignal::depends_on(), from one thread and from many; and pipelines whose frame
// N+1 is released by frame N's completion. A hang fails through the fixture's deadline.
#include <functional>
#include <thread>

#include "kernel_requirement.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

enum class InputKind { core_fence, sw_sync_file, syncobj_unsubmitted, syncobj_materialized };
const char* input_name(InputKind k) {
  switch (k) {
    case InputKind::core_fence: return "core Fence";
    case InputKind::sw_sync_file: return "sw_sync SyncFile";
    case InputKind::syncobj_unsubmitted: return "syncobj point not yet submitted";
    case InputKind::syncobj_materialized: return "syncobj point with a pending fence";
  }
  return "?";
}

// One gated input: the wait to submit and how to release it.
struct Input {
  VulkanWait wait;
  std::function<Result<void>()> release;
};

class VulkanNoDeadlockTest : public VulkanTest {
 protected:
  // The kernel sources close before the fixture drains the queue and counts fds: an input never
  // released (a failed test) is released with an error here rather than hang the drain.
  void TearDown() override {
    syncobj_ = SyncobjExporter();
    drm_ = DrmDevice();
    sw_sync_ = SwSyncExporter();
    VulkanTest::TearDown();
  }

  // The kernel objects that the inputs come from; what the machine lacks is left empty.
  void open_kernel_sources() {
    if (auto e = SwSyncExporter::create("no-deadlock"))
      sw_sync_ = std::move(*e);
    else
      sw_sync_error_ = e.error().message();
    if (auto d = DrmDevice::open_render_node()) {
      drm_ = std::move(*d);
      if (auto e = SyncobjExporter::create(drm_, "no-deadlock"))
        syncobj_ = std::move(*e);
      else
        drm_error_ = e.error().message();
    } else {
      drm_error_ = d.error().message();
    }
  }
  std::vector<InputKind> kinds_here() const {
    std::vector<InputKind> k{InputKind::core_fence};
    if (sw_sync_.valid()) k.push_back(InputKind::sw_sync_file);
    if (syncobj_.valid()) k.push_back(InputKind::syncobj_unsubmitted);
    if (syncobj_.valid() && sw_sync_.valid()) k.push_back(InputKind::syncobj_materialized);
    return k;
  }
  // Inside the VM every kind must be there: a missing one is a broken VM, not a skip.
  void expect_every_kind_in_vm() {
    if (std::getenv("SYNCBRIDGE_VM") == nullptr) return;
    EXPECT_TRUE(sw_sync_.valid()) << "no sw_sync in the VM: " << sw_sync_error_;
    EXPECT_TRUE(syncobj_.valid()) << "no DRM timeline syncobj in the VM: " << drm_error_;
  }

  // An input at `point` of the kind's source (core timeline `t` for core fences).
  Result<Input> make_input(VulkanBridge& bridge, InputKind kind, Timeline& t, std::uint64_t point) {
    Input in;
    Result<VulkanWait> w = Error(Errc::invalid_argument, EINVAL, "no input");
    switch (kind) {
      case InputKind::core_fence: {
        auto f = t.fence_at(point);
        if (!f) return std::move(f).error();
        w = bridge.wait_for(*f);
        in.release = [&t, point] { return t.signal_to(point); };
        break;
      }
      case InputKind::sw_sync_file: {
        auto file = sw_sync_.sync_file_at(point);
        if (!file) return std::move(file).error();
        w = bridge.wait_for(*file);
        in.release = [this, point] { return sw_sync_.signal_to(point); };
        break;
      }
      case InputKind::syncobj_unsubmitted:
        w = bridge.wait_for(syncobj_.syncobj(), point);
        in.release = [this, point] { return syncobj_.signal_to(point); };
        break;
      case InputKind::syncobj_materialized: {
        // A pending kernel fence (sw_sync) attached at the point: it has materialized.
        auto file = sw_sync_.sync_file_at(point);
        if (!file) return std::move(file).error();
        if (auto r = syncobj_.syncobj().import_sync_file(point, file->fd()); !r) return std::move(r).error();
        w = bridge.wait_for(syncobj_.syncobj(), point);
        in.release = [this, point] { return sw_sync_.signal_to(point); };
        break;
      }
    }
    if (!w) return std::move(w).error();
    in.wait = std::move(*w);
    return in;
  }

  SwSyncExporter sw_sync_;
  DrmDevice drm_;
  SyncobjExporter syncobj_;
  std::string sw_sync_error_, drm_error_;
};

// The streams to try: the device's best (sync_fd_export where it has it) and the fallback.
std::vector<VulkanCompletionStreamOptions> stream_variants() {
  VulkanCompletionStreamOptions best, fallback;
  fallback.allow_sync_fd_export = false;
  return {best, fallback};
}
VulkanCompletionStreamOptions timeline_wait_chained() {
  VulkanCompletionStreamOptions o;
  o.name = "chained";
  o.allow_sync_fd_export = false;
  return o;
}

TEST_F(VulkanNoDeadlockTest, OneThreadSubmitsGatedWorkTakesItsFenceThenSignals) {
  open_kernel_sources();
  expect_every_kind_in_vm();
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  std::uint64_t point = 0;  // one sw_sync / syncobj timeline for every combination
  Timeline t = make_core_timeline("inputs");
  for (const auto& options : stream_variants()) {
    auto stream = make_stream(options);
    ASSERT_TRUE(stream);
    for (InputKind kind : kinds_here()) {
      for (bool name_input : {true, false}) {
        ++point;
        const std::string what = std::string(input_name(kind)) + " -> " + path_name(stream->path()) +
                                 (name_input ? ", depends_on" : ", not named");
        SCOPED_TRACE(what);
        step(what + ": wait_for");
        auto in = make_input(*bridge, kind, t, point);
        SB_ASSERT_OK(in);
        if (kind == InputKind::syncobj_materialized && device().has(VulkanCaps::sync_fd_semaphore_import)) {
          EXPECT_EQ(in->wait.path(), VulkanWaitPath::sync_fd_import) << "a materialized syncobj point goes native";
        }
        if (kind == InputKind::syncobj_unsubmitted) {
          EXPECT_EQ(in->wait.path(), VulkanWaitPath::host_signal);
        }
        step(what + ": prepare, submit, submitted (none may wait for the GPU)");
        auto done = submit_gated(*stream, in->wait, name_input ? Naming::depends_on : Naming::not_named);
        SB_ASSERT_OK(done);
        EXPECT_EQ(done->status(), FenceStatus::pending) << "the GPU finished before its input was signaled";
        step(what + ": release the input");
        SB_ASSERT_OK(in->release());
        step(what + ": completion fence");
        EXPECT_TRUE(signals_within(*done, 20s)) << "the completion never came back";
        SB_ASSERT_OK(in->wait.status());
        queue_wait_idle();
      }
    }
  }
}

// Every frame is submitted before the first input is signaled; then frame N+1's input is
// released by the callback on frame N's completion fence (timeline_wait: the header allows that
// dependency there only), or every input by the test thread in order (both paths).
TEST_F(VulkanNoDeadlockTest, PipelineOfFramesReleasedAfterSubmission) {
  open_kernel_sources();
  expect_every_kind_in_vm();
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  constexpr std::uint64_t frames = 12;
  std::uint64_t base = 0;
  auto variants = stream_variants();
  variants.push_back(timeline_wait_chained());
  for (const auto& options : variants) {
    const bool chained = &options == &variants.back();
    auto stream = make_stream(options);
    ASSERT_TRUE(stream);
    for (InputKind kind : kinds_here()) {
      const std::string what = std::string(input_name(kind)) + " -> " + path_name(stream->path()) +
                               (chained ? ", each released by the previous completion" : ", released in order");
      SCOPED_TRACE(what);
      step(what + ": submit " + std::to_string(frames) + " gated frames");
      Timeline t = make_core_timeline("pipeline");
      if (base) SB_ASSERT_OK(t.signal_to(base));
      std::vector<Input> inputs;
      std::vector<Fence> done;
      for (std::uint64_t i = 1; i <= frames; ++i) {
        auto in = make_input(*bridge, kind, t, base + i);
        SB_ASSERT_OK(in);
        auto d = submit_gated(*stream, in->wait);
        SB_ASSERT_OK(d);
        done.push_back(*d);
        inputs.push_back(std::move(*in));
      }
      std::vector<CallbackRegistration> chain;
      std::atomic<int> release_failures{0};
      for (std::uint64_t i = 0; chained && i + 1 < frames; ++i) {
        auto reg = done[i].on_complete([&inputs, &release_failures, i](const Fence&) {
          if (!inputs[i + 1].release()) ++release_failures;
        });
        SB_ASSERT_OK(reg);
        chain.push_back(std::move(*reg));
      }
      step(what + ": release, wait for the last frame");
      if (chained) {
        SB_ASSERT_OK(inputs[0].release());
      } else {
        for (auto& in : inputs) SB_ASSERT_OK(in.release());
      }
      EXPECT_TRUE(signals_within(done.back(), 60s));
      EXPECT_EQ(release_failures.load(), 0);
      for (auto& d : done) EXPECT_EQ(d.status(), FenceStatus::signaled);
      queue_wait_idle();
      chain.clear();
      base += frames;
    }
  }
}

// Many threads, each submitting (under the queue's lock, in prepare() order) work gated on its
// own input, then signaling it; on one bridge and one stream.
TEST_F(VulkanNoDeadlockTest, ManyThreadsEachSignalTheirOwnInputAfterSubmitting) {
  auto bridge = make_bridge();
  auto stream = make_stream();
  ASSERT_TRUE(bridge && stream);
  constexpr int threads = 4, rounds = 16;
  std::mutex submit_mutex;
  std::atomic<int> failures{0};
  step(std::string("4 threads x 16 gated submissions on ") + path_name(stream->path()));
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      auto t = Timeline::create({.name = "worker-" + std::to_string(w)});
      if (!t) return (void)++failures;
      for (std::uint64_t i = 1; i <= rounds; ++i) {
        auto f = t->fence_at(i);
        if (!f) return (void)++failures;
        auto wait = bridge->wait_for(*f);
        if (!wait) return (void)++failures;
        Result<Fence> done = Error(Errc::invalid_argument, EINVAL, "not submitted");
        {
          std::lock_guard guard(submit_mutex);  // submissions reach the queue in prepare() order
          done = submit_gated(*stream, *wait);
        }
        if (!done || !t->signal_to(i)) return (void)++failures;
        if (!signals_within(*done, 20s)) return (void)++failures;
      }
    });
  }
  for (auto& th : workers) th.join();
  EXPECT_EQ(failures.load(), 0);
  queue_wait_idle();
}

}  // namespace
}  // namespace syncbridge::testing
