// Test support for the Vulkan suite: a validated instance and device per test.
//
// Every test gets a VulkanContext (lavapipe here; whatever the machine has elsewhere) with
// VK_LAYER_KHRONOS_validation and a debug messenger that records every validation error and
// warning; TearDown destroys everything (so the object tracker reports leaks at
// vkDestroyDevice/vkDestroyInstance) and fails the test on any recorded message.
//
// Environment:
//   SYNCBRIDGE_VK_VALIDATION=require (default) | optional | off
//       require: no validation layer is a test failure; optional: run without it and say so.
//   SYNCBRIDGE_VK_DEVICE=<index or name substring>   which device (default: the best).
//   SYNCBRIDGE_VK_REQUIRE_NATIVE=1   a device without the SYNC_FD paths fails the native tests
//       instead of skipping them (the VM run on a driver that has them sets it).
//   SYNCBRIDGE_TEST_DEADLINE_S=<s>   a test still running after this long (default 120) ends the
//       process with a message naming it: a hang fails, it never stalls the suite.
// No Vulkan loader or no device at all: the test is skipped with the reason.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fd_leak_check.h"
#include "must.h"
#include "result_assertions.h"
#include "syncbridge/fence.h"
#include "syncbridge/timeline.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_context.h"
#include "syncbridge/vulkan_loader.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {

using namespace std::chrono_literals;

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// One process-wide loader: dlopen/dlclose per test would only cost time. It also keeps one
// bare VkInstance for the whole process, so that the drivers (ICDs) stay loaded between tests:
// NVIDIA's libnvidia-tls uses static TLS, and loading and unloading it once per test ran out of
// it after ~20 tests on an H100 machine ("cannot allocate memory in static TLS block").
inline Result<VulkanLoader>& shared_loader() {
  static Result<VulkanLoader> loader = [] {
    auto l = VulkanLoader::open();
    if (l) {
      auto gipa = l->get_instance_proc_addr();
      auto create = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
      VkApplicationInfo app{};
      app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
      app.pApplicationName = "syncbridge-tests-keepalive";
      app.apiVersion = VK_API_VERSION_1_1;
      VkInstanceCreateInfo ci{};
      ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
      ci.pApplicationInfo = &app;
      static VkInstance keepalive = VK_NULL_HANDLE;  // never destroyed: lives as long as the process
      if (create) (void)create(&ci, nullptr, &keepalive);
    }
    return l;
  }();
  return loader;
}

