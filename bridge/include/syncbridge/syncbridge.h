/* syncbridge/syncbridge.h: the C API (C11), for programs that do not link C++.
 *
 * Model: the same objects as the C++ API, behind opaque handles, one header per concept:
 *   c/error.h    every fallible call returns a syncbridge_result and fills an optional
 *                syncbridge_error (code, errno, VkResult, a sentence).
 *   c/core.h     software timelines and their fences, callbacks, pollable fds.
 *   c/kernel.h   sync_files, and the sw_sync exporter (a timeline mirrored by sw_sync).
 *   c/drm.h      DRM render nodes and the syncobj exporter (a timeline mirrored by a syncobj).
 *   c/watcher.h  kernel fences -> callbacks, on its own thread or in the caller's poll loop.
 *   c/vulkan.h   CPU fences -> GPU waits, GPU completion -> CPU fences, on the application's
 *                VkInstance/VkDevice and loader.
 *
 * Ownership, everywhere: a function that creates a handle (`*_create`, `*_open*`, or any
 * `**out` parameter) gives it to the caller, who passes it to the matching `*_destroy` (for
 * fences, `syncbridge_fence_release`). A parameter documented "consumed" is taken over even
 * when the call fails; every other handle or fd parameter is borrowed for the call only. An fd
 * returned through `int *fd_out` is the caller's to close.
 * Threads: as in C++, every call may be made from any thread; callbacks run on the thread that
 * completes the fence (or the watcher's) and may call back into the library.
 * Stability: this API and its ABI follow the SONAME's semantic versioning (see README).
 */
#ifndef SYNCBRIDGE_SYNCBRIDGE_H
#define SYNCBRIDGE_SYNCBRIDGE_H

#include "syncbridge/c/core.h"
#include "syncbridge/c/drm.h"
#include "syncbridge/c/error.h"
#include "syncbridge/c/kernel.h"
#include "syncbridge/c/vulkan.h"
#include "syncbridge/c/watcher.h"

#endif
