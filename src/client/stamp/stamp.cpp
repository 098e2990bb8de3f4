#include "client/stamp/stamp.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "client/probe_stats.hpp"
#include "client/stamp/report.hpp"
#include "client/text_wrap.hpp"
#include "io/loop.hpp"
#include "net/fd.hpp"
#include "net/socket.hpp"
#include "stamp/clock.hpp"

namespace netecho::client {

stamp::Auth auth_of(const StampOptions& o) noexcept {
  return o.key ? stamp::Auth::authenticated : stamp::Auth::none;
}

bool tlv_padding_fits(stamp::Auth a, std::size_t extra) noexcept {
  if (a == stamp::Auth::none) {
    return extra == 0 || extra >= stamp::kTlvHeader;
  }
  return extra == 0 || extra == kHmacTlvSize || extra >= kHmacTlvSize + stamp::kTlvHeader;
}

StampPadding padding_of(const StampOptions& o) noexcept {
  if (packet_size(o) == stamp::base_size(auth_of(o))) {
    return StampPadding::none;
  }
  return o.ssid ? StampPadding::tlv : StampPadding::zeros;
}

std::size_t packet_size(const StampOptions& o) noexcept {
  return o.size == 0 ? stamp::base_size(auth_of(o)) : o.size;
}

namespace {

using Clock = PingClock;
using std::chrono::nanoseconds;

constexpr std::uint32_t kStopSlot = 0;
constexpr std::uint32_t kSocketSlot = 1;

// The T1 of each packet still remembered, so that a reply is known to answer a packet of this
// run: as many as ProbeTracker remembers by default.
constexpr std::size_t kSentHistory = 4096;

std::string error_text(int e) { return std::error_code(e, std::system_category()).message(); }

// An authenticated reply's TLVs (RFC 8972 §4.8): none, or an HMAC TLV in its place that holds
// the HMAC of the reply's Sequence Number and the TLVs before it, and whose I flag is clear (the
// reflector sets it when our packet's HMAC TLV failed its check). Why not, or nothing.
std::optional<std::string> tlv_integrity_error(const stamp::HmacKey& key,
                                               std::span<const std::byte> reply) {
  constexpr stamp::Auth a = stamp::Auth::authenticated;
  const auto area = reply.subspan(stamp::base_size(a));
  const stamp::HmacTlvPlace place = stamp::find_hmac_tlv(area);
  switch (place.state) {
    case stamp::HmacTlvState::no_tlvs:
      return std::nullopt;
    case stamp::HmacTlvState::missing:
    case stamp::HmacTlvState::invalid:
      return "reply's TLVs carry no HMAC TLV in its place (RFC 8972 section 4.8)";
    case stamp::HmacTlvState::in_place:
      break;
  }
  if (!stamp::verify_tlvs(key, reply, a, place.offset)) {
    return "reply's HMAC TLV does not match the key";
  }
  if ((std::to_integer<std::uint8_t>(area[place.offset]) & stamp::kTlvIntegrity) != 0) {
    return "the reflector found this packet's HMAC TLV wrong (its I flag)";
  }
  return std::nullopt;
}

// One run of netecho stamp: the schedule, the packets in flight, the counters. Single-threaded,
// on an io::Loop like ping's, so on either backend.
class Sender final : private io::Handler {
 public:
  Sender(const StampOptions& o, std::FILE* out, std::FILE* err)
      : o_(o),
        auth_(auth_of(o)),
        out_(out),
        err_(err),
        info_(run_info(o)),
        tracker_(o.timeout, kSentHistory),
        packet_(packet_size(o)),
        sent_t1_(kSentHistory),
        loop_(io::make_backend(o.backend.kind)) {}

  Outcome run();

 private:
  struct Sent {
    std::uint64_t seq = 0;
    std::uint64_t t1_wire = 0;
    bool valid = false;
  };

  bool more_to_send() const { return !o_.count || sent_ < *o_.count; }
  bool finished() const {
    return o_.count && sent_ >= *o_.count && tracker_.in_flight() == 0;
  }
  Clock::time_point due(std::uint64_t k) const { return start_ + o_.interval * k; }

