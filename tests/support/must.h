// must(): the value of a Result a test cannot go on without. On an error it throws
// MustFailure, which GoogleTest reports as a failure of the running test only (it catches
// exceptions from test bodies, fixtures' SetUp/TearDown included), so the rest of the binary
// runs. Outside a test body (a benchmark, a thread of its own) the exception ends the program
// with the message, as an abort would.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace syncbridge::testing {

class MustFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// R is a syncbridge Result<T>: ok(), error().describe(), value().
template <class R>
auto must(R r, const char* what = "call") {
  if (!r.ok()) throw MustFailure(std::string("must(") + what + "): " + r.error().describe());
  return std::move(r).value();
}

}  // namespace syncbridge::testing
