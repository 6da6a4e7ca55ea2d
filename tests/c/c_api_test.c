/* The C API's test suite (ctest label "c-api"), in C11. One binary, three groups given on the
 * command line: "core" (any machine), "kernel" (sw_sync and a DRM render node: the test VM),
 * "vulkan" (a Vulkan 1.3 device, the Khronos validation layer on; errors fail the test).
 * A test that needs what the machine lacks is skipped with the reason; under the test VM
 * (SYNCBRIDGE_VM set) it fails instead. Exit 0: all ran passed; 1: a failure; 77: the whole
 * group was skipped. Every test checks that the fds it opened are closed again. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_test.h"
#include "syncbridge/syncbridge.h"

/* ---- core ---- */

static void count_calls(const syncbridge_fence* fence, void* user_data) {
  int* calls = user_data;
  if (syncbridge_fence_get_status(fence) == SYNCBRIDGE_FENCE_SIGNALED) ++*calls;
}

static void timeline_fences_and_callbacks(void) {
  syncbridge_error e;
  c_pending_fence p = c_pending_fence_create("c-test", 0, false, 2);
  syncbridge_timeline* tl = p.timeline;
  syncbridge_fence* f2 = p.fence;
  syncbridge_callback* reg = NULL;
  int calls = 0;
  CHECK(syncbridge_fence_get_status(f2) == SYNCBRIDGE_FENCE_PENDING);
  CHECK(syncbridge_fence_point(f2) == 2);
  CHECK_OK(syncbridge_fence_on_complete(f2, count_calls, &calls, &reg, &e), e);
  syncbridge_wait_status status = SYNCBRIDGE_SIGNALED;
  CHECK_OK(syncbridge_fence_wait(f2, 0, &status, &e), e);
  CHECK(status == SYNCBRIDGE_TIMED_OUT);
  CHECK_OK(syncbridge_timeline_advance(tl, 1, &e), e);
  CHECK(calls == 0);
  CHECK_OK(syncbridge_timeline_signal_to(tl, 2, &e), e);
  CHECK(calls == 1);
  CHECK(syncbridge_timeline_value(tl) == 2);
  CHECK_OK(syncbridge_fence_wait(f2, SYNCBRIDGE_WAIT_FOREVER, &status, &e), e);
  CHECK(status == SYNCBRIDGE_SIGNALED);
  CHECK(!syncbridge_callback_cancel(reg)); /* it ran */
  CHECK_ERR(syncbridge_timeline_signal_to(tl, 1, &e), e, SYNCBRIDGE_ERR_BACKWARDS);
  c_pending_fence_destroy(&p);
}

static void closing_errors_pending_fences_and_later_calls(void) {
  syncbridge_error e;
  const c_pending_fence p = c_pending_fence_create(NULL, 5, false, 6);
  syncbridge_timeline* tl = p.timeline;
  syncbridge_fence* f = p.fence;
  syncbridge_fence* copy = syncbridge_fence_dup(f);
  CHECK(copy != NULL);
  syncbridge_timeline_close(tl, 0);
  CHECK(syncbridge_timeline_closed(tl));
  CHECK(syncbridge_fence_get_status(copy) == SYNCBRIDGE_FENCE_ERROR);
  CHECK(syncbridge_fence_error_errno(copy) == ENOENT);
  syncbridge_wait_status status;
  CHECK_ERR(syncbridge_fence_wait(f, 0, &status, &e), e, SYNCBRIDGE_ERR_FENCE_ERROR);
  CHECK(e.sys_errno == ENOENT);
  CHECK_ERR(syncbridge_timeline_advance(tl, 1, &e), e, SYNCBRIDGE_ERR_TIMELINE_CLOSED);
  CHECK(strlen(e.message) > 0);
  syncbridge_timeline_destroy(tl);
  /* The fences outlive their timeline. */
  CHECK(syncbridge_fence_get_status(f) == SYNCBRIDGE_FENCE_ERROR);
  syncbridge_fence_release(f);
  syncbridge_fence_release(copy);
}

static void cancelled_callback_never_runs_and_detached_one_does(void) {
  syncbridge_error e;
  c_pending_fence p = c_pending_fence_create("c-cancel", 0, true, 1);
  syncbridge_callback* reg = NULL;
  int cancelled_calls = 0, detached_calls = 0;
  CHECK_OK(syncbridge_fence_on_complete(p.fence, count_calls, &cancelled_calls, &reg, &e), e);
  CHECK(syncbridge_callback_cancel(reg));
  CHECK_OK(syncbridge_fence_on_complete(p.fence, count_calls, &detached_calls, NULL, &e), e);
  CHECK_OK(syncbridge_timeline_advance(p.timeline, 1, &e), e);
  CHECK(cancelled_calls == 0);
  CHECK(detached_calls == 1);
  c_pending_fence_destroy(&p);
}

