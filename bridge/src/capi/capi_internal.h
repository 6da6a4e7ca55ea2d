// The C API's handles are structs wrapping the C++ objects; this header defines them and the
// helpers every C entry point uses: no exception crosses into C, every failure fills the
// caller's syncbridge_error.
#pragma once

#include <cerrno>
#include <exception>
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

std::chrono::nanoseconds timeout_of(std::int64_t timeout_ns) noexcept;

// A fence wait's outcome in C terms.
syncbridge_result wait_outcome(syncbridge_error* error, Result<WaitStatus>&& r,
                               syncbridge_wait_status* status_out) noexcept;

}  // namespace syncbridge::capi
