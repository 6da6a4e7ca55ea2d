#include <cstdio>

#include <syncbridge/timeline.h>

int main() {
  auto timeline = syncbridge::Timeline::create({.name = "consumer"});
  if (!timeline) return 1;
  auto fence = timeline->fence_at(1);
  if (!fence || !timeline->advance().ok()) return 2;
  auto waited = fence->wait(syncbridge::wait_forever);
  if (!waited || *waited != syncbridge::WaitStatus::signaled) return 3;
  std::puts("consumer: signaled");
  return 0;
}
