#include "client/stamp/stats.hpp"

namespace netecho::client {

StampDelays delays_of(const StampTimes& t, bool clocks_synchronized) noexcept {
  using std::chrono::nanoseconds;
  StampDelays d;
  d.reflector = nanoseconds(t.t3 - t.t2);
  d.round_trip = nanoseconds(t.t4 - t.t1) - d.reflector;
  if (clocks_synchronized) {
    d.far_end = nanoseconds(t.t2 - t.t1);
    d.near_end = nanoseconds(t.t4 - t.t3);
  }
  return d;
}

void DirectionLoss::on_reply(std::uint32_t sender_seq, std::uint32_t reflector_seq) noexcept {
  differs_ = differs_ || sender_seq != reflector_seq;
  if (!any_ || sender_seq > max_sender_) {
    max_sender_ = sender_seq;
    reflector_at_max_ = reflector_seq;
  }
  any_ = true;
}

ReflectorKind DirectionLoss::kind() const noexcept {
  if (!any_) {
    return ReflectorKind::unknown;
  }
  return differs_ ? ReflectorKind::stateful : ReflectorKind::stateless;
}

std::optional<std::uint64_t> DirectionLoss::forward_lost() const noexcept {
  if (kind() != ReflectorKind::stateful) {
    return std::nullopt;
  }
  // A reflector that restarted its count (it forgot the session) can say more than we sent.
  return reflector_at_max_ <= max_sender_ ? max_sender_ - reflector_at_max_ : 0;
}

std::optional<std::uint64_t> DirectionLoss::backward_lost(std::uint64_t received) const noexcept {
  if (kind() != ReflectorKind::stateful) {
    return std::nullopt;
  }
  const std::uint64_t reflected = std::uint64_t{max_sender_} + 1 - *forward_lost();
  return reflected > received ? reflected - received : 0;
}

std::optional<std::uint64_t> DirectionLoss::unknown_lost(std::uint64_t transmitted) const noexcept {
  if (kind() != ReflectorKind::stateful) {
    return std::nullopt;
  }
  const std::uint64_t through_max = std::uint64_t{max_sender_} + 1;
  return transmitted > through_max ? transmitted - through_max : 0;
}

}  // namespace netecho::client
