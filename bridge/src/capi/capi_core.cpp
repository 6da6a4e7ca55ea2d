// The C API: errors, timelines, fences, callbacks (syncbridge/c/error.h, syncbridge/c/core.h).
#include <cstring>

#include "capi/capi_internal.h"

using namespace syncbridge;
using namespace syncbridge::capi;

static_assert(static_cast<int>(Errc::invalid_argument) == SYNCBRIDGE_ERR_INVALID_ARGUMENT);
static_assert(static_cast<int>(Errc::vulkan) == SYNCBRIDGE_ERR_VULKAN);
static_assert(static_cast<int>(FenceStatus::pending) == SYNCBRIDGE_FENCE_PENDING);
static_assert(static_cast<int>(FenceStatus::error) == SYNCBRIDGE_FENCE_ERROR);

namespace syncbridge::capi {

syncbridge_result fail(syncbridge_error* error, syncbridge_result code, int sys_errno, const std::string& message,
                       std::int32_t vk_result) noexcept {
  if (error) {
    error->code = code;
    error->sys_errno = sys_errno;
    error->vk_result = vk_result;
    const std::size_t n = std::min(message.size(), sizeof(error->message) - 1);
    std::memcpy(error->message, message.data(), n);
    error->message[n] = '\0';
  }
  return code;
}

syncbridge_result fail(syncbridge_error* error, const Error& e) noexcept {
  return fail(error, static_cast<syncbridge_result>(static_cast<int>(e.code())), e.sys_errno(), e.message(),
              e.vk_result());
}

syncbridge_result null_argument(syncbridge_error* error, const char* function, const char* parameter) noexcept {
  return fail(error, SYNCBRIDGE_ERR_INVALID_ARGUMENT, EINVAL, std::string(function) + ": " + parameter + " is NULL");
}

std::chrono::nanoseconds timeout_of(std::int64_t timeout_ns) noexcept {
  return timeout_ns == SYNCBRIDGE_WAIT_FOREVER ? wait_forever : std::chrono::nanoseconds(timeout_ns);
}

syncbridge_result wait_outcome(syncbridge_error* error, Result<WaitStatus>&& r,
                               syncbridge_wait_status* status_out) noexcept {
  if (!r.ok()) return fail(error, r.error());
  *status_out = *r == WaitStatus::signaled ? SYNCBRIDGE_SIGNALED : SYNCBRIDGE_TIMED_OUT;
  return SYNCBRIDGE_OK;
}

}  // namespace syncbridge::capi

