// Internal: the sw_sync calls shared by SwSyncTimeline, SwSyncExporter and the probe. Each
// returns the kernel's answer without allocating on success. Not installed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge::detail {

// open(O_RDWR | O_CLOEXEC) with errors that say what to do (not_found, permission_denied).
Result<UniqueFd> open_sw_sync(std::string_view path);
void fill_fence_name(char (&out)[32], std::string_view name) noexcept;
// SW_SYNC_IOC_CREATE_FENCE: the new sync_file's fd, or -1 with errno set.
int create_fence_fd(int timeline_fd, std::uint32_t value, const char (&name)[32]) noexcept;
Error create_fence_error(int err, int timeline_fd, std::uint32_t value);
Result<void> inc_timeline(int timeline_fd, std::uint32_t n);
// SW_SYNC_IOC_GET_DEADLINE: the deadline in CLOCK_MONOTONIC ns, std::nullopt when none is set.
Result<std::optional<std::int64_t>> read_deadline_ns(int timeline_fd, int fence_fd);
MonotonicTime ns_to_time(std::int64_t ns);

}  // namespace syncbridge::detail
