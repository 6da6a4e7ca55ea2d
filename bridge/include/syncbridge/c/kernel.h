/* syncbridge/c/kernel.h: kernel sync_files and the sw_sync exporter (see C++ sync_file.h and
 * sw_sync.h).
 *
 * A sync_file handle owns one sync_file fd (close-on-exec) and closes it when destroyed.
 * syncbridge_sync_file_fd() lends the number out; syncbridge_sync_file_release_fd() hands it
 * to the caller and frees the handle. The sw_sync exporter pairs a core timeline with a kernel
 * sw_sync timeline (debugfs, needs CONFIG_SW_SYNC and root): its sync_files are real kernel
 * fences that other processes, drivers and Vulkan can wait on. Destroying or closing it
 * completes every pending fence, kernel and core, with ENOENT.
 */
#ifndef SYNCBRIDGE_C_KERNEL_H
#define SYNCBRIDGE_C_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "syncbridge/c/core.h"
#include "syncbridge/c/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct syncbridge_sync_file syncbridge_sync_file;

typedef struct syncbridge_sync_file_info {
  syncbridge_fence_status status;
  int error_errno;      /* positive errno when status is SYNCBRIDGE_FENCE_ERROR */
  uint32_t fence_count; /* kernel fences in the file (a merge has several) */
  char name[32];        /* the sync_file's name, NUL-terminated */
} syncbridge_sync_file_info;

/* fd: consumed (closed on failure too). SYNCBRIDGE_ERR_INVALID_HANDLE when it is not a
 * sync_file. */
SYNCBRIDGE_API syncbridge_result syncbridge_sync_file_adopt(int fd, syncbridge_sync_file** sync_file_out,
                                                            syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_sync_file_destroy(syncbridge_sync_file* sync_file); /* closes the fd */
SYNCBRIDGE_API int syncbridge_sync_file_fd(const syncbridge_sync_file* sync_file); /* borrowed; -1 for NULL */
/* The fd is the caller's now; the handle is freed. -1 for NULL. */
SYNCBRIDGE_API int syncbridge_sync_file_release_fd(syncbridge_sync_file* sync_file);
SYNCBRIDGE_API syncbridge_result syncbridge_sync_file_wait(const syncbridge_sync_file* sync_file, int64_t timeout_ns,
                                                           syncbridge_wait_status* status_out, syncbridge_error* error);
/* A new sync_file signaled when both are; name may be NULL. */
SYNCBRIDGE_API syncbridge_result syncbridge_sync_file_merge(const syncbridge_sync_file* a,
                                                            const syncbridge_sync_file* b, const char* name,
                                                            syncbridge_sync_file** merged_out, syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_sync_file_get_info(const syncbridge_sync_file* sync_file,
                                                               syncbridge_sync_file_info* info_out,
                                                               syncbridge_error* error);

typedef struct syncbridge_sw_sync_exporter syncbridge_sw_sync_exporter;

/* name may be NULL. SYNCBRIDGE_ERR_NOT_FOUND / _PERMISSION_DENIED / _UNSUPPORTED when the
 * kernel has no usable sw_sync (the message says which). */
SYNCBRIDGE_API syncbridge_result syncbridge_sw_sync_exporter_create(const char* name, uint32_t initial_value,
                                                                    syncbridge_sw_sync_exporter** exporter_out,
                                                                    syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_sw_sync_exporter_destroy(syncbridge_sw_sync_exporter* exporter);
/* A sync_file for point (pending until reached); the caller owns *sync_file_out. */
SYNCBRIDGE_API syncbridge_result syncbridge_sw_sync_exporter_sync_file_at(syncbridge_sw_sync_exporter* exporter,
                                                                          uint64_t point,
                                                                          syncbridge_sync_file** sync_file_out,
                                                                          syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_sw_sync_exporter_fence_at(syncbridge_sw_sync_exporter* exporter,
                                                                      uint64_t point, syncbridge_fence** fence_out,
                                                                      syncbridge_error* error);
/* n < 2^32 (sw_sync points are u32): SYNCBRIDGE_ERR_OUT_OF_RANGE otherwise. */
SYNCBRIDGE_API syncbridge_result syncbridge_sw_sync_exporter_advance(syncbridge_sw_sync_exporter* exporter, uint64_t n,
                                                                     syncbridge_error* error);
SYNCBRIDGE_API syncbridge_result syncbridge_sw_sync_exporter_signal_to(syncbridge_sw_sync_exporter* exporter,
                                                                       uint64_t point, syncbridge_error* error);
SYNCBRIDGE_API void syncbridge_sw_sync_exporter_close(syncbridge_sw_sync_exporter* exporter);
SYNCBRIDGE_API uint64_t syncbridge_sw_sync_exporter_value(const syncbridge_sw_sync_exporter* exporter);

#ifdef __cplusplus
}
#endif

#endif
