/* syncbridge/c/core.h: software timelines and fences (see C++ timeline.h and fence.h).
 *
 * A timeline is a counter plus the fences waiting for it to reach their points; advancing it
 * signals them in point order, closing it completes the pending ones with an errno (ENOENT by
 * default). The timeline handle is the producer's: destroying it closes the timeline. Fence
 * handles are references: each one returned is the caller's, released with
 * syncbridge_fence_release(); syncbridge_fence_dup() makes another reference to the same fence.
 * A fence stays valid after its timeline is destroyed.
 */
#ifndef SYNCBRIDGE_C_CORE_H
#define SYNCBRIDGE_C_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "syncbridge/c/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct syncbridge_timeline syncbridge_timeline;
typedef struct syncbridge_fence syncbridge_fence;
typedef struct syncbridge_callback syncbridge_callback;

typedef enum syncbridge_fence_status {
  SYNCBRIDGE_FENCE_PENDING = 0,
  SYNCBRIDGE_FENCE_SIGNALED,
  SYNCBRIDGE_FENCE_ERROR
} syncbridge_fence_status;

typedef enum syncbridge_wait_status { SYNCBRIDGE_SIGNALED = 0, SYNCBRIDGE_TIMED_OUT } syncbridge_wait_status;

/* Wait timeouts are relative, in nanoseconds: 0 only looks, this waits without a deadline. */
#define SYNCBRIDGE_WAIT_FOREVER INT64_MAX

/* name may be NULL ("syncbridge"). wrap32: u32 points compared with wrap-around, as sw_sync. */
SYNCBRIDGE_API syncbridge_result syncbridge_timeline_create(const char* name, uint64_t initial_value, bool wrap32,
                                                            syncbridge_timeline** timeline_out,
                                                            syncbridge_error* error);
/* Closes the timeline (pending fences complete with ENOENT) and frees the handle. NULL is ok. */
SYNCBRIDGE_API void syncbridge_timeline_destroy(syncbridge_timeline* timeline);
/* A fence for point: signaled already when point <= value. The caller owns *fence_out. */
SYNCBRIDGE_API syncbridge_result syncbridge_timeline_fence_at(syncbridge_timeline* timeline, uint64_t point,
                                                              syncbridge_fence** fence_out, syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_timeline_advance(syncbridge_timeline* timeline, uint64_t n,
                                                             syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_timeline_signal_to(syncbridge_timeline* timeline, uint64_t point,
                                                               syncbridge_error* error);
/* Pending fences complete with error_errno (positive; 0 means ENOENT). Idempotent. */
SYNCBRIDGE_API void syncbridge_timeline_close(syncbridge_timeline* timeline, int error_errno);
SYNCBRIDGE_API uint64_t syncbridge_timeline_value(const syncbridge_timeline* timeline);
SYNCBRIDGE_API bool syncbridge_timeline_closed(const syncbridge_timeline* timeline);

/* Another reference to the same fence (NULL on allocation failure or a NULL fence). */
SYNCBRIDGE_API syncbridge_fence* syncbridge_fence_dup(const syncbridge_fence* fence);
/* Drops this reference. NULL is ok. */
SYNCBRIDGE_API void syncbridge_fence_release(syncbridge_fence* fence);
/* A NULL fence reads as SYNCBRIDGE_FENCE_ERROR with errno EBADF. */
SYNCBRIDGE_API syncbridge_fence_status syncbridge_fence_get_status(const syncbridge_fence* fence);
SYNCBRIDGE_API int syncbridge_fence_error_errno(const syncbridge_fence* fence);
SYNCBRIDGE_API uint64_t syncbridge_fence_point(const syncbridge_fence* fence);
/* SYNCBRIDGE_OK with *status_out SIGNALED or TIMED_OUT; SYNCBRIDGE_ERR_FENCE_ERROR (errno in
 * error->sys_errno) when the fence completed with an error. */
SYNCBRIDGE_API syncbridge_result syncbridge_fence_wait(const syncbridge_fence* fence, int64_t timeout_ns,
                                                       syncbridge_wait_status* status_out, syncbridge_error* error);

/* Runs once when the fence completes (at once, on this thread, if it has). The fence passed in
 * is borrowed for the call. */
typedef void (*syncbridge_fence_callback)(const syncbridge_fence* fence, void* user_data);
/* registration_out: the caller's, for syncbridge_callback_cancel/_detach; NULL registers a
 * detached callback. */
SYNCBRIDGE_API syncbridge_result syncbridge_fence_on_complete(const syncbridge_fence* fence,
                                                              syncbridge_fence_callback callback, void* user_data,
                                                              syncbridge_callback** registration_out,
                                                              syncbridge_error* error);
/* Removes the callback (waiting for it if it runs on another thread now) and frees the
 * registration: true when it was removed before it started. */
SYNCBRIDGE_API bool syncbridge_callback_cancel(syncbridge_callback* registration);
/* Frees the registration; the callback still runs when the fence completes. */
SYNCBRIDGE_API void syncbridge_callback_detach(syncbridge_callback* registration);

/* An fd that becomes readable (POLLIN) when the fence completes; the caller owns *fd_out. */
SYNCBRIDGE_API syncbridge_result syncbridge_fence_pollable_fd(const syncbridge_fence* fence, int* fd_out,
                                                              syncbridge_error* error);

#ifdef __cplusplus
}
#endif

#endif
