#include "syncbridge/result.h"

#include <cstring>

namespace syncbridge {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "syncbridge"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::invalid_argument: return "invalid argument";
      case Errc::invalid_handle: return "empty, moved-from or invalid handle";
      case Errc::backwards: return "timeline cannot go backwards";
      case Errc::out_of_range: return "value out of the representable range";
      case Errc::timeline_closed: return "timeline closed";
      case Errc::fence_error: return "fence completed with an error";
      case Errc::unsupported: return "not supported here";
      case Errc::permission_denied: return "permission denied";
      case Errc::not_found: return "not found";
      case Errc::system: return "system call failed";
      case Errc::vulkan: return "Vulkan call failed";
    }
    return "unknown syncbridge error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

Error Error::from_errno(int sys_errno, std::string what) {
  Errc code = Errc::system;
  switch (sys_errno) {
    case EACCES:
    case EPERM: code = Errc::permission_denied; break;
    case ENOENT:
    case ENODEV:
    case ENXIO: code = Errc::not_found; break;
    case ENOTTY:
    case EOPNOTSUPP:
    case ENOSYS: code = Errc::unsupported; break;
    case EBADF: code = Errc::invalid_handle; break;
    case EINVAL: code = Errc::invalid_argument; break;
    case ERANGE:
    case EOVERFLOW: code = Errc::out_of_range; break;
    default: break;
  }
  return Error(code, sys_errno, std::move(what));
}

std::string Error::describe() const {
  std::string out = message_;
  if (errno_ != 0) {
    char buf[128];
    // GNU strerror_r returns the string it chose (maybe static), not an int.
    const char* text = strerror_r(errno_, buf, sizeof buf);
    out += " (errno " + std::to_string(errno_) + ", " + text + ")";
  }
  if (vk_result_ != 0) out += " (VkResult " + std::to_string(vk_result_) + ")";
  return out;
}

namespace detail {
void die_on_unchecked_error(const Error& e) noexcept {
  std::fprintf(stderr, "syncbridge: value() of a failed Result: %s\n", e.describe().c_str());
  std::abort();
}
void die_on_value_of_error() noexcept {
  std::fprintf(stderr, "syncbridge: error() of a successful Result\n");
  std::abort();
}
}  // namespace detail

}  // namespace syncbridge
