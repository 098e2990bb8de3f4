#pragma once
// The one way a function of netecho fails without throwing: Result<T, E> holds the value or the
// error, returned instead of written through an out-parameter. E is std::error_code on the I/O
// path (errno as a value) and a one-line message naming the bad input for parsers (Parsed<T>).
// It is the shape of std::expected, which needs C++23: neither g++ 12 nor clang 14 offer it in
// C++20 mode, so this is the small part of it that netecho uses.

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace netecho::base {

template <typename T, typename E = std::error_code>
class [[nodiscard]] Result {
  // Both constructors are implicit, so `return value;` and `return error;` read as they do in
  // a function returning T: that is only unambiguous while neither converts to the other.
  static_assert(!std::is_convertible_v<T, E> && !std::is_convertible_v<E, T>,
                "Result<T, E> needs a value type and an error type that do not convert");

 public:
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  // The error; E{} (no error, an empty message) when there is a value.
  E error() const { return ok() ? E{} : std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// A parser's answer: the value, or one line naming the bad input ("invalid port 'x' in ...").
template <typename T>
using Parsed = Result<T, std::string>;

}  // namespace netecho::base
