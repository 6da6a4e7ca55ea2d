// syncbridge/kernel_probe.h: what this kernel's fence interfaces can do, found by trying them.
//
// Model: each feature is a bit, set only after a real call succeeded (never guessed from a
// version number). A missing feature is not an error: the probe returns no bit and a note
// saying why (the file is missing, the ioctl answered ENOTTY...). The probe creates one sw_sync
// timeline and one pending fence of its own, and closes both. Answers about the 6.5+ deadline
// ioctls are remembered for the process, so later calls skip the syscall when unsupported.
// Ownership: the probe opens and closes its own fds; it keeps none and takes none of yours.
#pragma once

#include "syncbridge/export.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "syncbridge/bitmask.h"
#include "syncbridge/sw_sync.h"

namespace syncbridge {

enum class SyncFeature : std::uint32_t {
  none = 0,
  // The sw_sync debugfs file opens and SW_SYNC_IOC_CREATE_FENCE returns a sync_file.
  sw_sync = 1u << 0,
  // SYNC_IOC_SET_DEADLINE accepted on a sync_file (kernel 6.5+). Needs sw_sync to probe.
  sync_file_set_deadline = 1u << 1,
  // SW_SYNC_IOC_GET_DEADLINE reads a deadline back (kernel 6.5+). Needs sw_sync to probe.
  sw_sync_get_deadline = 1u << 2,
};
template <>
inline constexpr bool enable_bitmask<SyncFeature> = true;  // |, &, has(): see bitmask.h

struct SYNCBRIDGE_API SyncProbe {
  SyncFeature features = SyncFeature::none;
  std::vector<std::string> notes;  // one line per feature missing or not probed: why
  bool has(SyncFeature f) const noexcept { return syncbridge::has(features, f); }
  std::string describe() const;  // "sw_sync: yes\n..." one line per feature, then the notes
};

// Never fails: a failed step leaves its bit clear and adds a note.
[[nodiscard]] SYNCBRIDGE_API SyncProbe probe_sync_features(std::string_view sw_sync_path = kSwSyncPath);

}  // namespace syncbridge
