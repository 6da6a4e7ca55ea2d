// Keeps an exporter's close() from overtaking a core update for a step the kernel already took.
//
// An exporter moves its kernel timeline under its lock, then moves its core Timeline outside
// that lock (core callbacks may call back into the exporter). A close() landing in between
// would close the core first: the kernel fences of that step signal, their core fences fail
// with ENOENT, and the advance() that did move the kernel reports timeline_closed. With the
// gate, close() closes the kernel side at once and leaves the core close to the last update in
// flight, so both sides agree: steps the kernel took are signaled, the rest fail. close() never
// waits for another thread (a callback of that update may be waiting for the closer).
#pragma once

namespace syncbridge::detail {

class MirrorCloseGate {
 public:
  // Under the exporter's lock, once the kernel moved: a core update is now in flight.
  void begin_update() noexcept { ++updates_in_flight_; }

  // Under the exporter's lock, after the core update: true when the caller must close the
  // core now (a close() came in meanwhile, and this was the last update in flight).
  [[nodiscard]] bool end_update() noexcept {
    --updates_in_flight_;
    if (updates_in_flight_ != 0 || !close_deferred_) return false;
    close_deferred_ = false;
    return true;
  }

  // Under the exporter's lock, in close(): true when close() closes the core itself; false
  // when the last update in flight will.
  [[nodiscard]] bool close_core_now() noexcept {
    if (updates_in_flight_ == 0) return true;
    close_deferred_ = true;
    return false;
  }

 private:
  unsigned updates_in_flight_ = 0;
  bool close_deferred_ = false;
};

}  // namespace syncbridge::detail
