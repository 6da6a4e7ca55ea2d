#include "c_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int c_test_failures;
const char* c_test_skipped;

bool fcntl_is_closed(int fd) { return fcntl(fd, F_GETFD) == -1; }

c_pending_fence c_pending_fence_create(const char* name, uint64_t initial_value, bool wrap32, uint64_t point) {
  c_pending_fence pending = {NULL, NULL};
  syncbridge_error e;
  CHECK_OK(syncbridge_timeline_create(name, initial_value, wrap32, &pending.timeline, &e), e);
  CHECK_OK(syncbridge_timeline_fence_at(pending.timeline, point, &pending.fence, &e), e);
  return pending;
}

void c_pending_fence_destroy(c_pending_fence* pending) {
  syncbridge_fence_release(pending->fence);
  syncbridge_timeline_destroy(pending->timeline);
}

enum { kMaxFds = 256 };
typedef struct fd_set_snapshot {
  int count;
  int fd[kMaxFds];
  char target[kMaxFds][96];
} fd_set_snapshot;

static void snapshot(fd_set_snapshot* s) {
  s->count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  const int own = dirfd(dir);
  struct dirent* entry;
  while ((entry = readdir(dir)) != NULL && s->count < kMaxFds) {
    if (entry->d_name[0] == '.') continue;
    const int fd = atoi(entry->d_name);
    if (fd == own) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(path, s->target[s->count], sizeof s->target[0] - 1);
    s->target[s->count][n > 0 ? n : 0] = '\0';
    s->fd[s->count++] = fd;
  }
  closedir(dir);
}

static const char* find(const fd_set_snapshot* s, int fd) {
  for (int i = 0; i < s->count; ++i)
    if (s->fd[i] == fd) return s->target[i];
  return NULL;
}

/* Every fd open before and after with the same target, and nothing else. */
static int compare(const fd_set_snapshot* before, const fd_set_snapshot* after, const char* test) {
  int differences = 0;
  for (int i = 0; i < after->count; ++i) {
    const char* was = find(before, after->fd[i]);
    if (!was || strcmp(was, after->target[i]) != 0) {
      fprintf(stderr, "%s: fd %d (%s) was left open\n", test, after->fd[i], after->target[i]);
      ++differences;
    }
  }
  for (int i = 0; i < before->count; ++i) {
    if (!find(after, before->fd[i])) {
      fprintf(stderr, "%s: fd %d (%s) was closed by the test\n", test, before->fd[i], before->target[i]);
      ++differences;
    }
  }
  return differences;
}

int c_test_run(const c_test* tests, size_t count) {
  const bool in_vm = getenv("SYNCBRIDGE_VM") != NULL;
  int failed = 0, skipped = 0;
  static fd_set_snapshot before, after;
  for (size_t i = 0; i < count; ++i) {
    c_test_failures = 0;
    c_test_skipped = NULL;
    printf("[ RUN      ] %s\n", tests[i].name);
    fflush(stdout);
    snapshot(&before);
    tests[i].run();
    snapshot(&after);
    if (!c_test_skipped) c_test_failures += compare(&before, &after, tests[i].name);
    if (c_test_skipped && in_vm) {
      fprintf(stderr, "%s: the test VM should provide this, but: %s\n", tests[i].name, c_test_skipped);
      ++c_test_failures;
    }
    if (c_test_failures > 0) {
      printf("[  FAILED  ] %s\n", tests[i].name);
      ++failed;
    } else if (c_test_skipped) {
      printf("[  SKIPPED ] %s: %s\n", tests[i].name, c_test_skipped);
      ++skipped;
    } else {
      printf("[       OK ] %s\n", tests[i].name);
    }
  }
  printf("%zu tests: %zu passed, %d failed, %d skipped\n", count, count - (size_t)failed - (size_t)skipped, failed,
         skipped);
  if (failed > 0) return 1;
  return (size_t)skipped == count ? 77 : 0;
}
