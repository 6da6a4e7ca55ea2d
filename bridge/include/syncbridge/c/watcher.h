/* syncbridge/c/watcher.h: kernel fences -> callbacks (see C++ watcher.h).
 *
 * A watcher runs a callback once per watch, when the watched sync_file, fd or syncobj point
 * completes. SYNCBRIDGE_WATCHER_OWN_THREAD runs them on a thread of its own;
 * SYNCBRIDGE_WATCHER_CALLER_LOOP starts no thread: poll syncbridge_watcher_fd() for POLLIN in
 * your loop (it is an epoll fd; borrowed) and call syncbridge_watcher_dispatch() when it is
 * readable. Watches are ids; syncbridge_watcher_remove() cancels one that has not fired.
 * Destroying the watcher drops the remaining watches without running them.
 */
#ifndef SYNCBRIDGE_C_WATCHER_H
#define SYNCBRIDGE_C_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syncbridge/c/drm.h"
#include "syncbridge/c/error.h"
#include "syncbridge/c/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct syncbridge_watcher syncbridge_watcher;

typedef enum syncbridge_watcher_mode {
  SYNCBRIDGE_WATCHER_OWN_THREAD = 0,
  SYNCBRIDGE_WATCHER_CALLER_LOOP
} syncbridge_watcher_mode;

/* outcome: SYNCBRIDGE_OK when the watched thing signaled; otherwise why not (a fence error,
 * with its errno in sys_errno). */
typedef void (*syncbridge_watch_callback)(syncbridge_result outcome, int sys_errno, void* user_data);

SYNCBRIDGE_API syncbridge_result syncbridge_watcher_create(syncbridge_watcher_mode mode,
                                                           syncbridge_watcher** watcher_out, syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_watcher_destroy(syncbridge_watcher* watcher);
/* Caller-loop mode: the fd to poll; -1 in own-thread mode. */
SYNCBRIDGE_API int syncbridge_watcher_fd(const syncbridge_watcher* watcher);
/* Caller-loop mode: runs the callbacks that are due, without blocking. */
SYNCBRIDGE_API syncbridge_result syncbridge_watcher_dispatch(syncbridge_watcher* watcher, size_t* ran_out,
                                                             syncbridge_error* error);
/* sync_file: consumed (also on failure). */
SYNCBRIDGE_API syncbridge_result syncbridge_watcher_watch_sync_file(syncbridge_watcher* watcher,
                                                                    syncbridge_sync_file* sync_file,
                                                                    syncbridge_watch_callback callback, void* user_data,
                                                                    uint64_t* watch_id_out, syncbridge_error* error);
/* fd: any pollable fd, consumed (also on failure); fires once it is readable. */
SYNCBRIDGE_API syncbridge_result syncbridge_watcher_watch_fd(syncbridge_watcher* watcher, int fd,
                                                             syncbridge_watch_callback callback, void* user_data,
                                                             uint64_t* watch_id_out, syncbridge_error* error);
/* A point of an exporter's syncobj; the exporter (borrowed) must outlive the watch. */
SYNCBRIDGE_API syncbridge_result syncbridge_watcher_watch_syncobj(syncbridge_watcher* watcher,
                                                                  const syncbridge_syncobj_exporter* exporter,
                                                                  uint64_t point, syncbridge_watch_callback callback,
                                                                  void* user_data, uint64_t* watch_id_out,
                                                                  syncbridge_error* error);
/* true when the watch was pending and is now gone (its callback will not run). */
SYNCBRIDGE_API bool syncbridge_watcher_remove(syncbridge_watcher* watcher, uint64_t watch_id);

#ifdef __cplusplus
}
#endif

#endif
