#include "syncbridge/sw_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include "closing_handle.h"
#include "kernel/sw_sync_internal.h"
#include "kernel/uapi.h"
#include "mirror_close_gate.h"

namespace syncbridge {

namespace detail {

Result<UniqueFd> open_sw_sync(std::string_view path) {
  const std::string p(path);
  const int fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0) return UniqueFd(fd);
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR)
    return Error(Errc::not_found, err,
                 "no " + p +
                     ": load a kernel built with CONFIG_SW_SYNC and mount debugfs "
                     "(mount -t debugfs debugfs /sys/kernel/debug)");
  if (err == EACCES || err == EPERM)
    return Error(Errc::permission_denied, err,
                 "cannot open " + p +
                     ": permission denied (debugfs is usually root-only: run as root "
                     "or give this user access to debugfs)");
  return Error::from_errno(err, "open " + p + " failed");
}

void fill_fence_name(char (&out)[32], std::string_view name) noexcept {
  std::memset(out, 0, sizeof out);
  std::memcpy(out, name.data(), std::min(name.size(), sizeof out - 1));
}

int create_fence_fd(int timeline_fd, std::uint32_t value, const char (&name)[32]) noexcept {
  sw_sync_create_fence_data data{};
  data.value = value;
  std::memcpy(data.name, name, sizeof data.name);
  if (sb_ioctl(timeline_fd, kSwSyncIocCreateFence, &data) < 0) return -1;
  return data.fence;
}

Error create_fence_error(int err, int timeline_fd, std::uint32_t value) {
  if (err == ENOTTY)
    return Error(Errc::unsupported, err,
                 "SW_SYNC_IOC_CREATE_FENCE on fd " + std::to_string(timeline_fd) + ": not a sw_sync timeline");
  return Error::from_errno(
      err, "SW_SYNC_IOC_CREATE_FENCE(" + std::to_string(value) + ") on fd " + std::to_string(timeline_fd) + " failed");
}

Result<void> inc_timeline(int timeline_fd, std::uint32_t n) {
  __u32 arg = n;
  if (sb_ioctl(timeline_fd, kSwSyncIocInc, &arg) == 0) return {};
  const int err = errno;
  if (err == ENOTTY)
    return Error(Errc::unsupported, err,
                 "SW_SYNC_IOC_INC on fd " + std::to_string(timeline_fd) + ": not a sw_sync timeline");
  return Error::from_errno(
      err, "SW_SYNC_IOC_INC(" + std::to_string(n) + ") on fd " + std::to_string(timeline_fd) + " failed");
}

Result<std::optional<std::int64_t>> read_deadline_ns(int timeline_fd, int fence_fd) {
  static const char* const kMissing = "kernel lacks SW_SYNC_IOC_GET_DEADLINE (needs 6.5+)";
  std::atomic<int>& support = get_deadline_support();
  if (support.load(std::memory_order_relaxed) == kUnsupported) return Error(Errc::unsupported, ENOTTY, kMissing);
  sw_sync_get_deadline data{};
  data.fence_fd = fence_fd;
  if (sb_ioctl(timeline_fd, kSwSyncIocGetDeadline, &data) == 0) {
    support.store(kSupported, std::memory_order_relaxed);
    return std::optional<std::int64_t>(static_cast<std::int64_t>(data.deadline_ns));
  }
  const int err = errno;
  switch (err) {
    case ENOENT:   // what the kernel answers for "no deadline set"
    case ENODATA:  // (and what a future one might)
      support.store(kSupported, std::memory_order_relaxed);
      return std::optional<std::int64_t>();
    case ENOTTY: {
      // Either the kernel predates the ioctl, or timeline_fd is no sw_sync timeline at all.
      // INC by 0 tells them apart (it changes nothing and signals nothing).
      __u32 zero = 0;
      if (sb_ioctl(timeline_fd, kSwSyncIocInc, &zero) < 0)
        return Error(Errc::unsupported, err,
                     "SW_SYNC_IOC_GET_DEADLINE on fd " + std::to_string(timeline_fd) + ": not a sw_sync timeline");
      support.store(kUnsupported, std::memory_order_relaxed);
      return Error(Errc::unsupported, ENOTTY, kMissing);
    }
    case EINVAL:
      return Error(Errc::invalid_argument, err,
                   "SW_SYNC_IOC_GET_DEADLINE: fd " + std::to_string(fence_fd) +
                       " is not a sync_file holding a single sw_sync fence");
    default:
      return Error::from_errno(err, "SW_SYNC_IOC_GET_DEADLINE for fd " + std::to_string(fence_fd) + " on fd " +
                                        std::to_string(timeline_fd) + " failed");
  }
}

