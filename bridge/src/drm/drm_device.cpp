#include "syncbridge/drm_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <utility>

#include "drm/drm_ops.h"

namespace syncbridge {

namespace drm = detail::drm;

std::string_view to_string(DrmCap cap) noexcept {
  switch (cap) {
    case DrmCap::syncobj: return "syncobj";
    case DrmCap::syncobj_timeline: return "syncobj_timeline";
    case DrmCap::syncobj_eventfd: return "syncobj_eventfd";
    case DrmCap::none: return "none";
  }
  return "unknown";
}

namespace {

constexpr DrmCap kAllCaps[] = {DrmCap::syncobj, DrmCap::syncobj_timeline, DrmCap::syncobj_eventfd};

std::string kernel_name(DrmCap cap) {
  switch (cap) {
    case DrmCap::syncobj: return "DRM_CAP_SYNCOBJ";
    case DrmCap::syncobj_timeline: return "DRM_CAP_SYNCOBJ_TIMELINE";
    case DrmCap::syncobj_eventfd: return "DRM_IOCTL_SYNCOBJ_EVENTFD";
    case DrmCap::none: break;
  }
  return "?";
}

std::string missing_list(DrmCap missing) {
  std::string out;
  for (DrmCap c : kAllCaps)
    if (has(missing, c)) out += (out.empty() ? "no " : ", no ") + kernel_name(c);
  return out;
}

// The eventfd ioctl refuses every driver without timeline syncobjs (EOPNOTSUPP) before it
// looks at the handle, so only a timeline-capable node can tell us whether it exists.
void probe_eventfd(int fd, DrmCap& caps, std::vector<std::string>& notes) {
  if (!has(caps, DrmCap::syncobj_timeline)) {
    notes.push_back("syncobj_eventfd: needs syncobj_timeline");
    return;
  }
  const int err = drm::probe_syncobj_eventfd(fd);
  if (err == ENOENT) {
    caps |= DrmCap::syncobj_eventfd;
    return;
  }
  notes.push_back("syncobj_eventfd: DRM_IOCTL_SYNCOBJ_EVENTFD on handle 0 answered errno " + std::to_string(err) +
                  " instead of ENOENT (" +
                  (err == ENOTTY || err == EINVAL ? "no such ioctl: kernel older than 6.6" : "not usable") +
                  "); watches fall back to a helper thread");
}

// renderD128 < renderD129 < renderD1000, by number rather than by name.
long node_number(const std::string& name) { return std::strtol(name.c_str() + 7, nullptr, 10); }

}  // namespace

DrmDevice::DrmDevice(DrmDevice&& other) noexcept
    : owned_(std::move(other.owned_)),
      fd_(std::exchange(other.fd_, -1)),
      caps_(std::exchange(other.caps_, DrmCap::none)),
      driver_(std::move(other.driver_)),
      path_(std::move(other.path_)),
      notes_(std::move(other.notes_)) {}

DrmDevice& DrmDevice::operator=(DrmDevice&& other) noexcept {
  if (this != &other) {
    owned_ = std::move(other.owned_);
    fd_ = std::exchange(other.fd_, -1);
    caps_ = std::exchange(other.caps_, DrmCap::none);
    driver_ = std::move(other.driver_);
    path_ = std::move(other.path_);
    notes_ = std::move(other.notes_);
  }
  return *this;
}

Result<DrmDevice> DrmDevice::probe(UniqueFd owned, int fd, std::string path, const DrmOpenOptions& options) {
  const std::string name = path.empty() ? "DRM fd " + std::to_string(fd) : path;
  auto driver = drm::driver_name(fd);
  if (!driver) {
    const Error& e = driver.error();
    return Error(e.code(), e.sys_errno(), name + ": " + e.message());
  }
  DrmDevice dev;
  dev.owned_ = std::move(owned);
  dev.fd_ = fd;
  dev.driver_ = std::move(driver).value();
  dev.path_ = std::move(path);

  // Binary and timeline syncobjs: the kernel's own answer. drmGetCap fails (EINVAL) only on
  // kernels older than the cap itself: a missing cap, not an error. EBADF means the fd itself
  // went away: that is an error.
  auto probe_cap = [&](DrmCap cap, std::uint64_t id) -> std::optional<Error> {
    auto v = drm::get_cap(fd, id, kernel_name(cap).c_str());
    if (!v) {
      if (v.error().code() == Errc::invalid_handle)
        return Error(v.error().code(), v.error().sys_errno(), name + ": " + v.error().message());
      dev.notes_.push_back(std::string(to_string(cap)) + ": " + v.error().describe());
    } else if (*v == 0) {
      dev.notes_.push_back(std::string(to_string(cap)) + ": the driver (" + dev.driver_ + ") reports " +
                           kernel_name(cap) + " = 0");
    } else {
      dev.caps_ |= cap;
    }
    return std::nullopt;
  };
  if (auto e = probe_cap(DrmCap::syncobj, drm::kCapSyncobj)) return std::move(*e);
  if (auto e = probe_cap(DrmCap::syncobj_timeline, drm::kCapSyncobjTimeline)) return std::move(*e);

  probe_eventfd(fd, dev.caps_, dev.notes_);

  for (DrmCap c : kAllCaps) {
    if (syncbridge::has(options.ignore, c) && dev.has(c)) {
      dev.caps_ &= ~c;
      dev.notes_.push_back(std::string(to_string(c)) + ": present but ignored (DrmOpenOptions::ignore)");
    }
  }
  const DrmCap missing = options.required & ~dev.caps_;
  if (missing != DrmCap::none)
    return Error(Errc::unsupported, EOPNOTSUPP, name + " (" + dev.driver_ + "): " + missing_list(missing));
  return dev;
}

Result<DrmDevice> DrmDevice::open(std::string_view path, DrmOpenOptions options) {
  std::string p(path);
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "cannot open DRM node " + p);
  const int raw = fd.get();
  return probe(std::move(fd), raw, std::move(p), options);
}

