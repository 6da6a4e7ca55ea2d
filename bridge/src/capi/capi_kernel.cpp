// The C API: sync_files, the sw_sync and syncobj exporters, DRM devices and the watcher
// (syncbridge/c/kernel.h, drm.h, watcher.h).
#include <algorithm>
#include <cstring>

#include "capi/capi_internal.h"

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

// The verbs of the exporter contract (syncbridge/exporter.h), written once for both exporter
// handles; H wraps its exporter as H::exporter.
template <class H>
syncbridge_result exporter_sync_file_at(const char* fn, H* exporter, uint64_t point,
                                        syncbridge_sync_file** sync_file_out, syncbridge_error* error) {
  return produce(error, fn, {{exporter, "exporter"}, {sync_file_out, "sync_file_out"}}, sync_file_out,
                 [&] { return exporter->exporter.sync_file_at(point); });
}

template <class H>
syncbridge_result exporter_fence_at(const char* fn, H* exporter, uint64_t point, syncbridge_fence** fence_out,
                                    syncbridge_error* error) {
  return produce(error, fn, {{exporter, "exporter"}, {fence_out, "fence_out"}}, fence_out,
                 [&] { return exporter->exporter.fence_at(point); });
}

template <class H>
syncbridge_result exporter_advance(const char* fn, H* exporter, uint64_t n, syncbridge_error* error) {
  return call(error, fn, {{exporter, "exporter"}}, [&] { return check(error, exporter->exporter.advance(n)); });
}

template <class H>
syncbridge_result exporter_signal_to(const char* fn, H* exporter, uint64_t point, syncbridge_error* error) {
  return call(error, fn, {{exporter, "exporter"}}, [&] { return check(error, exporter->exporter.signal_to(point)); });
}

}  // namespace

// Defines the C entry points of those verbs for the handle syncbridge_<kind>: syncbridge_<kind>_
// sync_file_at, _fence_at, _advance, _signal_to, _close and _value (kernel.h, drm.h), the same
// for both exporters as the C++ Exporter interface is. An error message names the entry point.
#define SYNCBRIDGE_CAPI_EXPORTER_VERBS(kind)                                                                          \
  syncbridge_result syncbridge_##kind##_sync_file_at(syncbridge_##kind* exporter, uint64_t point,                     \
                                                     syncbridge_sync_file** sync_file_out, syncbridge_error* error) { \
    return exporter_sync_file_at(__func__, exporter, point, sync_file_out, error);                                    \
  }                                                                                                                   \
  syncbridge_result syncbridge_##kind##_fence_at(syncbridge_##kind* exporter, uint64_t point,                         \
                                                 syncbridge_fence** fence_out, syncbridge_error* error) {             \
    return exporter_fence_at(__func__, exporter, point, fence_out, error);                                            \
  }                                                                                                                   \
  syncbridge_result syncbridge_##kind##_advance(syncbridge_##kind* exporter, uint64_t n, syncbridge_error* error) {   \
    return exporter_advance(__func__, exporter, n, error);                                                            \
  }                                                                                                                   \
  syncbridge_result syncbridge_##kind##_signal_to(syncbridge_##kind* exporter, uint64_t point,                        \
                                                  syncbridge_error* error) {                                          \
    return exporter_signal_to(__func__, exporter, point, error);                                                      \
  }                                                                                                                   \
  void syncbridge_##kind##_close(syncbridge_##kind* exporter) {                                                       \
    if (exporter) exporter->exporter.close();                                                                         \
  }                                                                                                                   \
  uint64_t syncbridge_##kind##_value(const syncbridge_##kind* exporter) {                                             \
    return exporter ? exporter->exporter.value() : 0;                                                                 \
  }

