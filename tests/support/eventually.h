// eventually(): polls a predicate until it holds or a deadline passes. Between polls it runs
// `step` (by default a 1 ms sleep); a caller-loop Watcher's tests pass a step that dispatches.
#pragma once

#include <chrono>
#include <thread>

namespace syncbridge::testing {

struct SleepStep {
  void operator()() const { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }
};

// True once pred() holds; false when it still does not at the deadline (timeout from now).
template <class Pred, class Step = SleepStep>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20), Step step = {}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    step();
  }
  return pred();
}

}  // namespace syncbridge::testing