// Fails the running test (and ends the process: a hung thread cannot be taken back) when it is
// still running at its deadline, naming it and what it was waiting for.
class TestDeadline {
 public:
  TestDeadline() {
    const int seconds = std::atoi(env_or("SYNCBRIDGE_TEST_DEADLINE_S", "120").c_str());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
    thread_ = std::thread([this, seconds] {
      std::unique_lock lock(mutex_);
      if (cv_.wait_for(lock, std::chrono::seconds(seconds > 0 ? seconds : 120), [this] { return done_; })) return;
      std::fprintf(stderr, "\n[  FAILED  ] %s: still running after %d s (SYNCBRIDGE_TEST_DEADLINE_S); last step: %s\n",
                   name_.c_str(), seconds, step_.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    });
  }
  ~TestDeadline() {
    {
      std::lock_guard guard(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void step(std::string what) {
    std::lock_guard guard(mutex_);
    step_ = std::move(what);
  }

 private:
  std::string name_, step_ = "(none recorded)";
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

inline bool require_native_paths() { return env_or("SYNCBRIDGE_VK_REQUIRE_NATIVE", "0") == "1"; }

// A native-path test on a device without the capability: skipped with the reason, or a failure
// where SYNCBRIDGE_VK_REQUIRE_NATIVE=1 says the device must have it.
#define SB_REQUIRE_VK_CAP(cap)                                                                                     \
  do {                                                                                                             \
    if (!device().has(cap)) {                                                                                      \
      const std::string why_ = std::string("device lacks ") + describe(cap) + " (" + device().description() + ")"; \
      if (require_native_paths()) FAIL() << "SYNCBRIDGE_VK_REQUIRE_NATIVE=1, but the " << why_;                    \
      GTEST_SKIP() << why_;                                                                                        \
    }                                                                                                              \
  } while (0)

inline Timeline make_core_timeline(std::string name = "test") {
  auto t = Timeline::create({.name = std::move(name)});
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

// A signal (or wait) of semaphore s at value, at every stage.
inline VkSemaphoreSubmitInfo signal_info(VkSemaphore s, std::uint64_t value = 0) {
  VkSemaphoreSubmitInfo i{};
  i.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO;
  i.semaphore = s;
  i.value = value;
  i.stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
  return i;
}

// A validated VulkanContext per test: SetUp makes it (or skips, saying why), TearDown destroys
// it and fails the test on any validation message recorded meanwhile.
class VulkanContextTest : public FdLeakCheckedTest {
 protected:
  // Records what the test is doing, for the deadline's message.
  void step(std::string what) { deadline_->step(std::move(what)); }

  void SetUp() override {
    deadline_ = std::make_unique<TestDeadline>();
    (void)shared_loader();  // its fds (none stay open) are not the test's
    FdLeakCheckedTest::SetUp();
    auto& loader = shared_loader();
    if (!loader) GTEST_SKIP() << "no Vulkan: " << loader.error().message();
    const VulkanContextOptions opt = context_options();
    auto ctx = VulkanContext::create(loader->get_instance_proc_addr(), opt);
    if (!ctx) {
      // No driver at all (no ICD, or none that loads: VK_ERROR_INCOMPATIBLE_DRIVER) or no
      // device: nothing to test here, say why. A missing validation layer is a failure.
      const bool no_layer = ctx.error().message().find("VK_LAYER_KHRONOS") != std::string::npos;
      const bool no_driver = ctx.error().vk_result() == VK_ERROR_INCOMPATIBLE_DRIVER ||
                             ctx.error().vk_result() == VK_ERROR_INITIALIZATION_FAILED;
      if (!no_layer && (ctx.error().code() == Errc::not_found || no_driver)) {
        std::string loader_says;  // the loader's own messages say which driver failed and why
        for (const auto& m : take_messages()) loader_says += "; " + m;
        GTEST_SKIP() << "no usable Vulkan driver or device: " << ctx.error().message() << loader_says;
      }
      FAIL() << "VulkanContext::create: " << ctx.error().describe();
    }
    ctx_ = std::move(*ctx);
    if (opt.validation && !ctx_->validation_enabled())
      std::fprintf(stderr, "NOTE: running WITHOUT VK_LAYER_KHRONOS_validation (not installed)\n");
    queue_submit2_ = ctx_->device_fn<PFN_vkQueueSubmit2>("vkQueueSubmit2");
    if (!queue_submit2_) queue_submit2_ = ctx_->device_fn<PFN_vkQueueSubmit2>("vkQueueSubmit2KHR");
    queue_wait_idle_ = ctx_->device_fn<PFN_vkQueueWaitIdle>("vkQueueWaitIdle");
  }

  void TearDown() override {
    ctx_.reset();  // vkDestroyDevice/Instance: the object tracker reports leaks here
    {
      std::lock_guard guard(messages_mutex_);
      for (const auto& m : messages_) ADD_FAILURE() << "Vulkan validation: " << m;
      messages_.clear();
    }
    FdLeakCheckedTest::TearDown();
    deadline_.reset();
  }

  // Validation messages so far (and clears them): for tests that expect none midway.
  std::vector<std::string> take_messages() {
    std::lock_guard guard(messages_mutex_);
    return std::exchange(messages_, {});
  }

  // An empty submission (no command buffers) waiting on `waits` and signaling `signals`.
  VkResult submit(std::span<const VkSemaphoreSubmitInfo> waits, std::span<const VkSemaphoreSubmitInfo> signals) {
    VkSubmitInfo2 si{};
    si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2;
    si.waitSemaphoreInfoCount = static_cast<std::uint32_t>(waits.size());
    si.pWaitSemaphoreInfos = waits.data();
    si.signalSemaphoreInfoCount = static_cast<std::uint32_t>(signals.size());
    si.pSignalSemaphoreInfos = signals.data();
    std::lock_guard guard(ctx().queue_mutex());
    return queue_submit2_(ctx().queue(), 1, &si, VK_NULL_HANDLE);
  }
  VkResult submit(std::initializer_list<VkSemaphoreSubmitInfo> waits,
                  std::initializer_list<VkSemaphoreSubmitInfo> signals) {
    return submit(std::span(waits.begin(), waits.size()), std::span(signals.begin(), signals.size()));
  }
  void queue_wait_idle() {
    std::lock_guard guard(ctx().queue_mutex());
    (void)queue_wait_idle_(ctx().queue());
  }

  // A live stream's explains_validation_message() may excuse a message (see the stream).
  void track_stream(const VulkanCompletionStream* s) {
    std::lock_guard guard(messages_mutex_);
    if (s) streams_.push_back(s);
  }
  void untrack_stream(const VulkanCompletionStream* s) {
    std::lock_guard guard(messages_mutex_);
    std::erase(streams_, s);
  }

  const VulkanDevice& device() const { return ctx_->bridge_device(); }
  VulkanContext& ctx() { return *ctx_; }
  bool has_context() const { return ctx_ != nullptr; }
  // The context's device as an application describes it to VulkanDevice::create.
  VulkanDeviceInfo device_info() const {
    VulkanDeviceInfo info;
    info.instance = ctx_->instance();
    info.physical_device = ctx_->physical_device();
    info.device = ctx_->device();
    info.get_instance_proc_addr = ctx_->get_instance_proc_addr();
    info.enabled_extensions = ctx_->enabled_extensions();
    info.timeline_semaphore_enabled = true;
    info.synchronization2_enabled = true;
    return info;
  }

 private:
  // SYNCBRIDGE_VK_VALIDATION and SYNCBRIDGE_VK_DEVICE, and a messenger into messages_.
  VulkanContextOptions context_options() {
    const std::string mode = env_or("SYNCBRIDGE_VK_VALIDATION", "require");
    VulkanContextOptions opt;
    opt.application_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    opt.validation = mode != "off";
    opt.validation_optional = mode == "optional";
    opt.device = env_or("SYNCBRIDGE_VK_DEVICE", "");
    opt.on_message = [this](VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
                            const char* text) {
      const bool error = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      const bool fatal =
          error ||
          (type & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT));
      std::lock_guard guard(messages_mutex_);
      const bool explained = std::any_of(streams_.begin(), streams_.end(), [&](const VulkanCompletionStream* s) {
        return s->explains_validation_message(text);
      });
      if (fatal && !explained)
        messages_.push_back(std::string(error ? "ERROR: " : "WARNING: ") + text);
      else
        std::fprintf(stderr, "vulkan (%s): %s\n", explained ? "explained by the stream" : "not fatal", text);
    };
    return opt;
  }

  std::unique_ptr<TestDeadline> deadline_;
  std::unique_ptr<VulkanContext> ctx_;
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  std::vector<const VulkanCompletionStream*> streams_;  // live ones: see explains_validation_message
  PFN_vkQueueSubmit2 queue_submit2_ = nullptr;
  PFN_vkQueueWaitIdle queue_wait_idle_ = nullptr;
};

// Whether the submission is named with VulkanSignal::depends_on() (the header asks for it).
enum class Naming { depends_on, not_named };

// The Vulkan suites' fixture: the context, plus bridges, streams and empty submissions on its
// queue, torn down as vulkan_bridge.h and vulkan_completion.h ask.
class VulkanTest : public VulkanContextTest {
 protected:
  void TearDown() override {
    if (has_context()) {
      queue_wait_idle();
      for (VkSemaphore s : semaphores_) device().dispatch().destroy_semaphore(ctx().device(), s, nullptr);
      semaphores_.clear();
    }
    VulkanContextTest::TearDown();
  }

  // The headers' teardown rule, kept by every test: a bridge is shut down (its GPU waits
  // released) and the queue drained before it is destroyed; a stream is destroyed only after
  // the queue drained (a completion seen through a sync_file does not tell the validation layer
  // that the batch retired).
  struct DrainThenDelete {
    VulkanTest* test = nullptr;
    void operator()(VulkanBridge* b) const {
      b->shutdown();
      test->queue_wait_idle();
      delete b;
    }
    void operator()(VulkanCompletionStream* s) const {
      test->queue_wait_idle();
      test->untrack_stream(s);
      delete s;
    }
  };
  using BridgePtr = std::unique_ptr<VulkanBridge, DrainThenDelete>;
  using StreamPtr = std::unique_ptr<VulkanCompletionStream, DrainThenDelete>;

  BridgePtr make_bridge(VulkanBridgeOptions o = {}) {
    auto b = VulkanBridge::create(device(), std::move(o));
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().describe());
    return BridgePtr(b.ok() ? b->release() : nullptr, DrainThenDelete{this});
  }
  StreamPtr make_stream(VulkanCompletionStreamOptions o = {}) {
    auto s = VulkanCompletionStream::create(device(), std::move(o));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
    if (!s.ok()) return StreamPtr(nullptr, DrainThenDelete{this});
    track_stream(s->get());
    return StreamPtr(s->release(), DrainThenDelete{this});
  }

  // The step every bridge test takes: prepare the stream's next point, name the inputs with
  // depends_on (unless told not to), submit an empty batch waiting on them and signaling the
  // point, hand the signal back: the completion fence.
  Result<Fence> submit_gated(VulkanCompletionStream& stream, std::span<const VulkanWait> inputs,
                             Naming naming = Naming::depends_on) {
    auto sig = stream.prepare();
    if (!sig) return std::move(sig).error();
    std::vector<VkSemaphoreSubmitInfo> waits;
    for (const auto& in : inputs) {
      if (naming == Naming::depends_on) sig->depends_on(in);
      waits.push_back(in.submit_info());
    }
    if (VkResult r = submit(waits, std::span(&sig->submit_info(), 1)); r != VK_SUCCESS)
      return vulkan_error(r, "vkQueueSubmit2");  // the VulkanSignal is abandoned on return
    return stream.submitted(std::move(*sig));
  }
  Result<Fence> submit_gated(VulkanCompletionStream& stream, const VulkanWait& input,
                             Naming naming = Naming::depends_on) {
    return submit_gated(stream, std::span(&input, 1), naming);
  }
  // A wait_for() result and the submission gated on it, for one line per step in the tests:
  //   auto g = gate(*stream, bridge->wait_for(file));  SB_ASSERT_OK(g);  ... g->done ...
  struct Gated {
    VulkanWait wait;  // kept until the submission completed, as the header asks
    Fence done;
  };
  Result<Gated> gate(VulkanCompletionStream& stream, Result<VulkanWait> wait) {
    if (!wait) return std::move(wait).error();
    auto done = submit_gated(stream, *wait);
    if (!done) return std::move(done).error();
    return Gated{std::move(*wait), std::move(*done)};
  }
  // `count` gated submissions on `stream`, the i-th waiting (host_signal, through `bridge`) for
  // point i of `t`, in order.
  Result<std::vector<Gated>> gate_on_points(VulkanBridge& bridge, VulkanCompletionStream& stream, Timeline& t,
                                            std::uint64_t count) {
    std::vector<Gated> batch;
    for (std::uint64_t i = 1; i <= count; ++i) {
      auto f = t.fence_at(i);
      if (!f) return std::move(f).error();
      auto g = gate(stream, bridge.wait_for(*f));
      if (!g) return std::move(g).error();
      batch.push_back(std::move(*g));
    }
    return batch;
  }
  // Where most bridge and stream tests start: a stream and a bridge on the test's queue, and a
  // core timeline whose points gate the submissions. Destroyed in reverse: the timeline, then the
  // bridge (shut down: its GPU waits released), then the stream.
  struct Rig {
    StreamPtr stream;
    BridgePtr bridge;
    Timeline timeline;
  };
  Rig make_rig(VulkanCompletionStreamOptions stream_options = {}, std::string timeline_name = "test") {
    auto stream = make_stream(std::move(stream_options));
    auto bridge = make_bridge();
    return Rig{std::move(stream), std::move(bridge), make_core_timeline(std::move(timeline_name))};
  }
  // Their completion fences.
  static std::vector<Fence> fences_of(const std::vector<Gated>& batch) {
    std::vector<Fence> done;
    for (const auto& g : batch) done.push_back(g.done);
    return done;
  }
  // A submission that waits on nothing.
  Result<Fence> submit_ungated(VulkanCompletionStream& stream) {
    return submit_gated(stream, std::span<const VulkanWait>());
  }

  // A Watcher of the test's own, to share with a bridge or a stream (the options' `watcher`).
  static std::shared_ptr<Watcher> make_watcher(WatcherMode mode = WatcherMode::own_thread) {
    return std::make_shared<Watcher>(must(Watcher::create(mode), "Watcher::create"));
  }

  // A binary semaphore the test owns (destroyed in TearDown), exportable as SYNC_FD if asked.
  VkSemaphore make_binary_semaphore(bool exportable) {
    VkExportSemaphoreCreateInfo exp{};
    exp.sType = VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO;
    exp.handleTypes = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    VkSemaphoreCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    ci.pNext = exportable ? &exp : nullptr;
    VkSemaphore s = VK_NULL_HANDLE;
    EXPECT_EQ(device().dispatch().create_semaphore(ctx().device(), &ci, nullptr, &s), VK_SUCCESS);
    semaphores_.push_back(s);
    return s;
  }

  // A real sync_file for tests of the SyncFile paths: a SYNC_FD export of a submission that
  // signals a binary semaphore (needs sync_fd_semaphore_export). Empty + reason otherwise.
  Result<SyncFile> make_sync_file_from_gpu() {
    if (!device().has(VulkanCaps::sync_fd_semaphore_export))
      return Error(Errc::unsupported, EOPNOTSUPP, "device lacks sync_fd_semaphore_export (no sync_file source)");
    VkSemaphore s = make_binary_semaphore(true);
    if (VkResult r = submit({}, {signal_info(s)}); r != VK_SUCCESS) return vulkan_error(r, "vkQueueSubmit2");
    VkSemaphoreGetFdInfoKHR gi{};
    gi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR;
    gi.semaphore = s;
    gi.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    int fd = -1;
    if (VkResult r = device().dispatch().get_semaphore_fd(ctx().device(), &gi, &fd); r != VK_SUCCESS)
      return vulkan_error(r, "vkGetSemaphoreFdKHR");
    if (fd < 0) return Error(Errc::unsupported, EOPNOTSUPP, "the driver exported -1 (already signaled): no sync_file");
    return SyncFile::adopt(UniqueFd(fd));
  }

 private:
  std::vector<VkSemaphore> semaphores_;
};

// gtest assertions on a wait (Fence, SyncFile: anything whose wait(timeout) returns
// Result<WaitStatus>) that say what happened instead: EXPECT_TRUE(signals_within(done, 5s)),
// EXPECT_TRUE(pending_after(done, 30ms)) << "the GPU ran before its input signaled".
template <class Waitable>
::testing::AssertionResult signals_within(const Waitable& w, std::chrono::nanoseconds timeout) {
  auto r = w.wait(timeout);
  if (!r) return ::testing::AssertionFailure() << "the wait failed: " << r.error().describe();
  if (*r != WaitStatus::signaled)
    return ::testing::AssertionFailure() << "not signaled within " << timeout.count() / 1000000 << " ms";
  return ::testing::AssertionSuccess();
}
template <class Waitable>
::testing::AssertionResult pending_after(const Waitable& w, std::chrono::nanoseconds timeout) {
  auto r = w.wait(timeout);
  if (!r) return ::testing::AssertionFailure() << "the wait failed: " << r.error().describe();
  if (*r != WaitStatus::timed_out) return ::testing::AssertionFailure() << "signaled already";
  return ::testing::AssertionSuccess();
}

// This process's threads (/proc/self/task): whether a bridge or stream started one.
inline std::size_t thread_count() {
  std::size_t n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* e = readdir(dir))
      if (e->d_name[0] != '.') ++n;
    closedir(dir);
  }
  return n;
}

}  // namespace syncbridge::testing
