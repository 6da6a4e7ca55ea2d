/* A small test harness for the C API suite: non-fatal CHECKs that record the failure with its
 * line, a SKIP that says what is missing (a failure under the test VM, where nothing may be
 * missing), and an fd check around every test (the set of open fds must be the same after). */
#ifndef SYNCBRIDGE_TESTS_C_C_TEST_H
#define SYNCBRIDGE_TESTS_C_C_TEST_H

#include <stdbool.h>
#include <stdio.h>

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

bool fcntl_is_closed(int fd);
/* Runs tests; 0 when all that ran passed (and not all skipped), 77 when all skipped, 1 on a
 * failure. */
int c_test_run(const c_test* tests, size_t count);

extern const c_test kernel_tests[];
extern const size_t kernel_test_count;
extern const c_test vulkan_tests[];
extern const size_t vulkan_test_count;

#endif
