#pragma once
// Counters that one thread writes and any thread reads, and the tables that name them.
//
// Counter: single-writer. Its one writer adds with a relaxed load and a relaxed store (a plain
// add on x86, no lock prefix, no contention); readers on other threads load it relaxed at any
// time and see a value that only grows. Two writers would lose adds: give each thread its own.
//
// Named<E> and CounterArray<E, N>: one declaration per counter. An enum E lists the counters; a
// constexpr table of Named<E> gives each its name (used in logs, reports and metrics) and a
// one-line help text (for metrics and the docs), in the enum's order, which
// is_enum_table() checks at compile time:
//
//   enum class Stat : std::uint8_t { sent, lost };
//   inline constexpr std::array<base::Named<Stat>, 2> kStats{{
//       {Stat::sent, "sent", "datagrams sent"},
//       {Stat::lost, "lost", "datagrams never answered"},
//   }};
//   static_assert(base::is_enum_table(kStats, Stat::lost));
//   base::CounterArray<Stat, kStats.size()> counters;  counters.add(Stat::sent);
//
// Used by the server (server/counters.hpp) and meant for the client tools' counters too.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace netecho::base {

class Counter {
 public:
  // Only the owning thread may call add().
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

template <typename E>
struct Named {
  E id;
  std::string_view name;  // lower_snake_case, stable: scripts and tests parse it
  std::string_view help;  // one line, no trailing period
};

template <typename E>
constexpr std::size_t index_of(E e) noexcept {
  return static_cast<std::size_t>(e);
}

// Whether table lists every enumerator of E from 0 to last, once each, in order, each with a
// name and a help text. Row is Named<E>, or a table's own row type with the same three fields
// (and more: the server's rows also say how each counter is exported as a metric).
template <typename Row, std::size_t N, typename E>
constexpr bool is_enum_table(const std::array<Row, N>& table, E last) noexcept {
  if (N != index_of(last) + 1) {
    return false;
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (index_of(table[i].id) != i || table[i].name.empty() || table[i].help.empty()) {
      return false;
    }
  }
  return true;
}

// The counters of one enum, indexed by it. Single-writer, as Counter.
template <typename E, std::size_t N>
class CounterArray {
 public:
  static constexpr std::size_t size() noexcept { return N; }
  void add(E e, std::uint64_t n = 1) noexcept { counters_[index_of(e)].add(n); }
  std::uint64_t get(E e) const noexcept { return counters_[index_of(e)].get(); }
  std::uint64_t get(std::size_t i) const noexcept { return counters_[i].get(); }

 private:
  std::array<Counter, N> counters_{};
};

}  // namespace netecho::base
