// The C API's handles are structs wrapping the C++ objects; this header defines them and the
// helpers every C entry point uses: no exception crosses into C, every failure fills the
// caller's syncbridge_error.
#pragma once

#include <cerrno>
#include <exception>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>

#include "syncbridge/drm_device.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/syncbridge.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/timeline.h"
#include "syncbridge/watcher.h"

struct syncbridge_timeline {
  syncbridge::Timeline timeline;
};
struct syncbridge_fence {
  syncbridge::Fence fence;
};
struct syncbridge_callback {
  syncbridge::CallbackRegistration registration;
};
struct syncbridge_sync_file {
  syncbridge::SyncFile file;
};
struct syncbridge_sw_sync_exporter {
  syncbridge::SwSyncExporter exporter;
};
struct syncbridge_drm_device {
  syncbridge::DrmDevice device;
};
struct syncbridge_syncobj_exporter {
  syncbridge::SyncobjExporter exporter;
};
struct syncbridge_watcher {
  syncbridge::Watcher watcher;
};

namespace syncbridge::capi {

// Fills *error (when not null) and returns the code.
syncbridge_result fail(syncbridge_error* error, syncbridge_result code, int sys_errno, const std::string& message,
                       std::int32_t vk_result = 0) noexcept;
syncbridge_result fail(syncbridge_error* error, const Error& e) noexcept;
syncbridge_result null_argument(syncbridge_error* error, const char* function, const char* parameter) noexcept;

inline syncbridge_result check(syncbridge_error* error, const Result<void>& r) noexcept {
  return r.ok() ? SYNCBRIDGE_OK : fail(error, r.error());
}

// Runs body, turning an escaping exception (allocation failure) into an error.
template <class Body>
syncbridge_result guarded(syncbridge_error* error, const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(error, SYNCBRIDGE_ERR_SYSTEM, ENOMEM, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(error, SYNCBRIDGE_ERR_SYSTEM, EIO, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(error, SYNCBRIDGE_ERR_SYSTEM, EIO, std::string(function) + ": unknown exception");
  }
}

// Moves value into a new handle H{value} stored in *out.
template <class H, class T>
syncbridge_result hand_out(syncbridge_error* error, const char* function, H** out, T&& value) noexcept {
  H* handle = new (std::nothrow) H{std::forward<T>(value)};
  if (!handle) return fail(error, SYNCBRIDGE_ERR_SYSTEM, ENOMEM, std::string(function) + ": out of memory");
  *out = handle;
  return SYNCBRIDGE_OK;
}

// A Result<T>'s value handed out as a new H, or its error.
template <class H, class T>
syncbridge_result hand_out_result(syncbridge_error* error, const char* function, H** out, Result<T>&& r) noexcept {
  if (!r.ok()) return fail(error, r.error());
  return hand_out<H>(error, function, out, std::move(r).value());
}

// A Result<UniqueFd>'s descriptor released into *fd_out, or its error.
inline syncbridge_result hand_out_fd(syncbridge_error* error, int* fd_out, Result<UniqueFd>&& fd) noexcept {
  if (!fd.ok()) return fail(error, fd.error());
  *fd_out = std::move(fd).value().release();
  return SYNCBRIDGE_OK;
}

// A pointer argument that must not be NULL, and its name for the message saying it was.
struct Required {
  template <class P>
  Required(const P& pointer, const char* parameter) noexcept : present(pointer != nullptr), name(parameter) {}
  bool present;
  const char* name;
};

// The first NULL among required (in the order given) answered as null_argument; else body()'s
// result, guarded.
template <class Body>
syncbridge_result call(syncbridge_error* error, const char* function, std::initializer_list<Required> required,
                       Body&& body) noexcept {
  for (const Required& r : required)
    if (!r.present) return null_argument(error, function, r.name);
  return guarded(error, function, std::forward<Body>(body));
}

// As call, for an entry point whose product is make()'s Result handed out as a new H in *out
// (out goes into required too, under its parameter name).
template <class H, class Make>
syncbridge_result produce(syncbridge_error* error, const char* function, std::initializer_list<Required> required,
                          H** out, Make&& make) noexcept {
  return call(error, function, required, [&] { return hand_out_result<H>(error, function, out, make()); });
}

// An exporter without a syncobj (valid() is false) rejected before its syncobj is used.
inline syncbridge_result check_valid(syncbridge_error* error, const char* function,
                                     const syncbridge_syncobj_exporter& exporter) noexcept {
  if (exporter.exporter.valid()) return SYNCBRIDGE_OK;
  return fail(error, SYNCBRIDGE_ERR_INVALID_HANDLE, EBADF, std::string(function) + ": the exporter is empty");
}

// Runs a void entry point's body, swallowing what it throws: such entry points have no way to
// report a failure to C.
template <class Body>
void quietly(Body&& body) noexcept {
  try {
    body();
  } catch (...) {
  }
}

std::chrono::nanoseconds timeout_of(std::int64_t timeout_ns) noexcept;

// A fence wait's outcome in C terms.
syncbridge_result wait_outcome(syncbridge_error* error, Result<WaitStatus>&& r,
                               syncbridge_wait_status* status_out) noexcept;

}  // namespace syncbridge::capi
