/* The C consumer of the installed package: the C API, linked through CMake or pkg-config. */
#include <stdio.h>

#include <syncbridge/syncbridge.h>

int main(void) {
  syncbridge_error e;
  syncbridge_timeline* timeline = NULL;
  syncbridge_fence* fence = NULL;
  syncbridge_wait_status status = SYNCBRIDGE_TIMED_OUT;
  if (syncbridge_timeline_create("c-consumer", 0, false, &timeline, &e) != SYNCBRIDGE_OK ||
      syncbridge_timeline_fence_at(timeline, 1, &fence, &e) != SYNCBRIDGE_OK ||
      syncbridge_timeline_advance(timeline, 1, &e) != SYNCBRIDGE_OK ||
      syncbridge_fence_wait(fence, SYNCBRIDGE_WAIT_FOREVER, &status, &e) != SYNCBRIDGE_OK) {
    fprintf(stderr, "c consumer: %s\n", e.message);
    return 1;
  }
  syncbridge_fence_release(fence);
  syncbridge_timeline_destroy(timeline);
  printf("consumer: signaled (C, syncbridge %s)\n", syncbridge_version());
  return status == SYNCBRIDGE_SIGNALED ? 0 : 2;
}
