// base::Result<T, E>: the value or the error, and what error() says in each case.

#include "base/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <system_error>

namespace netecho::base {
namespace {

Parsed<int> half(int n) {
  if (n % 2 != 0) {
    return "odd number " + std::to_string(n);
  }
  return n / 2;
}

TEST(Result, HoldsTheValueAndNoError) {
  const auto r = half(8);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(*r, 4);
  EXPECT_EQ(r.value(), 4);
  EXPECT_EQ(r.error(), "");
}

TEST(Result, HoldsTheErrorAndNoValue) {
  const auto r = half(7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "odd number 7");
  EXPECT_THROW(static_cast<void>(r.value()), std::bad_variant_access);
}

TEST(Result, TheErrorDefaultsToAnErrorCode) {
  const Result<int> failed = std::make_error_code(std::errc::connection_refused);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), std::errc::connection_refused);
  const Result<int> done = 3;
  EXPECT_FALSE(done.error());
}

TEST(Result, MovesAMoveOnlyValueOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r);
  const std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

}  // namespace
}  // namespace netecho::base
