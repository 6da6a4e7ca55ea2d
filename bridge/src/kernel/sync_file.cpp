#include "syncbridge/sync_file.h"

#include "syncbridge/detail/monotonic_clock.h"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "kernel/uapi.h"

namespace syncbridge {

namespace detail {
std::atomic<int>& set_deadline_support() noexcept {
  static std::atomic<int> support{kSupportUnknown};
  return support;
}
std::atomic<int>& get_deadline_support() noexcept {
  static std::atomic<int> support{kSupportUnknown};
  return support;
}
}  // namespace detail

using namespace detail;

namespace {

std::string fd_text(int fd) { return "fd " + std::to_string(fd); }

Error empty_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string("SyncFile::") + what + " on an empty or moved-from SyncFile");
}

// The kernel reports 1 signaled, 0 active, a negative errno for an errored fence.
FenceStatus to_status(std::int32_t kernel_status) noexcept {
  if (kernel_status > 0) return FenceStatus::signaled;
  if (kernel_status == 0) return FenceStatus::pending;
  return FenceStatus::error;
}
int to_errno(std::int32_t kernel_status) noexcept { return kernel_status < 0 ? -kernel_status : 0; }

// SYNC_IOC_FILE_INFO with num_fences = 0: the file's name, status and fence count.
Result<sync_file_info> file_info_header(int fd) {
  sync_file_info info{};
  if (sb_ioctl(fd, kSyncIocFileInfo, &info) < 0)
    return Error::from_errno(errno, "SYNC_IOC_FILE_INFO on " + fd_text(fd) + " failed");
  return info;
}

std::string bounded(const char* text, std::size_t size) { return std::string(text, strnlen(text, size)); }

Error fence_error(int fd, std::int32_t kernel_status) {
  return Error(Errc::fence_error, to_errno(kernel_status),
               "the fence of sync_file " + fd_text(fd) + " completed with an error");
}

// A wait that may not block: one SYNC_IOC_FILE_INFO answers it all (no poll needed).
Result<WaitStatus> look(int fd) {
  auto info = file_info_header(fd);
  if (!info) return std::move(info).error();
  if (info->status < 0) return fence_error(fd, info->status);
  return info->status > 0 ? WaitStatus::signaled : WaitStatus::timed_out;
}

// Waits for POLLIN until deadline_ns (CLOCK_MONOTONIC; INT64_MAX: forever), then tells a
// signaled fence from an errored one.
Result<WaitStatus> wait_until_ns(int fd, std::int64_t deadline_ns) {
  pollfd pfd{fd, POLLIN, 0};
  for (;;) {
    timespec ts{};
    timespec* timeout = nullptr;
    if (deadline_ns != INT64_MAX) {
      // Recomputed from the absolute deadline on every pass: a signal handler that ran in
      // between costs the wait nothing (unlike subtracting the elapsed time from itself).
      const std::int64_t left = std::max<std::int64_t>(0, deadline_ns - detail::monotonic_now_ns());
      ts.tv_sec = static_cast<time_t>(left / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(left % 1'000'000'000);
      timeout = &ts;
    }
    pfd.revents = 0;
    const int r = ::ppoll(&pfd, 1, timeout, nullptr);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "poll on sync_file " + fd_text(fd) + " failed");
    }
    if (r == 0) return WaitStatus::timed_out;
    if (pfd.revents & POLLNVAL)
      return Error(Errc::invalid_handle, EBADF, "poll on " + fd_text(fd) + " reported POLLNVAL: not an open fd");
    if (pfd.revents & POLLERR)
      return Error(Errc::system, EIO, "poll on sync_file " + fd_text(fd) + " reported POLLERR");
    if (pfd.revents & POLLIN) {
      // Completed: signaled or errored, which only SYNC_IOC_FILE_INFO tells. (A pending answer
      // after POLLIN would be a kernel oddity: poll again.)
      auto outcome = look(fd);
      if (!outcome || *outcome == WaitStatus::signaled) return outcome;
    }
  }
}

}  // namespace

std::optional<MonotonicTime> SyncFenceInfo::timestamp() const {
  if (status == FenceStatus::pending) return std::nullopt;
  return MonotonicTime(std::chrono::duration_cast<MonotonicTime::duration>(
      std::chrono::nanoseconds(static_cast<std::int64_t>(timestamp_ns))));
}

Result<SyncFile> SyncFile::adopt(UniqueFd fd) {
  if (!fd) return Error(Errc::invalid_handle, EBADF, "SyncFile::adopt of an empty fd: not a sync_file");
  sync_file_info info{};
  if (sb_ioctl(fd.get(), kSyncIocFileInfo, &info) < 0) {
    const int err = errno;
    // fd is closed when this returns: adopt consumes it either way.
    return Error(Errc::invalid_handle, err, fd_text(fd.get()) + " is not a sync_file (SYNC_IOC_FILE_INFO refused it)");
  }
  return SyncFile(std::move(fd));
}

Result<SyncFile> SyncFile::dup_from(int borrowed_fd) {
  auto fd = UniqueFd::dup_of(borrowed_fd);
  if (!fd) return std::move(fd).error();
  auto file = adopt(std::move(fd).value());
  if (!file) {
    // Name the caller's fd, not our short-lived duplicate.
    const Error& e = file.error();
    return Error(e.code(), e.sys_errno(), fd_text(borrowed_fd) + " is not a sync_file (SYNC_IOC_FILE_INFO refused it)");
  }
  return file;
}