static void pollable_fd_becomes_readable(void) {
  syncbridge_error e;
  c_pending_fence p = c_pending_fence_create("c-poll", 0, false, 1);
  int fd = -1;
  CHECK_OK(syncbridge_fence_pollable_fd(p.fence, &fd, &e), e);
  struct pollfd readable = {.fd = fd, .events = POLLIN};
  CHECK(poll(&readable, 1, 0) == 0);
  CHECK_OK(syncbridge_timeline_advance(p.timeline, 1, &e), e);
  CHECK(poll(&readable, 1, 10000) == 1 && (readable.revents & POLLIN));
  close(fd);
  c_pending_fence_destroy(&p);
}

static void bad_input_is_an_error_not_a_crash(void) {
  syncbridge_error e;
  syncbridge_timeline* tl = NULL;
  syncbridge_wait_status status;
  CHECK_ERR(syncbridge_timeline_create("x", 0, false, NULL, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  CHECK_ERR(syncbridge_timeline_advance(NULL, 1, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  CHECK(strstr(e.message, "timeline") != NULL);
  CHECK_ERR(syncbridge_fence_wait(NULL, 0, &status, &e), e, SYNCBRIDGE_ERR_INVALID_ARGUMENT);
  CHECK(syncbridge_timeline_advance(NULL, 1, NULL) == SYNCBRIDGE_ERR_INVALID_ARGUMENT); /* error may be NULL */
  CHECK_OK(syncbridge_timeline_create("x", 0, true, &tl, &e), e);
  CHECK_ERR(syncbridge_timeline_signal_to(tl, 1ull << 33, &e), e, SYNCBRIDGE_ERR_OUT_OF_RANGE);
  syncbridge_timeline_destroy(tl);
  syncbridge_fence_release(NULL);
  syncbridge_timeline_destroy(NULL);
  CHECK(syncbridge_fence_get_status(NULL) == SYNCBRIDGE_FENCE_ERROR);
  /* A sync_file adopt of something that is not one: the fd is consumed all the same. */
  int fds[2];
  CHECK(pipe(fds) == 0);
  syncbridge_sync_file* sf = NULL;
  CHECK_ERR(syncbridge_sync_file_adopt(fds[0], &sf, &e), e, SYNCBRIDGE_ERR_INVALID_HANDLE);
  CHECK(fcntl_is_closed(fds[0]));
  close(fds[1]);
  CHECK(strcmp(syncbridge_result_name(SYNCBRIDGE_ERR_TIMELINE_CLOSED), "timeline_closed") == 0);
  CHECK(strlen(syncbridge_version()) >= 5);
}

static void watch_done(syncbridge_result outcome, int sys_errno, void* user_data) {
  int* fired = user_data;
  *fired = outcome == SYNCBRIDGE_OK && sys_errno == 0 ? 1 : -1;
}

static void watcher_in_the_callers_loop(void) {
  syncbridge_error e;
  syncbridge_watcher* w = NULL;
  int fd = -1, fired = 0;
  uint64_t id = 0;
  CHECK_OK(syncbridge_watcher_create(SYNCBRIDGE_WATCHER_CALLER_LOOP, &w, &e), e);
  CHECK(syncbridge_watcher_fd(w) >= 0);
  c_pending_fence p = c_pending_fence_create("c-watch", 0, false, 1);
  CHECK_OK(syncbridge_fence_pollable_fd(p.fence, &fd, &e), e);
  CHECK_OK(syncbridge_watcher_watch_fd(w, fd, watch_done, &fired, &id, &e), e); /* fd consumed */
  CHECK(id != 0);
  size_t ran = 0;
  CHECK_OK(syncbridge_watcher_dispatch(w, &ran, &e), e);
  CHECK(ran == 0 && fired == 0);
  CHECK_OK(syncbridge_timeline_advance(p.timeline, 1, &e), e);
  struct pollfd readable = {.fd = syncbridge_watcher_fd(w), .events = POLLIN};
  CHECK(poll(&readable, 1, 10000) == 1);
  CHECK_OK(syncbridge_watcher_dispatch(w, &ran, &e), e);
  CHECK(ran == 1 && fired == 1);
  CHECK(!syncbridge_watcher_remove(w, id));
  c_pending_fence_destroy(&p);
  syncbridge_watcher_destroy(w);
}

C_TEST_GROUP(core_tests, {"TimelineFencesAndCallbacks", timeline_fences_and_callbacks},
             {"ClosingErrorsPendingFencesAndLaterCalls", closing_errors_pending_fences_and_later_calls},
             {"CancelledCallbackNeverRunsAndDetachedOneDoes", cancelled_callback_never_runs_and_detached_one_does},
             {"PollableFdBecomesReadable", pollable_fd_becomes_readable},
             {"BadInputIsAnErrorNotACrash", bad_input_is_an_error_not_a_crash},
             {"WatcherInTheCallersLoop", watcher_in_the_callers_loop});

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s core|kernel|vulkan\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "core") == 0) return c_test_run(core_tests, core_tests_count);
  if (strcmp(argv[1], "kernel") == 0) return c_test_run(kernel_tests, kernel_tests_count);
  if (strcmp(argv[1], "vulkan") == 0) return c_test_run(vulkan_tests, vulkan_tests_count);
  fprintf(stderr, "unknown group '%s'\n", argv[1]);
  return 2;
}
