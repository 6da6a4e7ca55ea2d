// syncbridge/drm_device.h: a DRM render node, chosen by what it can do.
//
// Model: DRM syncobjs (see drm_syncobj.h) live in the handle table of one open DRM file: a
// render node (/dev/dri/renderD128...) is enough, no master rights needed. Which syncobj
// features a node has depends on its driver and kernel, so a DrmDevice probes them once, when
// it opens, into a bitmask of DrmCap bits, and never guesses:
//   - syncobj          drmGetCap(DRM_CAP_SYNCOBJ) != 0: binary syncobjs.
//   - syncobj_timeline drmGetCap(DRM_CAP_SYNCOBJ_TIMELINE) != 0: timeline points, transfer,
//                      query (kernel 5.2+, per driver: vgem has neither cap, virtio_gpu both).
//   - syncobj_eventfd  DRM_IOCTL_SYNCOBJ_EVENTFD exists (kernel 6.6+): probed with a harmless
//                      call on handle 0, which answers ENOENT where the ioctl exists and
//                      ENOTTY/EINVAL where it does not (the Smithay/Mutter probe).
// A missing capability is not an error at open time: caps() leaves its bit clear and notes()
// says why. Calls that need it fail with Errc::unsupported (errno EOPNOTSUPP), before any ioctl.
//
// Ownership: open_render_node() and open() own the fd they open (close-on-exec) and close it
// when destroyed. borrow() wraps the caller's fd and never closes it; the caller keeps it open
// for as long as this object and every syncobj made on it live. Either way the DrmDevice must
// outlive every syncobj, exporter, importer and watch made on it (they keep its fd number).
// DrmDevice moves (the fd number, and so the syncobjs, stay valid); it does not copy.
// Threads: const members may be called concurrently (the kernel serializes the ioctls).
#pragma once

#include "syncbridge/export.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "syncbridge/bitmask.h"
#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

enum class DrmCap : std::uint32_t {
  none = 0,
  syncobj = 1u << 0,           // DRM_CAP_SYNCOBJ
  syncobj_timeline = 1u << 1,  // DRM_CAP_SYNCOBJ_TIMELINE
  syncobj_eventfd = 1u << 2,   // DRM_IOCTL_SYNCOBJ_EVENTFD (kernel 6.6+)
};
template <>
inline constexpr bool enable_bitmask<DrmCap> = true;  // |, &, ~, has(): see bitmask.h
// "syncobj", "syncobj_timeline", "syncobj_eventfd" (one bit; "none" for none).
SYNCBRIDGE_API std::string_view to_string(DrmCap cap) noexcept;

struct SYNCBRIDGE_API DrmOpenOptions {
  // A node lacking any of these is skipped by open_render_node() and refused by open() and
  // borrow() with Errc::unsupported. The default is what timeline syncobjs need.
  DrmCap required = DrmCap::syncobj | DrmCap::syncobj_timeline;
  // Capabilities to treat as absent even where the kernel has them: tests of fallbacks, or
  // working around a driver bug. They are left out of caps() and noted in notes().
  DrmCap ignore = DrmCap::none;
  // Where open_render_node() looks for renderD* nodes.
  std::string_view dir = "/dev/dri";
};

class SYNCBRIDGE_API DrmDevice {
 public:
  // Tries dir/renderD* in numeric order and keeps the first node with every required
  // capability. Errc::not_found (ENOENT) when dir has no render node at all; Errc::unsupported
  // (EOPNOTSUPP) when none qualifies, naming every node tried and what it lacked (e.g.
  // "renderD128 (vgem): no DRM_CAP_SYNCOBJ"); the first node's Errc::permission_denied when
  // none could be opened for lack of rights.
  [[nodiscard]] static Result<DrmDevice> open_render_node(DrmOpenOptions options = {});
  // Opens one node by path (O_RDWR | O_CLOEXEC). Errors as open(2), or Errc::unsupported
  // (EOPNOTSUPP) when it lacks a required capability.
  [[nodiscard]] static Result<DrmDevice> open(std::string_view path, DrmOpenOptions options = {});
  // Probes the caller's DRM fd without owning it (see Ownership above). Errc::invalid_handle
  // (EBADF) for a closed fd, Errc::unsupported (ENOTTY) for an fd that is not a DRM device.
  [[nodiscard]] static Result<DrmDevice> borrow(int drm_fd, DrmOpenOptions options = {});

  DrmDevice() noexcept = default;  // empty: fd() is -1, caps() is DrmCap::none
  DrmDevice(DrmDevice&& other) noexcept;
  DrmDevice& operator=(DrmDevice&& other) noexcept;
  DrmDevice(const DrmDevice&) = delete;
  DrmDevice& operator=(const DrmDevice&) = delete;
  ~DrmDevice() = default;

  bool valid() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }  // borrowed from this object (or from the caller)
  bool owns_fd() const noexcept { return owned_.valid(); }

  DrmCap caps() const noexcept { return caps_; }
  bool has(DrmCap cap) const noexcept { return syncbridge::has(caps_, cap); }
  const std::string& driver_name() const noexcept { return driver_; }  // from drmGetVersion
  const std::string& path() const noexcept { return path_; }           // "" when borrowed
  // One line per capability missing or ignored: why.
  const std::vector<std::string>& notes() const noexcept { return notes_; }
  // "/dev/dri/renderD128 (virtio_gpu): syncobj syncobj_timeline syncobj_eventfd".
  std::string describe() const;

  // Errc::unsupported (EOPNOTSUPP) naming the device and cap when it lacks cap; for callers
  // that check before an ioctl.
  [[nodiscard]] Result<void> require(DrmCap cap, std::string_view for_what) const;

 private:
  static Result<DrmDevice> probe(UniqueFd owned, int fd, std::string path, const DrmOpenOptions& options);

  UniqueFd owned_;
  int fd_ = -1;
  DrmCap caps_ = DrmCap::none;
  std::string driver_;
  std::string path_;
  std::vector<std::string> notes_;
};

}  // namespace syncbridge