MonotonicTime ns_to_time(std::int64_t ns) {
  return MonotonicTime(std::chrono::duration_cast<MonotonicTime::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace detail

using namespace detail;

namespace {
Error empty_timeline_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string("SwSyncTimeline::") + what + " on an empty SwSyncTimeline");
}
Error empty_exporter_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF,
               std::string("SwSyncExporter::") + what + " on an empty or moved-from exporter");
}
// What a u32 sw_sync timeline cannot hold (exporter.h: points and steps are u64 on both backends).
Error beyond_u32(const char* what, std::uint64_t v, const std::string& exporter) {
  return Error(
      Errc::out_of_range, ERANGE,
      std::string(what) + " " + std::to_string(v) + " is beyond the u32 range of sw_sync exporter '" + exporter + "'");
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// SwSyncTimeline

Result<SwSyncTimeline> SwSyncTimeline::open(std::string_view path) {
  auto fd = open_sw_sync(path);
  if (!fd) return std::move(fd).error();
  return SwSyncTimeline(std::move(fd).value());
}

Result<SyncFile> SwSyncTimeline::create_fence(std::uint32_t value, std::string_view name) const {
  if (!fd_) return empty_timeline_error("create_fence");
  char kernel_name[32];
  fill_fence_name(kernel_name, name);
  const int fd = create_fence_fd(fd_.get(), value, kernel_name);
  if (fd < 0) return create_fence_error(errno, fd_.get(), value);
  return SyncFile(UniqueFd(fd));
}

Result<void> SwSyncTimeline::inc(std::uint32_t n) const {
  if (!fd_) return empty_timeline_error("inc");
  return inc_timeline(fd_.get(), n);
}

Result<std::optional<MonotonicTime>> SwSyncTimeline::get_deadline(const SyncFile& fence) const {
  if (!fd_) return empty_timeline_error("get_deadline");
  if (!fence) return Error(Errc::invalid_handle, EBADF, "SwSyncTimeline::get_deadline of an empty SyncFile");
  auto ns = read_deadline_ns(fd_.get(), fence.fd());
  if (!ns) return std::move(ns).error();
  if (!*ns) return std::optional<MonotonicTime>();
  return std::optional<MonotonicTime>(ns_to_time(**ns));
}

// ---------------------------------------------------------------------------------------------
// SwSyncExporter

namespace {
// One pending kernel fence handed out, and the exporter's own fd to it.
struct Held {
  std::uint32_t point;
  UniqueFd fd;                   // closed once an INC signaled the fence (see inc_locked)
  std::int64_t deadline_fed_ns;  // the earliest deadline already passed to the core fence
};
constexpr std::int64_t kNoDeadline = INT64_MAX;
constexpr std::uint32_t kHalfRange = 0x80000000u;  // an INC this large reaches every pending seqno
}  // namespace

struct SwSyncExporter::State {
  mutable std::mutex lock;
  UniqueFd kernel;  // the sw_sync timeline; empty once closed. Guarded by lock.
  Timeline core;    // wrap32 mirror; thread-safe itself
  char fence_name[32] = {};
  std::atomic<std::uint32_t> value{0};  // the kernel's value: written under lock
  std::atomic<bool> closed{false};      // written under lock
  // held[head, end): one entry per pending point handed out, sorted by distance ahead of value
  // (points are all within 2^31 ahead, so that order stays true as the value moves on).
  // Entries before head were released (their fds closed); the vector is reused, so a steady
  // state allocates nothing.
  std::vector<Held> held;
  std::size_t head = 0;
  detail::MirrorCloseGate close_gate;  // guarded by lock

  ~State() { close_kernel_side(); }

  // Outside lock, after a kernel INC of n that began a close-gate update.
  Result<void> update_core(std::uint32_t n) {
    auto r = core.advance(n);  // cannot fail as closed: close() leaves the core to us
    bool close_core;
    {
      std::lock_guard guard(lock);
      close_core = close_gate.end_update();
    }
    if (close_core) core.close();
    return r;
  }

  Error closed_error() const {
    return Error(Errc::timeline_closed, ENOENT, "sw_sync exporter '" + core.name() + "' is closed");
  }

  void compact() {
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }

  // Under lock. INC the kernel, then close our fds to the fences that INC signaled. Only now:
  // the INC has returned, so its walk of the kernel's list is over and those fences are off
  // it; dropping what may be their last reference can no longer race with the walk.
  Result<void> inc_locked(std::uint32_t n) {
    auto r = inc_timeline(kernel.get(), n);
    if (!r) return r;
    const std::uint32_t old = value.load(std::memory_order_relaxed);
    value.store(old + n, std::memory_order_release);
    const bool all = n >= kHalfRange;
    while (head < held.size()) {
      Held& h = held[head];
      if (!all && static_cast<std::uint32_t>(h.point - old) > n) break;
      h.fd.reset();
      ++head;
    }
    if (head == held.size()) {
      held.clear();
      head = 0;
    } else if (head >= 64 && head * 2 >= held.size()) {
      compact();
    }
    return {};
  }

  // Under lock (or from the destructor). Closing the kernel timeline completes its pending
  // fences with -ENOENT; nothing can INC it any more, so the held fds may go in any order.
  void close_kernel_side() noexcept {
    kernel.reset();
    held.clear();  // closes the fds still held
    head = 0;
  }
};

SwSyncExporter::SwSyncExporter() noexcept = default;
SwSyncExporter::SwSyncExporter(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
SwSyncExporter::SwSyncExporter(SwSyncExporter&&) noexcept = default;
SwSyncExporter& SwSyncExporter::operator=(SwSyncExporter&& other) noexcept {
  return detail::move_assign_closing(*this, state_, std::move(other.state_));
}
SwSyncExporter::~SwSyncExporter() { close(); }

Result<SwSyncExporter> SwSyncExporter::create(std::string name, std::uint64_t initial, std::string_view sw_sync_path) {
  if (initial > UINT32_MAX) return beyond_u32("initial value", initial, name);
  auto fd = open_sw_sync(sw_sync_path);
  if (!fd) return std::move(fd).error();
  // A new kernel timeline starts at 0. INC by initial (even 0: that also proves the file is
  // a sw_sync timeline before any fence is handed out).
  auto inc = inc_timeline(fd->get(), static_cast<std::uint32_t>(initial));
  if (!inc) return std::move(inc).error();
  auto state = std::make_unique<State>();
  fill_fence_name(state->fence_name, name);
  auto core = Timeline::create({.name = std::move(name), .wrap32 = true, .initial_value = initial});
  if (!core) return std::move(core).error();
  state->core = std::move(core).value();
  state->kernel = std::move(fd).value();
  state->value.store(static_cast<std::uint32_t>(initial), std::memory_order_relaxed);
  return SwSyncExporter(std::move(state));
}

Result<SyncFile> SwSyncExporter::sync_file_at(std::uint64_t point) const {
  if (!state_) return empty_exporter_error("sync_file_at");
  State& s = *state_;
  if (point > UINT32_MAX) return beyond_u32("point", point, s.core.name());
  const auto p = static_cast<std::uint32_t>(point);
  std::lock_guard guard(s.lock);
  if (s.closed.load(std::memory_order_relaxed)) return s.closed_error();
  const std::uint32_t v = s.value.load(std::memory_order_relaxed);
  const std::uint32_t ahead = p - v;
  if (static_cast<std::int32_t>(ahead) <= 0) {
    // Reached: the kernel returns an already-signaled fence that sits on no list; nothing to
    // hold. (Still under the lock: close() may not pull the timeline fd away meanwhile.)
    const int fd = create_fence_fd(s.kernel.get(), p, s.fence_name);
    if (fd < 0) return create_fence_error(errno, s.kernel.get(), p);
    return SyncFile(UniqueFd(fd));
  }
  auto by_distance = [v](const Held& h, std::uint32_t d) { return static_cast<std::uint32_t>(h.point - v) < d; };
  auto it = std::lower_bound(s.held.begin() + static_cast<std::ptrdiff_t>(s.head), s.held.end(), ahead, by_distance);
  int held_fd;
  if (it != s.held.end() && it->point == p) {
    held_fd = it->fd.get();  // one kernel fence per pending point: share it
  } else {
    if (s.head > 0 && s.held.size() == s.held.capacity()) {
      // Reuse the released front rather than grow.
      s.compact();
      it = std::lower_bound(s.held.begin(), s.held.end(), ahead, by_distance);
    }
    UniqueFd created(create_fence_fd(s.kernel.get(), p, s.fence_name));
    if (!created) return create_fence_error(errno, s.kernel.get(), p);
    held_fd = created.get();
    s.held.insert(it, Held{p, std::move(created), kNoDeadline});
  }
  const int user_fd = ::fcntl(held_fd, F_DUPFD_CLOEXEC, 0);
  if (user_fd < 0)
    return Error::from_errno(errno, "dup of the held sync_file for point " + std::to_string(p) + " of exporter '" +
                                        s.core.name() + "' failed");
  return SyncFile(UniqueFd(user_fd));
}

Result<Fence> SwSyncExporter::fence_at(std::uint64_t point) {
  if (!state_) return empty_exporter_error("fence_at");
  return state_->core.fence_at(point);
}

Result<void> SwSyncExporter::advance(std::uint64_t step) {
  if (!state_) return empty_exporter_error("advance");
  State& s = *state_;
  if (step > UINT32_MAX) return beyond_u32("advance step", step, s.core.name());
  const auto n = static_cast<std::uint32_t>(step);
  {
    std::lock_guard guard(s.lock);
    if (s.closed.load(std::memory_order_relaxed)) return s.closed_error();
    if (n == 0) return {};
    auto r = s.inc_locked(n);
    if (!r) return r;
    s.close_gate.begin_update();
  }
  // Outside the lock: core callbacks may call back into this exporter.
  return s.update_core(n);
}

Result<void> SwSyncExporter::signal_to(std::uint64_t point) {
  if (!state_) return empty_exporter_error("signal_to");
  State& s = *state_;
  if (point > UINT32_MAX) return beyond_u32("signal_to point", point, s.core.name());
  const auto p = static_cast<std::uint32_t>(point);
  std::uint32_t step;
  {
    std::lock_guard guard(s.lock);
    if (s.closed.load(std::memory_order_relaxed)) return s.closed_error();
    const std::uint32_t v = s.value.load(std::memory_order_relaxed);
    step = p - v;
    if (static_cast<std::int32_t>(step) < 0)
      return Error(Errc::backwards, EINVAL,
                   "signal_to(" + std::to_string(p) + ") is behind sw_sync exporter '" + s.core.name() + "' at " +
                       std::to_string(v) + " (u32 comparison)");
    if (step == 0) return {};
    auto r = s.inc_locked(step);
    if (!r) return r;
    s.close_gate.begin_update();
  }
  // A step, not signal_to(p): advances of other threads may land in between, in any order.
  return s.update_core(step);
}

Result<std::size_t> SwSyncExporter::poll_deadlines() {
  if (!state_) return empty_exporter_error("poll_deadlines");
  State& s = *state_;
  std::vector<std::pair<std::uint32_t, std::int64_t>> fresh;
  std::size_t with_deadline = 0;
  {
    std::lock_guard guard(s.lock);
    if (s.closed.load(std::memory_order_relaxed)) return s.closed_error();
    for (std::size_t i = s.head; i < s.held.size(); ++i) {
      Held& h = s.held[i];
      auto ns = read_deadline_ns(s.kernel.get(), h.fd.get());
      if (!ns) return std::move(ns).error();
      if (!*ns) continue;
      ++with_deadline;
      if (**ns < h.deadline_fed_ns) {
        h.deadline_fed_ns = **ns;
        fresh.emplace_back(h.point, **ns);
      }
    }
  }
  // The core fence at a held point is pending (the core never runs ahead of the kernel), and
  // the core's pending set keeps it, and its deadline, after this handle is dropped.
  for (const auto& [point, ns] : fresh) {
    auto fence = s.core.fence_at(point);
    if (!fence) return std::move(fence).error();
    auto set = fence->set_deadline(ns_to_time(ns));
    if (!set) return std::move(set).error();
  }
  return with_deadline;
}

void SwSyncExporter::close() noexcept {
  if (!state_) return;
  State& s = *state_;
  bool close_core;
  {
    std::lock_guard guard(s.lock);
    if (!s.closed.exchange(true, std::memory_order_relaxed)) s.close_kernel_side();
    close_core = s.close_gate.close_core_now();
  }
  if (close_core) s.core.close();  // idempotent; runs core callbacks outside our lock
}

std::uint64_t SwSyncExporter::value() const noexcept {
  return state_ ? state_->value.load(std::memory_order_acquire) : 0;
}

bool SwSyncExporter::closed() const noexcept { return !state_ || state_->closed.load(std::memory_order_acquire); }

const std::string& SwSyncExporter::name() const noexcept {
  static const std::string empty;
  return state_ ? state_->core.name() : empty;
}

std::size_t SwSyncExporter::held_fence_count() const noexcept {
  if (!state_) return 0;
  std::lock_guard guard(state_->lock);
  return state_->held.size() - state_->head;
}

std::optional<MonotonicTime> SwSyncExporter::earliest_deadline() const {
  return state_ ? state_->core.earliest_deadline() : std::nullopt;
}

const Timeline& SwSyncExporter::timeline() const noexcept { return state_->core; }

}  // namespace syncbridge
