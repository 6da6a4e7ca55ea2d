/* A small test harness for the C API suite: non-fatal CHECKs that record the failure with its
 * line, a SKIP that says what is missing (a failure under the test VM, where nothing may be
 * missing), and an fd check around every test (the set of open fds must be the same after). */
#ifndef SYNCBRIDGE_TESTS_C_C_TEST_H
#define SYNCBRIDGE_TESTS_C_C_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "syncbridge/syncbridge.h"

typedef struct c_test {
  const char* name;
  void (*run)(void);
} c_test;

extern int c_test_failures;        /* in the running test */
extern const char* c_test_skipped; /* the reason, when the running test skipped */

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++c_test_failures;                                                       \
    }                                                                          \
  } while (0)

/* call must return SYNCBRIDGE_OK; otherwise prints the error it filled in. */
#define CHECK_OK(call, err)                                                                              \
  do {                                                                                                   \
    syncbridge_result check_ok_r_ = (call);                                                              \
    if (check_ok_r_ != SYNCBRIDGE_OK) {                                                                  \
      fprintf(stderr, "%s:%d: %s failed: %s (%s, errno %d)\n", __FILE__, __LINE__, #call, (err).message, \
              syncbridge_result_name(check_ok_r_), (err).sys_errno);                                     \
      ++c_test_failures;                                                                                 \
    }                                                                                                    \
  } while (0)

/* call must fail with code, and fill in the same code and a message. */
#define CHECK_ERR(call, err, expected)                                                        \
  do {                                                                                        \
    syncbridge_result check_err_r_ = (call);                                                  \
    if (check_err_r_ != (expected) || (err).code != (expected) || (err).message[0] == '\0') { \
      fprintf(stderr, "%s:%d: %s returned %s, wanted %s\n", __FILE__, __LINE__, #call,        \
              syncbridge_result_name(check_err_r_), syncbridge_result_name(expected));        \
      ++c_test_failures;                                                                      \
    }                                                                                         \
  } while (0)

/* Leaves the test as skipped (failed under the test VM). */
#define SKIP(reason)           \
  do {                         \
    c_test_skipped = (reason); \
    return;                    \
  } while (0)

/* Skips the test, with the error's message as the reason, unless call returns SYNCBRIDGE_OK: for
 * what the machine may lack (sw_sync, a render node). */
#define SKIP_UNLESS_OK(call, err)                               \
  do {                                                          \
    if ((call) != SYNCBRIDGE_OK) {                              \
      static char skip_reason_[sizeof(err).message];            \
      memcpy(skip_reason_, (err).message, sizeof skip_reason_); \
      SKIP(skip_reason_);                                       \
    }                                                           \
  } while (0)

/* A timeline and a fence at one point on it, where most tests start. */
typedef struct c_pending_fence {
  syncbridge_timeline* timeline;
  syncbridge_fence* fence;
} c_pending_fence;

/* CHECKs both creations (what fails stays NULL, and the test fails). */
c_pending_fence c_pending_fence_create(const char* name, uint64_t initial_value, bool wrap32, uint64_t point);
/* Releases the fence, then destroys the timeline; either may be NULL. */
void c_pending_fence_destroy(c_pending_fence* pending);

/* Defines the test list name[] and its length name_count. */
#define C_TEST_GROUP(name, ...)        \
  const c_test name[] = {__VA_ARGS__}; \
  const size_t name##_count = sizeof name / sizeof name[0]

bool fcntl_is_closed(int fd);
/* Runs tests; 0 when all that ran passed (and not all skipped), 77 when all skipped, 1 on a
 * failure. */
int c_test_run(const c_test* tests, size_t count);

extern const c_test core_tests[];
extern const size_t core_tests_count;
extern const c_test kernel_tests[];
extern const size_t kernel_tests_count;
extern const c_test vulkan_tests[];
extern const size_t vulkan_tests_count;

#endif
