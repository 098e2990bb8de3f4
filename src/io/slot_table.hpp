#pragma once
// SlotTable<T>: the owner's side of the Token contract (backend.hpp). Values live in slots that
// are reused; each slot has a generation, bumped when its value is released, so a Token names
// one occupant of one slot. find() does the stale check: a completion whose token names an
// earlier occupant (its socket closed, its descriptor perhaps reused) finds nothing and is
// dropped.
//
// Slots are indices into one vector: a reference from operator[] or find() is valid until the
// next acquire(), which may grow the table. Freed slots are reused last-in first-out, so a busy
// table stays dense. GenBits: how many bits of the generation the tokens carry (the io_uring
// backend packs 24 into user_data); generations wrap within them.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "io/backend.hpp"

namespace netecho::io {

template <typename T, unsigned GenBits = 32>
class SlotTable {
  static_assert(GenBits >= 8 && GenBits <= 32);

 public:
  static constexpr std::uint32_t kGenMask =
      GenBits == 32 ? ~std::uint32_t{0} : (std::uint32_t{1} << GenBits) - 1;

  // max_slots: an upper bound on the slot numbers, for owners whose token space puts other
  // things above (server/worker.hpp).
  explicit SlotTable(std::uint32_t max_slots = std::numeric_limits<std::uint32_t>::max()) noexcept
      : max_slots_(max_slots) {}

  // Takes a free slot for a new occupant (its value as the last release left it: T{}) and
  // returns the occupant's token.
  Token acquire() {
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      assert(values_.size() < max_slots_ && "slot table full: the token space would overlap");
      slot = static_cast<std::uint32_t>(values_.size());
      values_.emplace_back();
      gens_.push_back(0);
      live_.push_back(false);
    }
    live_[slot] = true;
    ++live_count_;
    return {slot, gens_[slot]};
  }

  // Ends the occupancy of slot: tokens naming it are stale from now on, and its value is reset.
  void release(std::uint32_t slot) {
    assert(slot < values_.size() && live_[slot]);
    gens_[slot] = (gens_[slot] + 1) & kGenMask;
    live_[slot] = false;
    --live_count_;
    values_[slot] = T{};
    free_.push_back(slot);
  }

  // The occupant t names, or nullptr when t is stale (or names no slot).
  T* find(Token t) noexcept {
    if (t.slot >= values_.size() || !live_[t.slot] || gens_[t.slot] != (t.gen & kGenMask)) {
      return nullptr;
    }
    return &values_[t.slot];
  }

  T& operator[](std::uint32_t slot) noexcept { return values_[slot]; }
  const T& operator[](std::uint32_t slot) const noexcept { return values_[slot]; }
  bool live(std::uint32_t slot) const noexcept { return slot < live_.size() && live_[slot]; }
  std::uint32_t gen(std::uint32_t slot) const noexcept { return gens_[slot]; }
  Token token(std::uint32_t slot) const noexcept { return {slot, gens_[slot]}; }
  // The slot of a value in this table.
  std::uint32_t slot_of(const T& value) const noexcept {
    return static_cast<std::uint32_t>(&value - values_.data());
  }
  // Slots made so far, live or free: iterate [0, size()) and test live().
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(values_.size()); }
  std::size_t live_count() const noexcept { return live_count_; }

 private:
  std::vector<T> values_;
  std::vector<std::uint32_t> gens_;
  std::vector<bool> live_;
  std::vector<std::uint32_t> free_;
  std::size_t live_count_ = 0;
  std::uint32_t max_slots_;
};

}  // namespace netecho::io