Result<DrmDevice> DrmDevice::borrow(int drm_fd, DrmOpenOptions options) {
  if (drm_fd < 0 || ::fcntl(drm_fd, F_GETFD) < 0)
    return Error(Errc::invalid_handle, EBADF, "DrmDevice::borrow: fd " + std::to_string(drm_fd) + " is not open");
  return probe(UniqueFd(), drm_fd, std::string(), options);
}

Result<DrmDevice> DrmDevice::open_render_node(DrmOpenOptions options) {
  const std::string dir(options.dir);
  std::vector<std::string> nodes;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.rfind("renderD", 0) == 0) nodes.push_back(n);
    }
    ::closedir(d);
  }
  std::string wanted;  // "DRM_CAP_SYNCOBJ and DRM_CAP_SYNCOBJ_TIMELINE"
  for (DrmCap c : kAllCaps)
    if (syncbridge::has(options.required, c)) wanted += (wanted.empty() ? "" : " and ") + kernel_name(c);
  if (wanted.empty()) wanted = "any capability";
  if (nodes.empty())
    return Error(Errc::not_found, ENOENT,
                 "no DRM render node with " + wanted + " under " + dir + ": it has no renderD* node");
  std::sort(nodes.begin(), nodes.end(),
            [](const std::string& a, const std::string& b) { return node_number(a) < node_number(b); });

  std::string tried;
  std::optional<Error> first_denied;
  bool all_denied = true;
  for (const std::string& n : nodes) {
    auto dev = open(dir + "/" + n, options);
    if (dev) return dev;
    if (dev.error().code() == Errc::permission_denied) {
      if (!first_denied) first_denied = dev.error();
    } else {
      all_denied = false;
    }
    tried += (tried.empty() ? "" : "; ") + dev.error().message();
  }
  if (all_denied && first_denied)
    return Error(Errc::permission_denied, first_denied->sys_errno(),
                 "no DRM render node under " + dir + " could be opened: " + tried);
  return Error(Errc::unsupported, EOPNOTSUPP,
               "no DRM render node with " + wanted + " under " + dir + " (" + tried + ")");
}

std::string DrmDevice::describe() const {
  std::string out = (path_.empty() ? "DRM fd " + std::to_string(fd_) + " (borrowed)" : path_) + " (" + driver_ + "):";
  bool any = false;
  for (DrmCap c : kAllCaps)
    if (has(c)) {
      out += " ";
      out += to_string(c);
      any = true;
    }
  if (!any) out += " no syncobj capabilities";
  return out;
}

Result<void> DrmDevice::require(DrmCap cap, std::string_view for_what) const {
  if (fd_ < 0) return Error(Errc::invalid_handle, EBADF, std::string(for_what) + ": empty DrmDevice");
  if (!has(cap))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 std::string(for_what) + " needs " + kernel_name(cap) + ", which " + describe() + " lacks");
  return {};
}

}  // namespace syncbridge
