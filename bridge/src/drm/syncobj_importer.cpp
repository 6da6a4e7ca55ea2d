#include <cerrno>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "syncbridge/syncobj_importer.h"

#include "closing_handle.h"
#include "drm/watcher_core.h"

namespace syncbridge {

namespace {
Error watcher_gone() { return Error(Errc::invalid_handle, EBADF, "SyncobjImporter: its Watcher was destroyed"); }
}  // namespace

struct SyncobjImporter::State {
  std::weak_ptr<detail::WatcherCore> watcher;  // the caller's Watcher, wherever it moved
  TimelineSyncobj syncobj;                     // our own handle for the caller's syncobj
  Timeline mirror;
  mutable std::mutex mu;
  bool closed = false;
  std::map<std::uint64_t, WatchId> watches;  // pending point -> its watch, under mu

  // Removes watches, never under mu (remove() may wait for a callback that is waiting for mu).
  // A watcher already destroyed dropped them itself.
  void remove_watches(const std::vector<WatchId>& ids) const {
    if (ids.empty()) return;
    if (auto w = watcher.lock())
      for (WatchId id : ids) (void)w->remove(id.value);
  }

  // On the dispatching thread.
  void fired(std::uint64_t point, const Result<void>& outcome) {
    std::vector<WatchId> redundant;
    {
      std::lock_guard lk(mu);
      auto end = outcome ? watches.upper_bound(point) : watches.end();
      for (auto it = watches.begin(); it != end; ++it)
        if (it->first != point) redundant.push_back(it->second);
      watches.erase(watches.begin(), end);
      if (!outcome) closed = true;
    }
    remove_watches(redundant);
    if (outcome)
      (void)mirror.signal_to(point);  // backwards: already there
    else
      mirror.close(outcome.error().sys_errno() > 0 ? outcome.error().sys_errno() : EIO);
  }
};

SyncobjImporter::SyncobjImporter() noexcept = default;
SyncobjImporter::SyncobjImporter(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
SyncobjImporter::SyncobjImporter(SyncobjImporter&&) noexcept = default;
SyncobjImporter& SyncobjImporter::operator=(SyncobjImporter&& other) noexcept {
  return detail::move_assign_closing(*this, state_, std::move(other.state_));
}
SyncobjImporter::~SyncobjImporter() { close(); }

Result<SyncobjImporter> SyncobjImporter::create(Watcher& watcher, const TimelineSyncobj& syncobj, std::string name) {
  if (!watcher.valid()) return Error(Errc::invalid_handle, EBADF, "SyncobjImporter::create: empty Watcher");
  auto value = syncobj.query();  // also rejects an empty or unusable syncobj
  if (!value) return std::move(value).error();
  auto own = syncobj.duplicate();
  if (!own) return std::move(own).error();
  auto mirror = Timeline::create({.name = std::move(name), .wrap32 = false, .initial_value = *value});
  if (!mirror) return std::move(mirror).error();
  auto state = std::make_shared<State>();
  state->watcher = detail::WatcherAccess::core(watcher);
  state->syncobj = std::move(own).value();
  state->mirror = std::move(mirror).value();
  return SyncobjImporter(std::move(state));
}

Result<Fence> SyncobjImporter::fence_at(std::uint64_t point) {
  if (!state_) return Error(Errc::invalid_handle, EBADF, "SyncobjImporter::fence_at on an empty importer");
  auto fence = state_->mirror.fence_at(point);
  if (!fence || fence->status() != FenceStatus::pending) return fence;
  {
    std::lock_guard lk(state_->mu);
    if (state_->closed) return Error(Errc::timeline_closed, ENOENT, "SyncobjImporter is closed");
    if (state_->watches.count(point)) return fence;
    state_->watches.emplace(point, WatchId{});  // reserved: a concurrent fence_at(point) stops here
  }
  std::weak_ptr<State> weak = state_;
  auto core = state_->watcher.lock();
  auto id = !core ? Result<WatchId>(watcher_gone())
                  : core->watch_syncobj(state_->syncobj, point, [weak, point](const Result<void>& outcome) {
                      if (auto s = weak.lock()) s->fired(point, outcome);
                    });
  bool drop = false;
  {
    std::lock_guard lk(state_->mu);
    auto it = state_->watches.find(point);
    if (!id) {
      if (it != state_->watches.end() && !it->second) state_->watches.erase(it);
      return std::move(id).error();
    }
    if (it != state_->watches.end())
      it->second = *id;
    else
      drop = state_->closed;  // gone: fired already (spent id), or close() ran meanwhile
  }
  if (drop) (void)core->remove(id->value);
  return fence;
}

std::size_t SyncobjImporter::watch_count() const noexcept {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->watches.size();
}

const Timeline& SyncobjImporter::timeline() const noexcept { return state_->mirror; }
const TimelineSyncobj& SyncobjImporter::syncobj() const noexcept { return state_->syncobj; }

void SyncobjImporter::close() noexcept {
  if (!state_) return;
  std::vector<WatchId> ids;
  {
    std::lock_guard lk(state_->mu);
    state_->closed = true;
    for (auto& [point, id] : state_->watches)
      if (id) ids.push_back(id);
    state_->watches.clear();
  }
  state_->remove_watches(ids);
  state_->mirror.close();
}

}  // namespace syncbridge
