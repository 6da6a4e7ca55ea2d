// Test support: what to do when the kernel lacks a feature a test needs.
#pragma once

#include <cstdlib>

#include <gtest/gtest.h>

// On a host without the feature the test skips, saying why. Inside the test VM
// (tests/vm/run-in-vm.sh sets SYNCBRIDGE_VM=1) the kernel is built to have every feature the
// suites need, so a missing one there is a failure: a skip would hide a broken VM or config.
#define SB_SKIP_OR_FAIL_IN_VM(reason)                                          \
  do {                                                                         \
    if (std::getenv("SYNCBRIDGE_VM") != nullptr) {                             \
      FAIL() << "the test VM's kernel should provide this, but: " << (reason); \
    } else {                                                                   \
      GTEST_SKIP() << (reason);                                                \
    }                                                                          \
  } while (0)
