#pragma once

#include <gtest/gtest.h>

#include "fd_leak_check.h"
#include "syncbridge/fence.h"
#include "syncbridge/fence_set.h"
#include "syncbridge/timeline.h"

namespace syncbridge::testing {

using namespace std::chrono_literals;

inline Timeline make_timeline(TimelineOptions options = {}) {
  auto t = Timeline::create(std::move(options));
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

inline Fence fence_at(Timeline& t, std::uint64_t point) {
  auto f = t.fence_at(point);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().describe());
  return std::move(f).value();
}

#define SB_ASSERT_OK(expr)                                                         \
  do {                                                                             \
    auto&& sb_result_ = (expr);                                                    \
    ASSERT_TRUE(sb_result_.ok()) << #expr << ": " << sb_result_.error().describe(); \
  } while (0)

}  // namespace syncbridge::testing
