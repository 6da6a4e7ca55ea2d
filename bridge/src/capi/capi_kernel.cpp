// The C API: sync_files, the sw_sync and syncobj exporters, DRM devices and the watcher
// (syncbridge/c/kernel.h, drm.h, watcher.h).
#include <algorithm>
#include <cstring>

#include "capi_internal.h"

using namespace syncbridge;
using namespace syncbridge::capi;

namespace {

WatchCallback c_watch_callback(syncbridge_watch_callback callback, void* user_data) {
  return [callback, user_data](const Result<void>& outcome) {
    if (outcome.ok())
      callback(SYNCBRIDGE_OK, 0, user_data);
    else
      callback(static_cast<syncbridge_result>(static_cast<int>(outcome.error().code())), outcome.error().sys_errno(),
               user_data);
  };
}

syncbridge_result hand_out_watch(syncbridge_error* error, uint64_t* watch_id_out, Result<WatchId>&& id) {
  if (!id.ok()) return fail(error, id.error());
  if (watch_id_out) *watch_id_out = id->value;
  return SYNCBRIDGE_OK;
}

}  // namespace

extern "C" {

// ---- sync_file ----

syncbridge_result syncbridge_sync_file_adopt(int fd, syncbridge_sync_file** sync_file_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sync_file_adopt";
  UniqueFd owned(fd);  // consumed, whatever happens next
  if (!sync_file_out) return null_argument(error, fn, "sync_file_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_sync_file>(error, fn, sync_file_out, SyncFile::adopt(std::move(owned)));
  });
}

void syncbridge_sync_file_destroy(syncbridge_sync_file* sync_file) { delete sync_file; }

int syncbridge_sync_file_fd(const syncbridge_sync_file* sync_file) { return sync_file ? sync_file->file.fd() : -1; }

int syncbridge_sync_file_release_fd(syncbridge_sync_file* sync_file) {
  if (!sync_file) return -1;
  const int fd = std::move(sync_file->file).release().release();
  delete sync_file;
  return fd;
}

syncbridge_result syncbridge_sync_file_wait(const syncbridge_sync_file* sync_file, int64_t timeout_ns,
                                            syncbridge_wait_status* status_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sync_file_wait";
  if (!sync_file) return null_argument(error, fn, "sync_file");
  if (!status_out) return null_argument(error, fn, "status_out");
  return guarded(error, fn,
                 [&] { return wait_outcome(error, sync_file->file.wait(timeout_of(timeout_ns)), status_out); });
}

syncbridge_result syncbridge_sync_file_merge(const syncbridge_sync_file* a, const syncbridge_sync_file* b,
                                             const char* name, syncbridge_sync_file** merged_out,
                                             syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sync_file_merge";
  if (!a) return null_argument(error, fn, "a");
  if (!b) return null_argument(error, fn, "b");
  if (!merged_out) return null_argument(error, fn, "merged_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_sync_file>(error, fn, merged_out,
                                                 SyncFile::merge(a->file, b->file, name ? name : "syncbridge-merge"));
  });
}

syncbridge_result syncbridge_sync_file_get_info(const syncbridge_sync_file* sync_file,
                                                syncbridge_sync_file_info* info_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sync_file_get_info";
  if (!sync_file) return null_argument(error, fn, "sync_file");
  if (!info_out) return null_argument(error, fn, "info_out");
  return guarded(error, fn, [&]() -> syncbridge_result {
    auto info = sync_file->file.info();
    if (!info.ok()) return fail(error, info.error());
    *info_out = {};
    info_out->status = static_cast<syncbridge_fence_status>(info->status);
    info_out->error_errno = info->error_errno;
    info_out->fence_count = static_cast<uint32_t>(info->fences.size());
    const std::size_t n = std::min(info->name.size(), sizeof(info_out->name) - 1);
    std::memcpy(info_out->name, info->name.data(), n);
    return SYNCBRIDGE_OK;
  });
}

// ---- sw_sync exporter ----

syncbridge_result syncbridge_sw_sync_exporter_create(const char* name, uint32_t initial_value,
                                                     syncbridge_sw_sync_exporter** exporter_out,
                                                     syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sw_sync_exporter_create";
  if (!exporter_out) return null_argument(error, fn, "exporter_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_sw_sync_exporter>(
        error, fn, exporter_out, SwSyncExporter::create(name ? name : "syncbridge", initial_value));
  });
}

void syncbridge_sw_sync_exporter_destroy(syncbridge_sw_sync_exporter* exporter) { delete exporter; }