extern "C" {

// ---- sync_file ----

syncbridge_result syncbridge_sync_file_adopt(int fd, syncbridge_sync_file** sync_file_out, syncbridge_error* error) {
  UniqueFd owned(fd);  // consumed, whatever happens next
  return produce(error, "syncbridge_sync_file_adopt", {{sync_file_out, "sync_file_out"}}, sync_file_out,
                 [&] { return SyncFile::adopt(std::move(owned)); });
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
  return call(error, "syncbridge_sync_file_wait", {{sync_file, "sync_file"}, {status_out, "status_out"}},
              [&] { return wait_outcome(error, sync_file->file.wait(timeout_of(timeout_ns)), status_out); });
}

syncbridge_result syncbridge_sync_file_merge(const syncbridge_sync_file* a, const syncbridge_sync_file* b,
                                             const char* name, syncbridge_sync_file** merged_out,
                                             syncbridge_error* error) {
  return produce(error, "syncbridge_sync_file_merge", {{a, "a"}, {b, "b"}, {merged_out, "merged_out"}}, merged_out,
                 [&] { return SyncFile::merge(a->file, b->file, name ? name : "syncbridge-merge"); });
}

syncbridge_result syncbridge_sync_file_get_info(const syncbridge_sync_file* sync_file,
                                                syncbridge_sync_file_info* info_out, syncbridge_error* error) {
  return call(error, "syncbridge_sync_file_get_info", {{sync_file, "sync_file"}, {info_out, "info_out"}},
              [&]() -> syncbridge_result {
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
  return produce(error, "syncbridge_sw_sync_exporter_create", {{exporter_out, "exporter_out"}}, exporter_out,
                 [&] { return SwSyncExporter::create(name ? name : "syncbridge", initial_value); });
}

void syncbridge_sw_sync_exporter_destroy(syncbridge_sw_sync_exporter* exporter) { delete exporter; }

// sw_sync's points are u32: the exporter itself answers out_of_range for a point or step past
// them.
SYNCBRIDGE_CAPI_EXPORTER_VERBS(sw_sync_exporter)

// ---- DRM device, syncobj exporter ----

syncbridge_result syncbridge_drm_device_open_render_node(syncbridge_drm_device** device_out, syncbridge_error* error) {
  return produce(error, "syncbridge_drm_device_open_render_node", {{device_out, "device_out"}}, device_out,
                 [&] { return DrmDevice::open_render_node(); });
}

void syncbridge_drm_device_destroy(syncbridge_drm_device* device) { delete device; }

int syncbridge_drm_device_fd(const syncbridge_drm_device* device) { return device ? device->device.fd() : -1; }

syncbridge_result syncbridge_syncobj_exporter_create(const syncbridge_drm_device* device, const char* name,
                                                     uint64_t initial_value, syncbridge_syncobj_exporter** exporter_out,
                                                     syncbridge_error* error) {
  return produce(error, "syncbridge_syncobj_exporter_create", {{device, "device"}, {exporter_out, "exporter_out"}},
                 exporter_out,
                 [&] { return SyncobjExporter::create(device->device, name ? name : "syncobj", initial_value); });
}

void syncbridge_syncobj_exporter_destroy(syncbridge_syncobj_exporter* exporter) { delete exporter; }

SYNCBRIDGE_CAPI_EXPORTER_VERBS(syncobj_exporter)

syncbridge_result syncbridge_syncobj_exporter_export_fd(const syncbridge_syncobj_exporter* exporter, int* fd_out,
                                                        syncbridge_error* error) {
  return call(error, "syncbridge_syncobj_exporter_export_fd", {{exporter, "exporter"}, {fd_out, "fd_out"}},
              [&] { return hand_out_fd(error, fd_out, exporter->exporter.export_syncobj_fd()); });
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
  return call(error, "syncbridge_watcher_dispatch", {{watcher, "watcher"}}, [&]() -> syncbridge_result {
    auto ran = watcher->watcher.dispatch();
    if (!ran.ok()) return fail(error, ran.error());
    if (ran_out) *ran_out = *ran;
    return SYNCBRIDGE_OK;
  });
}

syncbridge_result syncbridge_watcher_watch_sync_file(syncbridge_watcher* watcher, syncbridge_sync_file* sync_file,
                                                     syncbridge_watch_callback callback, void* user_data,
                                                     uint64_t* watch_id_out, syncbridge_error* error) {
  std::unique_ptr<syncbridge_sync_file> owned(sync_file);  // consumed, whatever happens next
  return call(error, "syncbridge_watcher_watch_sync_file",
              {{watcher, "watcher"}, {owned, "sync_file"}, {callback, "callback"}}, [&] {
                return hand_out_watch(
                    error, watch_id_out,
                    watcher->watcher.watch_sync_file(std::move(owned->file), c_watch_callback(callback, user_data)));
              });
}

syncbridge_result syncbridge_watcher_watch_fd(syncbridge_watcher* watcher, int fd, syncbridge_watch_callback callback,
                                              void* user_data, uint64_t* watch_id_out, syncbridge_error* error) {
  UniqueFd owned(fd);  // consumed, whatever happens next
  return call(error, "syncbridge_watcher_watch_fd", {{watcher, "watcher"}, {callback, "callback"}}, [&] {
    return hand_out_watch(error, watch_id_out,
                          watcher->watcher.watch_fd(std::move(owned), c_watch_callback(callback, user_data)));
  });
}

syncbridge_result syncbridge_watcher_watch_syncobj(syncbridge_watcher* watcher,
                                                   const syncbridge_syncobj_exporter* exporter, uint64_t point,
                                                   syncbridge_watch_callback callback, void* user_data,
                                                   uint64_t* watch_id_out, syncbridge_error* error) {
  static constexpr const char* fn = "syncbridge_watcher_watch_syncobj";
  return call(error, fn, {{watcher, "watcher"}, {exporter, "exporter"}, {callback, "callback"}}, [&] {
    if (const auto r = check_valid(error, fn, *exporter); r != SYNCBRIDGE_OK) return r;
    return hand_out_watch(
        error, watch_id_out,
        watcher->watcher.watch_syncobj(exporter->exporter.syncobj(), point, c_watch_callback(callback, user_data)));
  });
}

bool syncbridge_watcher_remove(syncbridge_watcher* watcher, uint64_t watch_id) {
  return watcher && watcher->watcher.remove(WatchId{watch_id});
}

}  // extern "C"
