/* syncbridge/c/error.h: results and errors of the C API.
 *
 * Every fallible call returns SYNCBRIDGE_OK (0) or one of the codes below, and when `error` is
 * not NULL fills it: the code again, the errno (0 when none applies), the VkResult for
 * SYNCBRIDGE_ERR_VULKAN, and a sentence saying what failed and why. A timed-out wait is not an
 * error: waits report it as SYNCBRIDGE_TIMED_OUT through their status out-parameter.
 * No call throws or aborts on bad input: NULL handles give SYNCBRIDGE_ERR_INVALID_ARGUMENT.
 */
#ifndef SYNCBRIDGE_C_ERROR_H
#define SYNCBRIDGE_C_ERROR_H

#include <stdint.h>

#include "syncbridge/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The same codes, in the same order, as C++ syncbridge::Errc. */
typedef enum syncbridge_result {
  SYNCBRIDGE_OK = 0,
  SYNCBRIDGE_ERR_INVALID_ARGUMENT = 1, /* a bad parameter, a NULL handle */
  SYNCBRIDGE_ERR_INVALID_HANDLE,       /* a closed or foreign fd, an empty object */
  SYNCBRIDGE_ERR_BACKWARDS,            /* signaling a timeline below its value */
  SYNCBRIDGE_ERR_OUT_OF_RANGE,         /* a value past what the timeline or kernel holds */
  SYNCBRIDGE_ERR_TIMELINE_CLOSED,      /* the timeline or exporter was closed */
  SYNCBRIDGE_ERR_FENCE_ERROR,          /* the fence completed with an error (see sys_errno) */
  SYNCBRIDGE_ERR_UNSUPPORTED,          /* the kernel, driver or build lacks the feature */
  SYNCBRIDGE_ERR_PERMISSION_DENIED,    /* EACCES / EPERM */
  SYNCBRIDGE_ERR_NOT_FOUND,            /* no such device node, file or handle */
  SYNCBRIDGE_ERR_SYSTEM,               /* any other errno (ENOMEM, EMFILE...) */
  SYNCBRIDGE_ERR_VULKAN                /* a VkResult error (see vk_result) */
} syncbridge_result;

typedef struct syncbridge_error {
  syncbridge_result code;
  int sys_errno;     /* positive errno, 0 when none applies */
  int32_t vk_result; /* the VkResult for SYNCBRIDGE_ERR_VULKAN, else 0 */
  char message[512]; /* NUL-terminated; truncated if longer */
} syncbridge_error;

/* "invalid_argument", "timeline_closed", ...; "ok" for SYNCBRIDGE_OK. Static storage. */
SYNCBRIDGE_API const char* syncbridge_result_name(syncbridge_result result);

/* The library's version, "MAJOR.MINOR.PATCH". Static storage. */
SYNCBRIDGE_API const char* syncbridge_version(void);

#ifdef __cplusplus
}
#endif

#endif
