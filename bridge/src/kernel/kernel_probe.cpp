#include "syncbridge/kernel_probe.h"

#include <chrono>

namespace syncbridge {

std::string SyncProbe::describe() const {
  auto line = [&](const char* what, SyncFeature f) { return std::string(what) + (has(f) ? ": yes\n" : ": no\n"); };
  std::string out = line("sw_sync", SyncFeature::sw_sync) +
                    line("sync_file SYNC_IOC_SET_DEADLINE", SyncFeature::sync_file_set_deadline) +
                    line("sw_sync SW_SYNC_IOC_GET_DEADLINE", SyncFeature::sw_sync_get_deadline);
  for (const std::string& note : notes) out += "  " + note + "\n";
  return out;
}

SyncProbe probe_sync_features(std::string_view sw_sync_path) {
  SyncProbe probe;
  const char* const kNeedsSwSync = "not probed: needs a sync_file source (sw_sync)";
  auto timeline = SwSyncTimeline::open(sw_sync_path);
  // No sw_sync: why, and the two deadline features left unprobed.
  auto without_sw_sync = [&](std::string why) {
    probe.notes.push_back("sw_sync: " + std::move(why));
    probe.notes.push_back(std::string("SYNC_IOC_SET_DEADLINE: ") + kNeedsSwSync);
    probe.notes.push_back(std::string("SW_SYNC_IOC_GET_DEADLINE: ") + kNeedsSwSync);
    return probe;
  };
  if (!timeline) return without_sw_sync(timeline.error().describe());
  // Point 1 of a fresh timeline (value 0): pending. Nothing INCs this private timeline, so
  // closing that fence's only fd below cannot race with a signal (the seed's bug needs one).
  auto fence = timeline->create_fence(1, "syncbridge-probe");
  if (!fence) return without_sw_sync(std::string(sw_sync_path) + " opened, but " + fence.error().describe());
  probe.features |= SyncFeature::sw_sync;

  auto set = fence->set_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  if (set)
    probe.features |= SyncFeature::sync_file_set_deadline;
  else
    probe.notes.push_back("SYNC_IOC_SET_DEADLINE: " + set.error().describe());

  auto get = timeline->get_deadline(*fence);
  if (get)
    probe.features |= SyncFeature::sw_sync_get_deadline;
  else
    probe.notes.push_back("SW_SYNC_IOC_GET_DEADLINE: " + get.error().describe());
  return probe;
}

}  // namespace syncbridge
