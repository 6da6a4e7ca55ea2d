#include "syncbridge/syncobj_exporter.h"

#include <cerrno>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "closing_handle.h"
#include "mirror_close_gate.h"
#include "syncbridge/drm_device.h"

namespace syncbridge {

namespace {
constexpr std::uint64_t kClosedPoint = ~std::uint64_t{0};
}  // namespace

struct SyncobjExporter::State {
  std::string name;
  TimelineSyncobj syncobj;
  Timeline timeline;
  mutable std::mutex mu;
  std::uint64_t value = 0;  // the syncobj's, under mu
  bool closed = false;
  detail::MirrorCloseGate close_gate;                    // under mu
  std::multimap<std::uint64_t, SyncFileReady> requests;  // by point, under mu

  using Ready = std::vector<std::pair<std::uint64_t, SyncFileReady>>;

  // Under mu: the requests that value now covers.
  void take_ready(Ready& out) {
    auto end = requests.upper_bound(value);
    for (auto it = requests.begin(); it != end; ++it) out.emplace_back(it->first, std::move(it->second));
    requests.erase(requests.begin(), end);
  }

  // Outside mu.
  void deliver(Ready& ready) const {
    for (auto& [point, cb] : ready) cb(syncobj.export_sync_file(point));
  }

  // advance(n) when relative, else signal_to(arg). The target is computed and the syncobj
  // signaled in one critical section, so concurrent advances never lose a step.
  Result<void> move(bool relative, std::uint64_t arg) {
    Ready ready;
    std::uint64_t target;
    {
      std::lock_guard lk(mu);
      if (closed) return Error(Errc::timeline_closed, ENOENT, "SyncobjExporter '" + name + "' is closed");
      if (relative) {
        if (arg > ~std::uint64_t{0} - value)
          return Error(Errc::out_of_range, ERANGE,
                       "SyncobjExporter '" + name + "': advance(" + std::to_string(arg) + ") passes 2^64-1");
        target = value + arg;
      } else {
        if (arg < value)
          return Error(Errc::backwards, EINVAL,
                       "SyncobjExporter '" + name + "': signal_to(" + std::to_string(arg) + ") is below its value " +
                           std::to_string(value));
        target = arg;
      }
      if (target == value) return {};
      if (auto ok = syncobj.signal(target); !ok) return ok;
      value = target;
      if (!requests.empty()) take_ready(ready);
      close_gate.begin_update();
    }
    // Errc::backwards here means a concurrent advance already moved the core past target.
    // timeline_closed cannot happen: a close() meanwhile leaves the core close to the gate.
    auto moved = timeline.signal_to(target);
    bool close_core;
    {
      std::lock_guard lk(mu);
      close_core = close_gate.end_update();
    }
    if (close_core) timeline.close();
    if (!moved && moved.error().code() != Errc::backwards) return moved;
    if (!ready.empty()) deliver(ready);
    return {};
  }
};

SyncobjExporter::SyncobjExporter() noexcept = default;
SyncobjExporter::SyncobjExporter(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
SyncobjExporter::SyncobjExporter(SyncobjExporter&&) noexcept = default;
SyncobjExporter& SyncobjExporter::operator=(SyncobjExporter&& other) noexcept {
  return detail::move_assign_closing(*this, state_, std::move(other.state_));
}
SyncobjExporter::~SyncobjExporter() { close(); }

namespace {
Error empty_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty SyncobjExporter");
}
}  // namespace

Result<SyncobjExporter> SyncobjExporter::create(const DrmDevice& device, std::string name, std::uint64_t initial) {
  auto syncobj = TimelineSyncobj::create(device);
  if (!syncobj) return std::move(syncobj).error();
  if (initial > 0)
    if (auto ok = syncobj->signal(initial); !ok) return std::move(ok).error();
  auto timeline = Timeline::create({.name = name, .wrap32 = false, .initial_value = initial});
  if (!timeline) return std::move(timeline).error();
  auto state = std::make_unique<State>();
  state->name = std::move(name);
  state->syncobj = std::move(syncobj).value();
  state->timeline = std::move(timeline).value();
  state->value = initial;
  return SyncobjExporter(std::move(state));
}

Result<Fence> SyncobjExporter::fence_at(std::uint64_t point) {
  if (!state_) return empty_error("SyncobjExporter::fence_at");
  return state_->timeline.fence_at(point);
}

Result<void> SyncobjExporter::advance(std::uint64_t n) {
  if (!state_) return empty_error("SyncobjExporter::advance");
  return state_->move(true, n);
}

Result<void> SyncobjExporter::signal_to(std::uint64_t point) {
  if (!state_) return empty_error("SyncobjExporter::signal_to");
  return state_->move(false, point);
}

Result<SyncFile> SyncobjExporter::sync_file_at(std::uint64_t point) const {
  if (!state_) return empty_error("SyncobjExporter::sync_file_at");
  {
    std::lock_guard lk(state_->mu);
    if (state_->closed) return Error(Errc::timeline_closed, ENOENT, "SyncobjExporter '" + state_->name + "' is closed");
    if (point > state_->value)
      return Error(Errc::invalid_argument, EINVAL,
                   "SyncobjExporter '" + state_->name + "': point " + std::to_string(point) +
                       " is not submitted yet (value " + std::to_string(state_->value) +
                       "): use sync_file_at(point, ready) for future points");
  }
  if (point == 0) return signaled_sync_file();
  return state_->syncobj.export_sync_file(point);
}

// Point 0 is reached by definition (as fence_at(0) is signaled), but a syncobj that was never
// signaled has no fence for it to export: hand out an already-signaled sync_file instead, from a
// binary syncobj created signaled on the same DRM file.
Result<SyncFile> SyncobjExporter::signaled_sync_file() const {
  auto device = DrmDevice::borrow(state_->syncobj.drm_fd());
  if (!device) return std::move(device).error();
  auto signaled = BinarySyncobj::create(*device, true);
  if (!signaled) return std::move(signaled).error();
  return signaled->export_sync_file();
}

Result<void> SyncobjExporter::sync_file_at(std::uint64_t point, SyncFileReady ready) {
  if (!state_) return empty_error("SyncobjExporter::sync_file_at");
  if (!ready) return Error(Errc::invalid_argument, EINVAL, "SyncobjExporter::sync_file_at: empty callback");
  {
    std::lock_guard lk(state_->mu);
    if (state_->closed) return Error(Errc::timeline_closed, ENOENT, "SyncobjExporter '" + state_->name + "' is closed");
    if (point > state_->value) {
      state_->requests.emplace(point, std::move(ready));
      return {};
    }
  }
  ready(point == 0 ? signaled_sync_file() : state_->syncobj.export_sync_file(point));
  return {};
}

std::size_t SyncobjExporter::pending_sync_file_requests() const noexcept {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->requests.size();
}

Result<UniqueFd> SyncobjExporter::export_syncobj_fd() const {
  if (!state_) return empty_error("SyncobjExporter::export_syncobj_fd");
  return state_->syncobj.export_fd();
}

const TimelineSyncobj& SyncobjExporter::syncobj() const noexcept { return state_->syncobj; }
const Timeline& SyncobjExporter::timeline() const noexcept { return state_->timeline; }

void SyncobjExporter::close() noexcept {
  if (!state_) return;
  State& s = *state_;
  std::multimap<std::uint64_t, SyncFileReady> requests;
  bool close_core;
  {
    std::lock_guard lk(s.mu);
    if (s.closed) return;
    s.closed = true;
    // Release every kernel waiter of a point never reached, a GPU wait on a timeline semaphore
    // imported from this syncobj included: the last point there is. A syncobj point cannot
    // carry an error, so such waiters see it signaled (the core fences report ENOENT).
    if (s.value != kClosedPoint) (void)s.syncobj.signal(kClosedPoint);
    requests = std::move(s.requests);
    s.requests.clear();
    close_core = s.close_gate.close_core_now();
  }
  if (close_core) s.timeline.close();
  for (auto& [point, cb] : requests)
    cb(Error(Errc::timeline_closed, ENOENT,
             "SyncobjExporter '" + state_->name + "' closed before point " + std::to_string(point) + " was submitted"));
}

std::uint64_t SyncobjExporter::value() const noexcept {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->value;
}

bool SyncobjExporter::closed() const noexcept {
  if (!state_) return true;
  std::lock_guard lk(state_->mu);
  return state_->closed;
}

const std::string& SyncobjExporter::name() const noexcept {
  static const std::string empty;
  return state_ ? state_->name : empty;
}

}  // namespace syncbridge