  void on_completion(const io::Completion& c) override;
  void schedule();
  void on_due();
  void send_packet(Clock::time_point now);
  void expire();
  void on_reply(std::span<const std::byte> data, const net::Datagram* d);
  void bad_reply(std::uint64_t& counter, std::string message, std::size_t bytes);
  void emit(StampEvent e);
  void write_out(const std::string& text);
  void print_summary();

  const StampOptions& o_;
  stamp::Auth auth_;
  std::FILE* out_;
  std::FILE* err_;
  StampRunInfo info_;
  StampStats stats_;
  ProbeTracker tracker_;
  std::vector<std::byte> packet_;
  std::vector<Sent> sent_t1_;  // by seq modulo kSentHistory
  Clock::time_point start_;
  std::uint64_t sent_ = 0;  // packets started; packet k (from 0) has seq k
  bool interrupted_ = false;
  bool done_ = false;
  int output_error_ = 0;
  io::Loop loop_;
  net::Fd sock_;
};

Outcome Sender::run() {
  auto sock = net::start_connect(o_.peer, net::Transport::udp);
  if (!sock) {
    fmt::print(err_, "netecho stamp: cannot open a UDP socket to {}: {}\n", info_.address,
               sock.error().message());
    return Outcome::error;
  }
  sock_ = std::move(sock).value();
  // T4 is the kernel's receive time of the reply, as T2 is the reflector's kernel's.
  if (const auto e = net::enable_receive_stamps(sock_.get(), o_.peer.family())) {
    fmt::print(err_, "netecho stamp: cannot ask for receive timestamps: {}\n", e.message());
    return Outcome::error;
  }
  loop_.backend().recv_from(sock_.get(), {kSocketSlot, 0});
  if (o_.stop_fd >= 0) {
    loop_.backend().watch(o_.stop_fd, {kStopSlot, 0}, POLLIN);
  }
  if (o_.output == StampOutput::text) {
    write_out(fmt::format("{}\n", stamp_header_line(info_)));
  }
  start_ = Clock::now();
  schedule();
  while (!done_ && !finished()) {
    loop_.run_once(*this);
  }
  loop_.backend().forget(sock_.get());
  sock_.reset();
  if (o_.stop_fd >= 0) {
    loop_.backend().forget(o_.stop_fd);
  }
  loop_.backend().quiesce();
  if (output_error_ != 0) {
    if (output_error_ != EPIPE) {
      fmt::print(err_, "netecho stamp: cannot write the output: {}\n", error_text(output_error_));
    }
    return Outcome::failed;
  }
  print_summary();
  return probe_outcome(stats_.probes, o_.count, false);
}

void Sender::print_summary() {
  const auto elapsed = Clock::now() - start_;
  switch (o_.output) {
    case StampOutput::text:
      write_out(fmt::format("\n{}", stamp_summary_text(info_, stats_, elapsed)));
      break;
    case StampOutput::json:
      write_out(fmt::format("{}\n",
                            stamp_summary_json(info_, stats_, elapsed, interrupted_, false, 2)));
      break;
    case StampOutput::json_lines:
      write_out(fmt::format("{}\n",
                            stamp_summary_json(info_, stats_, elapsed, interrupted_, true, -1)));
      break;
  }
}

// ping's schedule: one timer for the next packet; a late turn sends every packet due by then.
void Sender::schedule() {
  if (more_to_send()) {
    loop_.add_timer(due(sent_), [this] { on_due(); });
  }
}

void Sender::on_due() {
  const auto now = Clock::now();
  if (done_) {
    return;
  }
  while (more_to_send() && now >= due(sent_)) {
    send_packet(now);
  }
  schedule();
}

void Sender::expire() {
  while (!done_) {
    const auto seq = tracker_.pop_expired(Clock::now());
    if (!seq) {
      return;
    }
    StampEvent e;
    e.type = ProbeEventType::timeout;
    e.seq = *seq;
    emit(std::move(e));
  }
}

void Sender::on_completion(const io::Completion& c) {
  if (done_) {
    return;
  }
  if (c.token.slot == kStopSlot) {
    interrupted_ = true;
    done_ = true;
    return;
  }
  if (c.res == -EAGAIN) {
    return;
  }
  if (c.res < 0) {
    // A connected UDP socket turns an ICMP error for an earlier packet into this receive's
    // error; it names no packet.
    ++stats_.probes.errors;
    StampEvent e;
    e.type = ProbeEventType::error;
    e.message = c.res == -ECONNREFUSED
                    ? std::string("port unreachable (connection refused)")
                    : fmt::format("receive failed: {}", error_text(-c.res));
    emit(std::move(e));
    return;
  }
  on_reply(c.data, c.datagram);
}

// Packet k: seq k, T1 taken last before the HMAC and the send, so that it is as late as the
// packet allows (as the reflector takes T3).
void Sender::send_packet(Clock::time_point now) {
  const std::uint64_t seq = sent_++;
  ++stats_.probes.transmitted;
  stamp::SenderPacket p;
  p.seq = static_cast<std::uint32_t>(seq);
  p.error_estimate = stamp::local_error_estimate(o_.format);
  p.ssid = o_.ssid.value_or(0);
  p.timestamp = stamp::encode_timestamp(stamp::realtime_ns(), o_.format);
  stamp::write_sender(p, auth_, packet_);
  const std::size_t base = stamp::base_size(auth_);
  if (info_.padding == StampPadding::tlv) {
    // RFC 8972 §4.1: Extra Padding, flags 0, its value zeros; authenticated, after the HMAC TLV
    // (§4.8), whose HMAC covers the Sequence Number alone (no TLV precedes it).
    std::size_t at = base;
    if (o_.key) {
      stamp::store16(packet_, at, static_cast<std::uint16_t>(stamp::TlvType::hmac));
      stamp::store16(packet_, at + 2, static_cast<std::uint16_t>(stamp::kHmacSize));
      at += kHmacTlvSize;
    }
    if (at < packet_.size()) {
      stamp::store16(packet_, at, static_cast<std::uint16_t>(stamp::TlvType::extra_padding));
      stamp::store16(packet_, at + 2,
                     static_cast<std::uint16_t>(packet_.size() - at - stamp::kTlvHeader));
    }
  }
  if (o_.key) {
    stamp::sign(*o_.key, packet_);
    if (info_.padding == StampPadding::tlv) {
      stamp::sign_tlvs(*o_.key, packet_, auth_, 0);
    }
  }
  tracker_.on_sent(seq, now);
  sent_t1_[seq % kSentHistory] = {seq, p.timestamp, true};
  loop_.add_timer(now + o_.timeout, [this] { expire(); });
  net::Datagram to;
  to.peer = o_.peer;
  long n = loop_.backend().send_to(sock_.get(), packet_, to);
  if (n == -ECONNREFUSED) {
    // The pending error of an earlier packet failed this send and is now cleared.
    n = loop_.backend().send_to(sock_.get(), packet_, to);
  }
  if (n < 0) {
    tracker_.fail(seq);
    ++stats_.probes.errors;
    StampEvent e;
    e.type = ProbeEventType::error;
    e.seq = seq;
    e.message = fmt::format("send failed: {}", error_text(static_cast<int>(-n)));
    emit(std::move(e));
  }
}

// A reply that cannot be used: counted, said, and otherwise ignored (the packet it may answer
// keeps waiting for a good reply, and times out without one).
void Sender::bad_reply(std::uint64_t& counter, std::string message, std::size_t bytes) {
  ++counter;
  ++stats_.probes.errors;
  StampEvent e;
  e.type = ProbeEventType::error;
  e.bytes = bytes;
  e.message = std::move(message);
  emit(std::move(e));
}

void Sender::on_reply(std::span<const std::byte> data, const net::Datagram* d) {
  const std::int64_t t4 =
      d != nullptr && d->receive_ns != 0 ? d->receive_ns : stamp::realtime_ns();
  const std::size_t base = stamp::base_size(auth_);
  if ((d != nullptr && d->truncated) || data.size() < base) {
    bad_reply(stats_.malformed,
              fmt::format("reply of {}{} bytes, shorter than the {}-byte base packet or cut",
                          d != nullptr && d->truncated ? "over " : "", data.size(), base),
              data.size());
    return;
  }
  if (o_.key && !stamp::verify(*o_.key, data)) {
    bad_reply(stats_.bad_hmac, "reply's HMAC does not match the key", data.size());
    return;
  }
  if (o_.key) {
    if (auto why = tlv_integrity_error(*o_.key, data)) {
      bad_reply(stats_.bad_hmac, std::move(*why), data.size());
      return;
    }
  }
  const auto r = stamp::read_reflector(data, auth_);
  const Sent& sent = sent_t1_[r->sender_seq % kSentHistory];
  if (!sent.valid || sent.seq != r->sender_seq || sent.t1_wire != r->sender_timestamp ||
      r->ssid != o_.ssid.value_or(0)) {
    bad_reply(stats_.other_session,
              fmt::format("reply to a packet this run did not send (seq {}, SSID {})",
                          r->sender_seq, r->ssid),
              data.size());
    return;
  }
  // Our clock's word at T1 is the Error Estimate we sent, which the reply carries back.
  const bool local_sync = stamp::ErrorEstimate::decode(r->sender_error_estimate).synchronized;
  const bool remote_sync = r->error_estimate.synchronized;
  StampTimes t;
  t.t1 = stamp::decode_timestamp(r->sender_timestamp, o_.format);
  t.t2 = stamp::decode_timestamp(r->receive_timestamp, r->error_estimate.format);
  t.t3 = stamp::decode_timestamp(r->timestamp, r->error_estimate.format);
  t.t4 = t4;
  StampEvent e;
  e.seq = r->sender_seq;
  e.bytes = data.size();
  e.delays = delays_of(t, local_sync && remote_sync);
  e.reflector_seq = r->seq;
  e.ttl = r->sender_ttl;
  const auto m = tracker_.on_reply(r->sender_seq);
  switch (m.status) {
    case ReplyStatus::reply: {
      e.type = ProbeEventType::reply;
      e.reordered = m.reordered;
      PingStats& p = stats_.probes;
      ++p.received;
      p.reordered += m.reordered ? 1 : 0;
      const auto record = [](Histogram& h, nanoseconds v) {
        h.record(static_cast<std::uint64_t>(std::max(v.count(), std::int64_t{0})));
      };
      record(p.rtt, e.delays->round_trip);
      record(stats_.reflector, e.delays->reflector);
      stats_.jitter.add(e.delays->round_trip);
      if (e.delays->far_end) {
        record(stats_.far_end, *e.delays->far_end);
        record(stats_.near_end, *e.delays->near_end);
      } else {
        ++stats_.unsynchronized;
        stats_.local_unsynchronized = stats_.local_unsynchronized || !local_sync;
        stats_.reflector_unsynchronized = stats_.reflector_unsynchronized || !remote_sync;
      }
      stats_.directions.on_reply(r->sender_seq, r->seq);
      break;
    }
    case ReplyStatus::duplicate:
      e.type = ProbeEventType::duplicate;
      ++stats_.probes.duplicates;
      break;
    case ReplyStatus::late:
      e.type = ProbeEventType::late;
      ++stats_.probes.late;
      break;
    case ReplyStatus::unexpected:
      bad_reply(stats_.other_session, "reply to a packet this run does not remember",
                data.size());
      return;
  }
  emit(std::move(e));
}

void Sender::emit(StampEvent e) {
  e.from = info_.address;
  e.at = Clock::now() - start_;
  if (e.type == ProbeEventType::error && stats_.probes.first_error.empty()) {
    stats_.probes.first_error = stamp_event_line(e, info_);
  }
  switch (o_.output) {
    case StampOutput::text:
      if (!o_.quiet) {
        write_out(fmt::format("{}\n", wrap_text(stamp_event_line(e, info_), kContinuationIndent)));
      }
      break;
    case StampOutput::json_lines:
      write_out(fmt::format("{}\n", stamp_event_json(e)));
      break;
    case StampOutput::json:
      break;
  }
}

void Sender::write_out(const std::string& text) {
  if (output_error_ != 0) {
    return;
  }
  output_error_ = write_flushed(out_, text);
  done_ = done_ || output_error_ != 0;
}

}  // namespace

Outcome run_stamp(const StampOptions& options, std::FILE* out, std::FILE* err) {
  Sender sender(options, out, err);
  return sender.run();
}

}  // namespace netecho::client