syncbridge_result syncbridge_sw_sync_exporter_sync_file_at(syncbridge_sw_sync_exporter* exporter, uint64_t point,
                                                           syncbridge_sync_file** sync_file_out,
                                                           syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sw_sync_exporter_sync_file_at";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!sync_file_out) return null_argument(error, fn, "sync_file_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_sync_file>(error, fn, sync_file_out, exporter->exporter.sync_file_at(point));
  });
}

syncbridge_result syncbridge_sw_sync_exporter_fence_at(syncbridge_sw_sync_exporter* exporter, uint64_t point,
                                                       syncbridge_fence** fence_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_sw_sync_exporter_fence_at";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!fence_out) return null_argument(error, fn, "fence_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_fence>(error, fn, fence_out, exporter->exporter.fence_at(point));
  });
}

syncbridge_result syncbridge_sw_sync_exporter_advance(syncbridge_sw_sync_exporter* exporter, uint64_t n,
                                                      syncbridge_error* error) {
  // The exporter itself answers out_of_range past sw_sync's u32 points.
  if (!exporter) return null_argument(error, "syncbridge_sw_sync_exporter_advance", "exporter");
  return guarded(error, "syncbridge_sw_sync_exporter_advance",
                 [&] { return check(error, exporter->exporter.advance(n)); });
}

syncbridge_result syncbridge_sw_sync_exporter_signal_to(syncbridge_sw_sync_exporter* exporter, uint64_t point,
                                                        syncbridge_error* error) {
  if (!exporter) return null_argument(error, "syncbridge_sw_sync_exporter_signal_to", "exporter");
  return guarded(error, "syncbridge_sw_sync_exporter_signal_to",
                 [&] { return check(error, exporter->exporter.signal_to(point)); });
}

void syncbridge_sw_sync_exporter_close(syncbridge_sw_sync_exporter* exporter) {
  if (exporter) exporter->exporter.close();
}

uint64_t syncbridge_sw_sync_exporter_value(const syncbridge_sw_sync_exporter* exporter) {
  return exporter ? exporter->exporter.value() : 0;
}

// ---- DRM device, syncobj exporter ----

syncbridge_result syncbridge_drm_device_open_render_node(syncbridge_drm_device** device_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_drm_device_open_render_node";
  if (!device_out) return null_argument(error, fn, "device_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_drm_device>(error, fn, device_out, DrmDevice::open_render_node());
  });
}

void syncbridge_drm_device_destroy(syncbridge_drm_device* device) { delete device; }

int syncbridge_drm_device_fd(const syncbridge_drm_device* device) { return device ? device->device.fd() : -1; }

syncbridge_result syncbridge_syncobj_exporter_create(const syncbridge_drm_device* device, const char* name,
                                                     uint64_t initial_value, syncbridge_syncobj_exporter** exporter_out,
                                                     syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_syncobj_exporter_create";
  if (!device) return null_argument(error, fn, "device");
  if (!exporter_out) return null_argument(error, fn, "exporter_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_syncobj_exporter>(
        error, fn, exporter_out, SyncobjExporter::create(device->device, name ? name : "syncobj", initial_value));
  });
}

void syncbridge_syncobj_exporter_destroy(syncbridge_syncobj_exporter* exporter) { delete exporter; }

syncbridge_result syncbridge_syncobj_exporter_fence_at(syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                       syncbridge_fence** fence_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_syncobj_exporter_fence_at";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!fence_out) return null_argument(error, fn, "fence_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_fence>(error, fn, fence_out, exporter->exporter.fence_at(point));
  });
}

syncbridge_result syncbridge_syncobj_exporter_advance(syncbridge_syncobj_exporter* exporter, uint64_t n,
                                                      syncbridge_error* error) {
  if (!exporter) return null_argument(error, "syncbridge_syncobj_exporter_advance", "exporter");
  return guarded(error, "syncbridge_syncobj_exporter_advance",
                 [&] { return check(error, exporter->exporter.advance(n)); });
}

syncbridge_result syncbridge_syncobj_exporter_signal_to(syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                        syncbridge_error* error) {
  if (!exporter) return null_argument(error, "syncbridge_syncobj_exporter_signal_to", "exporter");
  return guarded(error, "syncbridge_syncobj_exporter_signal_to",
                 [&] { return check(error, exporter->exporter.signal_to(point)); });
}

syncbridge_result syncbridge_syncobj_exporter_sync_file_at(syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                           syncbridge_sync_file** sync_file_out,
                                                           syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_syncobj_exporter_sync_file_at";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!sync_file_out) return null_argument(error, fn, "sync_file_out");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_sync_file>(error, fn, sync_file_out, exporter->exporter.sync_file_at(point));
  });
}

