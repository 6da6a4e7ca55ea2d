// syncbridge/result.h: the error and result types of every fallible call.
//
// Model: a call that can fail returns Result<T>, which holds either a value or an Error.
// An Error always carries
//   - code():      what went wrong, as a syncbridge::Errc (also usable as std::error_code);
//   - sys_errno(): the errno that best describes it (the kernel's own errno when a syscall
//                  failed; EINVAL, ENOENT, EBADF, ERANGE... for errors found in userspace);
//   - vk_result(): the VkResult when Vulkan reported it (0, VK_SUCCESS, otherwise);
//   - message():   one sentence saying which call failed on what, for logs and test output.
// "Not yet signaled" is never an Error: waits return Result<WaitStatus> with timed_out.
// Result is [[nodiscard]]: ignoring a failure has to be written out (`(void)`).
#pragma once

#include "syncbridge/export.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace syncbridge {

enum class Errc : int {
  invalid_argument = 1,  // a bad parameter (negative timeout, point out of the mode's range)
  invalid_handle,        // an empty or moved-from object, a closed or foreign fd
  backwards,             // signaling a timeline to a point below its current value
  out_of_range,          // a value past what the timeline or the kernel can represent
  timeline_closed,       // the timeline was closed; its pending fences ended with ENOENT
  fence_error,           // the fence completed with an error instead of signaling
  unsupported,           // the kernel, driver or build lacks the feature
  permission_denied,     // EACCES / EPERM from the kernel
  not_found,             // a device node, debugfs file or handle does not exist
  system,                // any other errno from a syscall
  vulkan,                // a VkResult error
};

SYNCBRIDGE_API const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), error_category()}; }

class SYNCBRIDGE_API Error {
 public:
  Error(Errc code, int sys_errno, std::string message, std::int32_t vk_result = 0)
      : code_(code), errno_(sys_errno), vk_result_(vk_result), message_(std::move(message)) {}

  // Classifies an errno from a failed syscall (EACCES -> permission_denied, ENOENT ->
  // not_found, ENOTTY/EOPNOTSUPP/ENOSYS -> unsupported, EBADF -> invalid_handle...).
  static Error from_errno(int sys_errno, std::string what);

  Errc code() const noexcept { return code_; }
  int sys_errno() const noexcept { return errno_; }
  std::int32_t vk_result() const noexcept { return vk_result_; }
  const std::string& message() const noexcept { return message_; }
  std::error_code error_code() const noexcept { return make_error_code(code_); }
  // "message (errno 2, No such file or directory)" — what a log line wants.
  std::string describe() const;

 private:
  Errc code_;
  int errno_;
  std::int32_t vk_result_;
  std::string message_;
};

namespace detail {
[[noreturn]] SYNCBRIDGE_API void die_on_unchecked_error(const Error& e) noexcept;
[[noreturn]] SYNCBRIDGE_API void die_on_value_of_error() noexcept;
}  // namespace detail

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Taking the value of a failed result is a programming error: it aborts with the message.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& {
    if (ok()) detail::die_on_value_of_error();
    return std::get<1>(v_);
  }
  Error&& error() && {
    if (ok()) detail::die_on_value_of_error();
    return std::get<1>(std::move(v_));
  }

 private:
  void check() const {
    if (!ok()) detail::die_on_unchecked_error(std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (error_) detail::die_on_unchecked_error(*error_);
  }
  const Error& error() const& {
    if (!error_) detail::die_on_value_of_error();
    return *error_;
  }
  Error&& error() && {
    if (!error_) detail::die_on_value_of_error();
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

}  // namespace syncbridge

template <>
struct std::is_error_code_enum<syncbridge::Errc> : std::true_type {};
