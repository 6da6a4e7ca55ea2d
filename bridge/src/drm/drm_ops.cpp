#include "drm/drm_ops.h"

#include "syncbridge/detail/monotonic_clock.h"

#include <sys/ioctl.h>
#include <time.h>
#include <xf86drm.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <limits>

namespace syncbridge::detail::drm {

static_assert(kWaitAll == DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL);
static_assert(kWaitForSubmit == DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
static_assert(kWaitAvailable == DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE);
static_assert(kCreateSignaled == DRM_SYNCOBJ_CREATE_SIGNALED);
static_assert(kQueryLastSubmitted == DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED);
static_assert(kCapSyncobj == DRM_CAP_SYNCOBJ);
static_assert(kCapSyncobjTimeline == DRM_CAP_SYNCOBJ_TIMELINE);

namespace {

// ---- include/uapi/drm/drm.h, kernel 6.6+ (verified against linux-source-6.12) ----
struct sb_drm_syncobj_eventfd {
  __u32 handle;
  __u32 flags;
  __u64 point;
  __s32 fd;
  __u32 pad;
};
static_assert(sizeof(sb_drm_syncobj_eventfd) == 24 && offsetof(sb_drm_syncobj_eventfd, point) == 8 &&
              offsetof(sb_drm_syncobj_eventfd, fd) == 16);
// DRM_IOWR(0xCF, struct drm_syncobj_eventfd); the macro's own casts stay in this constant.
constexpr unsigned long kIoctlSyncobjEventfd =
    _IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE, 0xCF, sizeof(sb_drm_syncobj_eventfd));
#ifdef DRM_IOCTL_SYNCOBJ_EVENTFD
static_assert(kIoctlSyncobjEventfd == DRM_IOCTL_SYNCOBJ_EVENTFD);
#endif

std::string what(const char* call, int fd) { return std::string(call) + " on DRM fd " + std::to_string(fd); }
std::string what(const char* call, int fd, std::uint32_t handle) {
  return std::string(call) + " of syncobj " + std::to_string(handle) + " on DRM fd " + std::to_string(fd);
}

// libdrm's "-1 with errno" convention.
Error errno_error(std::string message) {
  const int err = errno;
  return Error::from_errno(err, std::move(message) + " failed");
}

std::uint32_t count_of(std::size_t n) { return static_cast<std::uint32_t>(n); }
std::uint32_t* mutable_handles(std::span<const std::uint32_t> handles) {
  // libdrm's prototypes lack const on input arrays that it only reads.
  return const_cast<std::uint32_t*>(handles.data());
}
std::uint64_t* mutable_points(std::span<const std::uint64_t> points) {
  return const_cast<std::uint64_t*>(points.data());
}

}  // namespace

Result<std::uint64_t> get_cap(int fd, std::uint64_t cap, const char* cap_name) {
  std::uint64_t value = 0;
  if (drmGetCap(fd, cap, &value) != 0)
    return errno_error(std::string("drmGetCap(") + cap_name + ") on DRM fd " + std::to_string(fd));
  return value;
}

Result<std::string> driver_name(int fd) {
  errno = 0;
  drmVersionPtr version = drmGetVersion(fd);
  if (!version) {
    const int err = errno != 0 ? errno : ENOTTY;
    if (err == ENOTTY || err == EINVAL)
      return Error(Errc::unsupported, err,
                   "fd " + std::to_string(fd) + " is not a DRM device (drmGetVersion refused it)");
    return Error::from_errno(err, what("drmGetVersion", fd) + " failed");
  }
  std::string name(version->name ? version->name : "", version->name ? static_cast<std::size_t>(version->name_len) : 0);
  drmFreeVersion(version);
  // name_len may include padding NULs on some drivers.
  if (const auto nul = name.find('\0'); nul != std::string::npos) name.resize(nul);
  return name;
}

Result<std::uint32_t> syncobj_create(int fd, std::uint32_t flags) {
  std::uint32_t handle = 0;
  if (drmSyncobjCreate(fd, flags, &handle) != 0) return errno_error(what("drmSyncobjCreate", fd));
  return handle;
}

Result<void> syncobj_destroy(int fd, std::uint32_t handle) {
  if (drmSyncobjDestroy(fd, handle) != 0) return errno_error(what("drmSyncobjDestroy", fd, handle));
  return {};
}

Result<UniqueFd> syncobj_handle_to_fd(int fd, std::uint32_t handle) {
  int out = -1;
  if (drmSyncobjHandleToFD(fd, handle, &out) != 0) return errno_error(what("drmSyncobjHandleToFD", fd, handle));
  return UniqueFd(out);
}

Result<std::uint32_t> syncobj_fd_to_handle(int fd, int syncobj_fd) {
  std::uint32_t handle = 0;
  if (drmSyncobjFDToHandle(fd, syncobj_fd, &handle) != 0)
    return errno_error("drmSyncobjFDToHandle of fd " + std::to_string(syncobj_fd) + " on DRM fd " + std::to_string(fd));
  return handle;
}

Result<void> syncobj_import_sync_file(int fd, std::uint32_t handle, int sync_file_fd) {
  if (drmSyncobjImportSyncFile(fd, handle, sync_file_fd) != 0)
    return errno_error("drmSyncobjImportSyncFile of fd " + std::to_string(sync_file_fd) + " into syncobj " +
                       std::to_string(handle) + " on DRM fd " + std::to_string(fd));
  return {};
}

Result<UniqueFd> syncobj_export_sync_file(int fd, std::uint32_t handle) {
  int out = -1;
  if (drmSyncobjExportSyncFile(fd, handle, &out) != 0) return errno_error(what("drmSyncobjExportSyncFile", fd, handle));
  return UniqueFd(out);
}

Result<WaitOutcome> syncobj_wait(int fd, std::span<const std::uint32_t> handles, std::span<const std::uint64_t> points,
                                 std::int64_t abs_timeout_ns, std::uint32_t flags) {
  std::uint32_t first = 0;
  int r;
  const char* call;
  if (points.empty()) {
    call = "drmSyncobjWait";
    r = drmSyncobjWait(fd, mutable_handles(handles), count_of(handles.size()), abs_timeout_ns, flags, &first);
  } else {
    call = "drmSyncobjTimelineWait";
    r = drmSyncobjTimelineWait(fd, mutable_handles(handles), mutable_points(points), count_of(handles.size()),
                               abs_timeout_ns, flags, &first);
  }
  if (r == 0) return WaitOutcome{WaitStatus::signaled, first};
  // These two return -errno (some old libdrm releases returned +errno): take the magnitude.
  const int err = r < 0 ? -r : r;
  if (err == ETIME) return WaitOutcome{WaitStatus::timed_out, 0};
  std::string message = std::string(call) + " on DRM fd " + std::to_string(fd) + " (" + std::to_string(handles.size()) +
                        (handles.size() == 1 ? " handle: " + std::to_string(handles[0]) : std::string(" handles")) +
                        (points.size() == 1 ? ", point " + std::to_string(points[0]) : std::string()) + ") failed";
  if (err == EINVAL && !(flags & (kWaitForSubmit | kWaitAvailable)))
    message += ": a point without a fence (not submitted yet) needs WAIT_FOR_SUBMIT";
  return Error::from_errno(err, std::move(message));
}

Result<void> syncobj_reset(int fd, std::span<const std::uint32_t> handles) {
  if (drmSyncobjReset(fd, handles.data(), count_of(handles.size())) != 0)
    return errno_error(what("drmSyncobjReset", fd, handles.empty() ? 0 : handles[0]));
  return {};
}

Result<void> syncobj_signal(int fd, std::span<const std::uint32_t> handles) {
  if (drmSyncobjSignal(fd, handles.data(), count_of(handles.size())) != 0)
    return errno_error(what("drmSyncobjSignal", fd, handles.empty() ? 0 : handles[0]));
  return {};
}

Result<void> syncobj_timeline_signal(int fd, std::span<const std::uint32_t> handles,
                                     std::span<const std::uint64_t> points) {
  if (drmSyncobjTimelineSignal(fd, handles.data(), mutable_points(points), count_of(handles.size())) != 0)
    return errno_error(what("drmSyncobjTimelineSignal", fd, handles.empty() ? 0 : handles[0]) +
                       (points.size() == 1 ? " at point " + std::to_string(points[0]) : std::string()));
  return {};
}

Result<void> syncobj_query(int fd, std::span<const std::uint32_t> handles, std::span<std::uint64_t> points,
                           std::uint32_t flags) {
  if (drmSyncobjQuery2(fd, mutable_handles(handles), points.data(), count_of(handles.size()), flags) != 0)
    return errno_error(what("drmSyncobjQuery2", fd, handles.empty() ? 0 : handles[0]));
  return {};
}

Result<void> syncobj_transfer(int fd, std::uint32_t dst_handle, std::uint64_t dst_point, std::uint32_t src_handle,
                              std::uint64_t src_point, std::uint32_t flags) {
  if (drmSyncobjTransfer(fd, dst_handle, dst_point, src_handle, src_point, flags) != 0) {
    const int err = errno;
    std::string message = "drmSyncobjTransfer of syncobj " + std::to_string(src_handle) + " point " +
                          std::to_string(src_point) + " to syncobj " + std::to_string(dst_handle) + " point " +
                          std::to_string(dst_point) + " on DRM fd " + std::to_string(fd) + " failed";
    if (err == EINVAL) message += " (a source point without a fence has not been submitted yet)";
    return Error::from_errno(err, std::move(message));
  }
  return {};
}

Result<void> syncobj_eventfd(int fd, std::uint32_t handle, std::uint64_t point, int event_fd, std::uint32_t flags) {
#if SYNCBRIDGE_HAVE_DRM_SYNCOBJ_EVENTFD
  if (drmSyncobjEventfd(fd, handle, point, event_fd, flags) != 0)
    return errno_error(what("drmSyncobjEventfd", fd, handle) + " at point " + std::to_string(point));
#else
  sb_drm_syncobj_eventfd args{};
  args.handle = handle;
  args.flags = flags;
  args.point = point;
  args.fd = event_fd;
  if (drmIoctl(fd, kIoctlSyncobjEventfd, &args) != 0)
    return errno_error(what("DRM_IOCTL_SYNCOBJ_EVENTFD", fd, handle) + " at point " + std::to_string(point));
#endif
  return {};
}

int probe_syncobj_eventfd(int fd) noexcept {
  // Handle 0 is never a syncobj (the kernel allocates handles from 1): where the ioctl exists
  // it fails the lookup with ENOENT before it looks at the eventfd.
  sb_drm_syncobj_eventfd args{};
  args.fd = -1;
  if (drmIoctl(fd, kIoctlSyncobjEventfd, &args) == 0) return 0;
  return errno;
}

std::int64_t abs_timeout_ns(std::chrono::nanoseconds timeout) noexcept {
  // 0 means "only look" to the kernel.
  return timeout.count() <= 0 ? 0 : deadline_after(timeout);
}

std::int64_t abs_deadline_ns(MonotonicTime deadline) noexcept {
  // 0 would mean "only look", which is what a deadline at or before the epoch means anyway.
  const std::int64_t ns = to_ns(deadline);
  return ns > 0 ? ns : 0;
}

}  // namespace syncbridge::detail::drm