syncbridge_result syncbridge_syncobj_exporter_export_fd(const syncbridge_syncobj_exporter* exporter, int* fd_out,
                                                        syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_syncobj_exporter_export_fd";
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!fd_out) return null_argument(error, fn, "fd_out");
  return guarded(error, fn, [&]() -> syncbridge_result {
    auto fd = exporter->exporter.export_syncobj_fd();
    if (!fd.ok()) return fail(error, fd.error());
    *fd_out = std::move(fd).value().release();
    return SYNCBRIDGE_OK;
  });
}

void syncbridge_syncobj_exporter_close(syncbridge_syncobj_exporter* exporter) {
  if (exporter) exporter->exporter.close();
}

uint64_t syncbridge_syncobj_exporter_value(const syncbridge_syncobj_exporter* exporter) {
  return exporter ? exporter->exporter.value() : 0;
}

// ---- watcher ----

syncbridge_result syncbridge_watcher_create(syncbridge_watcher_mode mode, syncbridge_watcher** watcher_out,
                                            syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_create";
  if (!watcher_out) return null_argument(error, fn, "watcher_out");
  if (mode != SYNCBRIDGE_WATCHER_OWN_THREAD && mode != SYNCBRIDGE_WATCHER_CALLER_LOOP)
    return fail(error, SYNCBRIDGE_ERR_INVALID_ARGUMENT, EINVAL, std::string(fn) + ": unknown mode");
  return guarded(error, fn, [&] {
    return hand_out_result<syncbridge_watcher>(
        error, fn, watcher_out,
        Watcher::create(mode == SYNCBRIDGE_WATCHER_OWN_THREAD ? WatcherMode::own_thread : WatcherMode::caller_loop));
  });
}

void syncbridge_watcher_destroy(syncbridge_watcher* watcher) { delete watcher; }

int syncbridge_watcher_fd(const syncbridge_watcher* watcher) {
  if (!watcher || watcher->watcher.mode() != WatcherMode::caller_loop) return -1;
  return watcher->watcher.fd();
}

syncbridge_result syncbridge_watcher_dispatch(syncbridge_watcher* watcher, size_t* ran_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_dispatch";
  if (!watcher) return null_argument(error, fn, "watcher");
  return guarded(error, fn, [&]() -> syncbridge_result {
    auto ran = watcher->watcher.dispatch();
    if (!ran.ok()) return fail(error, ran.error());
    if (ran_out) *ran_out = *ran;
    return SYNCBRIDGE_OK;
  });
}

syncbridge_result syncbridge_watcher_watch_sync_file(syncbridge_watcher* watcher, syncbridge_sync_file* sync_file,
                                                     syncbridge_watch_callback callback, void* user_data,
                                                     uint64_t* watch_id_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_watch_sync_file";
  std::unique_ptr<syncbridge_sync_file> owned(sync_file);  // consumed, whatever happens next
  if (!watcher) return null_argument(error, fn, "watcher");
  if (!owned) return null_argument(error, fn, "sync_file");
  if (!callback) return null_argument(error, fn, "callback");
  return guarded(error, fn, [&] {
    return hand_out_watch(
        error, watch_id_out,
        watcher->watcher.watch_sync_file(std::move(owned->file), c_watch_callback(callback, user_data)));
  });
}

syncbridge_result syncbridge_watcher_watch_fd(syncbridge_watcher* watcher, int fd, syncbridge_watch_callback callback,
                                              void* user_data, uint64_t* watch_id_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_watch_fd";
  UniqueFd owned(fd);  // consumed, whatever happens next
  if (!watcher) return null_argument(error, fn, "watcher");
  if (!callback) return null_argument(error, fn, "callback");
  return guarded(error, fn, [&] {
    return hand_out_watch(error, watch_id_out,
                          watcher->watcher.watch_fd(std::move(owned), c_watch_callback(callback, user_data)));
  });
}

syncbridge_result syncbridge_watcher_watch_syncobj(syncbridge_watcher* watcher,
                                                   const syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                   syncbridge_watch_callback callback, void* user_data,
                                                   uint64_t* watch_id_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_watch_syncobj";
  if (!watcher) return null_argument(error, fn, "watcher");
  if (!exporter) return null_argument(error, fn, "exporter");
  if (!callback) return null_argument(error, fn, "callback");
  if (!exporter->exporter.valid())
    return fail(error, SYNCBRIDGE_ERR_INVALID_HANDLE, EBADF, std::string(fn) + ": the exporter is empty");
  return guarded(error, fn, [&] {
    return hand_out_watch(
        error, watch_id_out,
        watcher->watcher.watch_syncobj(exporter->exporter.syncobj(), point, c_watch_callback(callback, user_data)));
  });
}

bool syncbridge_watcher_remove(syncbridge_watcher* watcher, uint64_t watch_id) {
  return watcher && watcher->watcher.remove(WatchId{watch_id});
}

}  // extern "C"