extern "C" {

const char* syncbridge_result_name(syncbridge_result result) {
  switch (result) {
    case SYNCBRIDGE_OK: return "ok";
    case SYNCBRIDGE_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case SYNCBRIDGE_ERR_INVALID_HANDLE: return "invalid_handle";
    case SYNCBRIDGE_ERR_BACKWARDS: return "backwards";
    case SYNCBRIDGE_ERR_OUT_OF_RANGE: return "out_of_range";
    case SYNCBRIDGE_ERR_TIMELINE_CLOSED: return "timeline_closed";
    case SYNCBRIDGE_ERR_FENCE_ERROR: return "fence_error";
    case SYNCBRIDGE_ERR_UNSUPPORTED: return "unsupported";
    case SYNCBRIDGE_ERR_PERMISSION_DENIED: return "permission_denied";
    case SYNCBRIDGE_ERR_NOT_FOUND: return "not_found";
    case SYNCBRIDGE_ERR_SYSTEM: return "system";
    case SYNCBRIDGE_ERR_VULKAN: return "vulkan";
  }
  return "unknown";
}

const char* syncbridge_version(void) { return SYNCBRIDGE_VERSION_STRING; }

syncbridge_result syncbridge_timeline_create(const char* name, uint64_t initial_value, bool wrap32,
                                             syncbridge_timeline** timeline_out, syncbridge_error* error) {
  return produce(error, "syncbridge_timeline_create", {{timeline_out, "timeline_out"}}, timeline_out, [&] {
    return Timeline::create({.name = name ? name : "syncbridge", .wrap32 = wrap32, .initial_value = initial_value});
  });
}

void syncbridge_timeline_destroy(syncbridge_timeline* timeline) { delete timeline; }

syncbridge_result syncbridge_timeline_fence_at(syncbridge_timeline* timeline, uint64_t point,
                                               syncbridge_fence** fence_out, syncbridge_error* error) {
  return produce(error, "syncbridge_timeline_fence_at", {{timeline, "timeline"}, {fence_out, "fence_out"}}, fence_out,
                 [&] { return timeline->timeline.fence_at(point); });
}

syncbridge_result syncbridge_timeline_advance(syncbridge_timeline* timeline, uint64_t n, syncbridge_error* error) {
  return call(error, "syncbridge_timeline_advance", {{timeline, "timeline"}},
              [&] { return check(error, timeline->timeline.advance(n)); });
}

syncbridge_result syncbridge_timeline_signal_to(syncbridge_timeline* timeline, uint64_t point,
                                                syncbridge_error* error) {
  return call(error, "syncbridge_timeline_signal_to", {{timeline, "timeline"}},
              [&] { return check(error, timeline->timeline.signal_to(point)); });
}

void syncbridge_timeline_close(syncbridge_timeline* timeline, int error_errno) {
  if (timeline) timeline->timeline.close(error_errno > 0 ? error_errno : ENOENT);
}

uint64_t syncbridge_timeline_value(const syncbridge_timeline* timeline) {
  return timeline ? timeline->timeline.value() : 0;
}

bool syncbridge_timeline_closed(const syncbridge_timeline* timeline) {
  return !timeline || timeline->timeline.closed();
}

syncbridge_fence* syncbridge_fence_dup(const syncbridge_fence* fence) {
  if (!fence) return nullptr;
  return new (std::nothrow) syncbridge_fence{fence->fence};
}

void syncbridge_fence_release(syncbridge_fence* fence) { delete fence; }

syncbridge_fence_status syncbridge_fence_get_status(const syncbridge_fence* fence) {
  return fence ? static_cast<syncbridge_fence_status>(fence->fence.status()) : SYNCBRIDGE_FENCE_ERROR;
}

int syncbridge_fence_error_errno(const syncbridge_fence* fence) { return fence ? fence->fence.error_errno() : EBADF; }

uint64_t syncbridge_fence_point(const syncbridge_fence* fence) { return fence ? fence->fence.point() : 0; }

syncbridge_result syncbridge_fence_wait(const syncbridge_fence* fence, int64_t timeout_ns,
                                        syncbridge_wait_status* status_out, syncbridge_error* error) {
  return call(error, "syncbridge_fence_wait", {{fence, "fence"}, {status_out, "status_out"}},
              [&] { return wait_outcome(error, fence->fence.wait(timeout_of(timeout_ns)), status_out); });
}

syncbridge_result syncbridge_fence_on_complete(const syncbridge_fence* fence, syncbridge_fence_callback callback,
                                               void* user_data, syncbridge_callback** registration_out,
                                               syncbridge_error* error) {
  return call(error, "syncbridge_fence_on_complete", {{fence, "fence"}, {callback, "callback"}},
              [&]() -> syncbridge_result {
                // Allocated first: once registered, the callback may run at once, and then there must be
                // nothing left to fail.
                std::unique_ptr<syncbridge_callback> handle;
                if (registration_out) handle.reset(new syncbridge_callback{});
                auto reg = fence->fence.on_complete([callback, user_data](const Fence& done) {
                  const syncbridge_fence borrowed{done};
                  callback(&borrowed, user_data);
                });
                if (!reg.ok()) return fail(error, reg.error());
                if (!registration_out) {
                  reg->detach();
                  return SYNCBRIDGE_OK;
                }
                handle->registration = std::move(reg).value();
                *registration_out = handle.release();
                return SYNCBRIDGE_OK;
              });
}

bool syncbridge_callback_cancel(syncbridge_callback* registration) {
  if (!registration) return false;
  const bool removed = registration->registration.cancel();
  delete registration;
  return removed;
}

void syncbridge_callback_detach(syncbridge_callback* registration) {
  if (!registration) return;
  registration->registration.detach();
  delete registration;
}

syncbridge_result syncbridge_fence_pollable_fd(const syncbridge_fence* fence, int* fd_out, syncbridge_error* error) {
  return call(error, "syncbridge_fence_pollable_fd", {{fence, "fence"}, {fd_out, "fd_out"}},
              [&] { return hand_out_fd(error, fd_out, fence->fence.pollable_fd()); });
}

}  // extern "C"