Result<SyncFile> SyncFile::dup() const {
  if (!fd_) return empty_error("dup");
  auto fd = fd_.dup();
  if (!fd) return std::move(fd).error();
  return SyncFile(std::move(fd).value());
}

Result<WaitStatus> SyncFile::wait(std::chrono::nanoseconds timeout) const {
  if (timeout < std::chrono::nanoseconds::zero())
    return Error(Errc::invalid_argument, EINVAL,
                 "SyncFile::wait with a negative timeout (" + std::to_string(timeout.count()) + " ns)");
  if (!fd_) return empty_error("wait");
  if (timeout == std::chrono::nanoseconds::zero()) return look(fd_.get());
  return wait_until_ns(fd_.get(), detail::deadline_after(timeout));
}

Result<WaitStatus> SyncFile::wait_until(MonotonicTime deadline) const {
  if (!fd_) return empty_error("wait_until");
  if (deadline == MonotonicTime::max()) return wait_until_ns(fd_.get(), detail::kNoDeadline);
  const std::int64_t ns = detail::to_ns(deadline);
  if (ns <= detail::monotonic_now_ns()) return look(fd_.get());
  return wait_until_ns(fd_.get(), ns);
}

Result<FenceStatus> SyncFile::status() const {
  if (!fd_) return empty_error("status");
  auto info = file_info_header(fd_.get());
  if (!info) return std::move(info).error();
  return to_status(info->status);
}

Result<SyncFileInfo> SyncFile::info() const {
  if (!fd_) return empty_error("info");
  const int fd = fd_.get();
  // The kernel wants the count first (num_fences = 0), then an array at least that long.
  auto header = file_info_header(fd);
  if (!header) return std::move(header).error();
  SyncFileInfo out;
  out.name = bounded(header->name, sizeof header->name);
  out.status = to_status(header->status);
  out.error_errno = to_errno(header->status);
  if (header->num_fences == 0) return out;

  std::vector<sync_fence_info> fences(header->num_fences);
  sync_file_info query{};
  query.num_fences = header->num_fences;
  query.sync_fence_info = static_cast<__u64>(reinterpret_cast<std::uintptr_t>(fences.data()));
  if (sb_ioctl(fd, kSyncIocFileInfo, &query) < 0)
    return Error::from_errno(
        errno, "SYNC_IOC_FILE_INFO (" + std::to_string(header->num_fences) + " fences) on " + fd_text(fd) + " failed");
  fences.resize(std::min<std::size_t>(fences.size(), query.num_fences));
  out.fences.reserve(fences.size());
  for (const sync_fence_info& f : fences) {
    SyncFenceInfo& i = out.fences.emplace_back();
    i.driver_name = bounded(f.driver_name, sizeof f.driver_name);
    i.timeline_name = bounded(f.obj_name, sizeof f.obj_name);
    i.status = to_status(f.status);
    i.error_errno = to_errno(f.status);
    i.timestamp_ns = f.timestamp_ns;
  }
  return out;
}

Result<SyncFile> SyncFile::merge(const SyncFile& a, const SyncFile& b, std::string_view name) {
  if (!a.fd_ || !b.fd_) return empty_error("merge");
  sync_merge_data data{};
  const std::size_t n = std::min(name.size(), sizeof data.name - 1);
  std::memcpy(data.name, name.data(), n);
  data.fd2 = b.fd_.get();
  if (sb_ioctl(a.fd_.get(), kSyncIocMerge, &data) < 0) {
    const int err = errno;
    const std::string what = "SYNC_IOC_MERGE of " + fd_text(a.fd_.get()) + " and " + fd_text(b.fd_.get());
    // The kernel's answers for an fd that is no sync_file any more (closed or replaced behind
    // the object): ENOTTY for the first, ENOENT for the second, EBADF for a closed one.
    if (err == ENOTTY || err == ENOENT || err == EBADF)
      return Error(Errc::invalid_handle, err, what + ": one of them is not a sync_file any more");
    return Error::from_errno(err, what + " failed");
  }
  return SyncFile(UniqueFd(data.fence));
}

Result<void> SyncFile::set_deadline(MonotonicTime deadline) const {
  if (!fd_) return empty_error("set_deadline");
  std::atomic<int>& support = set_deadline_support();
  static const char* const kMissing = "kernel lacks SYNC_IOC_SET_DEADLINE (needs 6.5+)";
  if (support.load(std::memory_order_relaxed) == kUnsupported) return Error(Errc::unsupported, ENOTTY, kMissing);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  sync_set_deadline_data data{static_cast<__u64>(std::max<std::int64_t>(0, ns)), 0};
  if (sb_ioctl(fd_.get(), kSyncIocSetDeadline, &data) < 0) {
    if (errno == ENOTTY) {
      support.store(kUnsupported, std::memory_order_relaxed);
      return Error(Errc::unsupported, ENOTTY, kMissing);
    }
    return Error::from_errno(errno, "SYNC_IOC_SET_DEADLINE on " + fd_text(fd_.get()) + " failed");
  }
  support.store(kSupported, std::memory_order_relaxed);
  return {};
}

}  // namespace syncbridge
