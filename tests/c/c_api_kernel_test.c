/* The C API against the real kernel: sw_sync and a DRM render node (the test VM has both). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "c_test.h"

/* Polls flag for up to 10 s; the watcher runs its own thread. */
static bool eventually_set(atomic_int* flag) {
  for (int i = 0; i < 10000; ++i) {
    if (atomic_load(flag) != 0) return true;
    const struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  return atomic_load(flag) != 0;
}

static void watch_fired(syncbridge_result outcome, int sys_errno, void* user_data) {
  atomic_int* fired = user_data;
  atomic_store(fired, outcome == SYNCBRIDGE_OK && sys_errno == 0 ? 1 : -1);
}

static void sw_sync_exporter_hands_out_kernel_fences(void) {
  syncbridge_error e;
  syncbridge_sw_sync_exporter* ex = NULL;
  SKIP_UNLESS_OK(syncbridge_sw_sync_exporter_create("c-sw-sync", 0, &ex, &e), e);
  syncbridge_sync_file *two = NULL, *three = NULL, *merged = NULL;
  syncbridge_fence* core_two = NULL;
  CHECK_OK(syncbridge_sw_sync_exporter_sync_file_at(ex, 2, &two, &e), e);
  CHECK_OK(syncbridge_sw_sync_exporter_sync_file_at(ex, 3, &three, &e), e);
  CHECK_OK(syncbridge_sw_sync_exporter_fence_at(ex, 2, &core_two, &e), e);
  CHECK_OK(syncbridge_sync_file_merge(two, three, "c-merge", &merged, &e), e);
  syncbridge_sync_file_info info;
  CHECK_OK(syncbridge_sync_file_get_info(merged, &info, &e), e);
  /* Points of one timeline: the kernel keeps only the later one. */
  CHECK(info.status == SYNCBRIDGE_FENCE_PENDING && info.fence_count == 1);
  CHECK(strcmp(info.name, "c-merge") == 0);
  CHECK_OK(syncbridge_sw_sync_exporter_advance(ex, 2, &e), e);
  syncbridge_wait_status status = SYNCBRIDGE_TIMED_OUT;
  CHECK_OK(syncbridge_sync_file_wait(two, 10000000000LL, &status, &e), e);
  CHECK(status == SYNCBRIDGE_SIGNALED);
  CHECK(syncbridge_fence_get_status(core_two) == SYNCBRIDGE_FENCE_SIGNALED);
  CHECK_OK(syncbridge_sync_file_wait(merged, 0, &status, &e), e);
  CHECK(status == SYNCBRIDGE_TIMED_OUT);
  CHECK_ERR(syncbridge_sw_sync_exporter_advance(ex, 1ull << 32, &e), e, SYNCBRIDGE_ERR_OUT_OF_RANGE);
  syncbridge_sw_sync_exporter_close(ex); /* point 3 completes with ENOENT, kernel side too */
  CHECK_ERR(syncbridge_sync_file_wait(three, 0, &status, &e), e, SYNCBRIDGE_ERR_FENCE_ERROR);
  CHECK(e.sys_errno == ENOENT);
  CHECK(syncbridge_sw_sync_exporter_value(ex) == 2);
  const int fd = syncbridge_sync_file_release_fd(merged);
  CHECK(fd >= 0);
  close(fd);
  syncbridge_sync_file_destroy(two);
  syncbridge_sync_file_destroy(three);
  syncbridge_fence_release(core_two);
  syncbridge_sw_sync_exporter_destroy(ex);
}

static void watcher_thread_sees_a_sync_file(void) {
  syncbridge_error e;
  syncbridge_sw_sync_exporter* ex = NULL;
  SKIP_UNLESS_OK(syncbridge_sw_sync_exporter_create("c-watch", 0, &ex, &e), e);
  syncbridge_watcher* w = NULL;
  syncbridge_sync_file* one = NULL;
  atomic_int fired = 0;
  CHECK_OK(syncbridge_watcher_create(SYNCBRIDGE_WATCHER_OWN_THREAD, &w, &e), e);
  CHECK(syncbridge_watcher_fd(w) == -1);
  CHECK_OK(syncbridge_sw_sync_exporter_sync_file_at(ex, 1, &one, &e), e);
  CHECK_OK(syncbridge_watcher_watch_sync_file(w, one, watch_fired, &fired, NULL, &e), e); /* consumed */
  CHECK(atomic_load(&fired) == 0);
  CHECK_OK(syncbridge_sw_sync_exporter_advance(ex, 1, &e), e);
  CHECK(eventually_set(&fired) && atomic_load(&fired) == 1);
  syncbridge_watcher_destroy(w);
  syncbridge_sw_sync_exporter_destroy(ex);
}

static void syncobj_exporter_points_and_close(void) {
  syncbridge_error e;
  syncbridge_drm_device* dev = NULL;
  SKIP_UNLESS_OK(syncbridge_drm_device_open_render_node(&dev, &e), e);
  CHECK(syncbridge_drm_device_fd(dev) >= 0);
  syncbridge_syncobj_exporter* ex = NULL;
  syncbridge_fence* three = NULL;
  syncbridge_sync_file* file = NULL;
  syncbridge_watcher* w = NULL;
  atomic_int released = 0;
  int fd = -1;
  CHECK_OK(syncbridge_syncobj_exporter_create(dev, "c-syncobj", 0, &ex, &e), e);
  CHECK_OK(syncbridge_syncobj_exporter_fence_at(ex, 3, &three, &e), e);
  CHECK_ERR(syncbridge_syncobj_exporter_sync_file_at(ex, 3, &file, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  CHECK_OK(syncbridge_syncobj_exporter_advance(ex, 3, &e), e);
  CHECK(syncbridge_fence_get_status(three) == SYNCBRIDGE_FENCE_SIGNALED);
  CHECK_OK(syncbridge_syncobj_exporter_sync_file_at(ex, 3, &file, &e), e);
  syncbridge_wait_status status = SYNCBRIDGE_TIMED_OUT;
  CHECK_OK(syncbridge_sync_file_wait(file, 0, &status, &e), e);
  CHECK(status == SYNCBRIDGE_SIGNALED);
  CHECK_OK(syncbridge_syncobj_exporter_export_fd(ex, &fd, &e), e);
  CHECK(fd >= 0);
  close(fd);
  /* A kernel waiter of a point never reached is released by close(). */
  CHECK_OK(syncbridge_watcher_create(SYNCBRIDGE_WATCHER_OWN_THREAD, &w, &e), e);
  CHECK_OK(syncbridge_watcher_watch_syncobj(w, ex, 5, watch_fired, &released, NULL, &e), e);
  CHECK(atomic_load(&released) == 0);
  syncbridge_syncobj_exporter_close(ex);
  CHECK(eventually_set(&released) && atomic_load(&released) == 1);
  CHECK_ERR(syncbridge_syncobj_exporter_advance(ex, 1, &e), e, SYNCBRIDGE_ERR_TIMELINE_CLOSED);
  syncbridge_watcher_destroy(w);
  syncbridge_sync_file_destroy(file);
  syncbridge_fence_release(three);
  syncbridge_syncobj_exporter_destroy(ex);
  syncbridge_drm_device_destroy(dev);
}

C_TEST_GROUP(kernel_tests, {"SwSyncExporterHandsOutKernelFences", sw_sync_exporter_hands_out_kernel_fences},
             {"WatcherThreadSeesASyncFile", watcher_thread_sees_a_sync_file},
             {"SyncobjExporterPointsAndClose", syncobj_exporter_points_and_close});
