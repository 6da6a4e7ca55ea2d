#pragma once

#include <gtest/gtest.h>

#include "fd_leak_check.h"
#include "result_assertions.h"
#include "syncbridge/fence.h"
#include "syncbridge/fence_set.h"
#include "syncbridge/timeline.h"

namespace syncbridge::testing {

using namespace std::chrono_literals;

inline Timeline make_core_timeline(TimelineOptions options = {}) {
  auto t = Timeline::create(std::move(options));
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

inline Fence fence_at(Timeline& t, std::uint64_t point) {
  auto f = t.fence_at(point);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().describe());
  return std::move(f).value();
}

}  // namespace syncbridge::testing
