// Test support: assertions on syncbridge::Result, printing the error's sentence on failure.
#pragma once

#include <gtest/gtest.h>

// Fails (fatally) unless expr is a successful Result.
#define SB_ASSERT_OK(expr)                                                          \
  do {                                                                              \
    auto&& sb_result_ = (expr);                                                     \
    ASSERT_TRUE(sb_result_.ok()) << #expr << ": " << sb_result_.error().describe(); \
  } while (0)

// Fails unless expr failed with the given Errc and, when err_no is not 0, that errno.
#define SB_EXPECT_ERROR(expr, errc, err_no)                                                 \
  do {                                                                                      \
    auto&& sb_result_ = (expr);                                                             \
    ASSERT_FALSE(sb_result_.ok()) << #expr << " succeeded";                                 \
    EXPECT_EQ(sb_result_.error().code(), (errc)) << sb_result_.error().describe();          \
    if ((err_no) != 0) {                                                                    \
      EXPECT_EQ(sb_result_.error().sys_errno(), (err_no)) << sb_result_.error().describe(); \
    }                                                                                       \
  } while (0)
