/* syncbridge/c/drm.h: DRM render nodes and the syncobj exporter (see C++ drm_device.h and
 * syncobj_exporter.h).
 *
 * A DRM device handle owns the render node fd it opened. The syncobj exporter pairs a core
 * timeline with a DRM timeline syncobj on such a device, which must outlive it. Consumers in
 * other processes or drivers take the syncobj fd (syncbridge_syncobj_exporter_export_fd: the
 * OPAQUE_FD that Mesa's Vulkan drivers import as a timeline semaphore) or sync_files of points
 * already reached. Destroying or closing the exporter releases every waiter of a point never
 * reached (the syncobj is signaled to its last point; core fences complete with ENOENT).
 */
#ifndef SYNCBRIDGE_C_DRM_H
#define SYNCBRIDGE_C_DRM_H

#include <stdint.h>

#include "syncbridge/c/core.h"
#include "syncbridge/c/error.h"
#include "syncbridge/c/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct syncbridge_drm_device syncbridge_drm_device;
typedef struct syncbridge_syncobj_exporter syncbridge_syncobj_exporter;

/* The first /dev/dri/renderD* node with timeline syncobjs; SYNCBRIDGE_ERR_NOT_FOUND or
 * _UNSUPPORTED (the message lists what was tried) when there is none. */
SYNCBRIDGE_API syncbridge_result syncbridge_drm_device_open_render_node(syncbridge_drm_device** device_out,
                                                                        syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_drm_device_destroy(syncbridge_drm_device* device);
SYNCBRIDGE_API int syncbridge_drm_device_fd(const syncbridge_drm_device* device); /* borrowed */

/* device: borrowed, must outlive the exporter. name may be NULL. */
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_create(const syncbridge_drm_device* device,
                                                                    const char* name, uint64_t initial_value,
                                                                    syncbridge_syncobj_exporter** exporter_out,
                                                                    syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_syncobj_exporter_destroy(syncbridge_syncobj_exporter* exporter);
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_fence_at(syncbridge_syncobj_exporter* exporter,
                                                                      uint64_t point, syncbridge_fence** fence_out,
                                                                      syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_advance(syncbridge_syncobj_exporter* exporter, uint64_t n,
                                                                     syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_signal_to(syncbridge_syncobj_exporter* exporter,
                                                                       uint64_t point, syncbridge_error* error);
/* The sync_file of a point already reached (<= value); SYNCBRIDGE_ERR_INVALID_ARGUMENT for a
 * later one, which has no kernel fence yet. */
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_sync_file_at(syncbridge_syncobj_exporter* exporter,
                                                                          uint64_t point,
                                                                          syncbridge_sync_file** sync_file_out,
                                                                          syncbridge_error* error);
/* A new fd for the syncobj itself; the caller owns *fd_out. */
SYNCBRIDGE_API syncbridge_result syncbridge_syncobj_exporter_export_fd(const syncbridge_syncobj_exporter* exporter,
                                                                       int* fd_out, syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_syncobj_exporter_close(syncbridge_syncobj_exporter* exporter);
SYNCBRIDGE_API uint64_t syncbridge_syncobj_exporter_value(const syncbridge_syncobj_exporter* exporter);

#ifdef __cplusplus
}
#endif

#endif
