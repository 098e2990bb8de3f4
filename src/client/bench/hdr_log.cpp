#include "client/bench/hdr_log.hpp"

#include <zlib.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "client/bench/report.hpp"

namespace netecho::client {
namespace {

// HdrHistogram's cookies: the V2 encoding's and its compressed form's, each | 0x10 (the word
// size byte's mark of the LEB128/ZigZag payload).
constexpr std::uint32_t kV2EncodingCookie = 0x1c849303 | 0x10;
constexpr std::uint32_t kV2CompressedEncodingCookie = 0x1c849304 | 0x10;
constexpr std::uint32_t kSignificantDigits = 2;  // 2^8 unit buckets: 256 >= 2 * 10^2
static_assert(Histogram::kSubBucketHalfCount == 128);

void put_be(std::vector<std::uint8_t>& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

// HdrHistogram's ZigZagEncoding.putLong: zig-zag, then LEB128 in at most 9 bytes, the ninth
// holding the last 8 bits whole.
void put_zigzag(std::vector<std::uint8_t>& out, std::int64_t signed_value) {
  auto v = (static_cast<std::uint64_t>(signed_value) << 1) ^
           static_cast<std::uint64_t>(signed_value >> 63);
  for (int group = 0; group < 8; ++group) {
    if ((v >> 7) == 0) {
      out.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

std::string base64(const std::vector<std::uint8_t>& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t chunk = std::uint32_t{in[i]} << 16;
    if (n > 1) chunk |= std::uint32_t{in[i + 1]} << 8;
    if (n > 2) chunk |= in[i + 2];
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 63] : '=';
    }
  }
  return out;
}

// The V2 encoding: a 40-byte header, then the counts up to the maximum's, a run of zeros
// written as its negated length.
std::vector<std::uint8_t> encode_v2(const Histogram& h) {
  std::vector<std::uint64_t> counts(Histogram::bucket_index(h.max()) + 1, 0);
  h.for_each_bucket(
      [&counts](const Histogram::Bucket& b) { counts[Histogram::bucket_index(b.lowest_ns)] = b.count; });
  std::vector<std::uint8_t> payload;
  for (std::size_t i = 0; i < counts.size();) {
    std::size_t zeros = 0;
    while (i + zeros < counts.size() && counts[i + zeros] == 0) ++zeros;
    if (zeros > 1) {
      put_zigzag(payload, -static_cast<std::int64_t>(zeros));
      i += zeros;
    } else {
      put_zigzag(payload, static_cast<std::int64_t>(counts[i]));
      ++i;
    }
  }
  std::vector<std::uint8_t> out;
  put_be(out, kV2EncodingCookie, 4);
  put_be(out, payload.size(), 4);
  put_be(out, 0, 4);  // normalizing index offset
  put_be(out, kSignificantDigits, 4);
  put_be(out, 1, 8);  // lowest discernible value: 1 ns
  put_be(out, Histogram::kHighestTrackableNs, 8);
  put_be(out, std::bit_cast<std::uint64_t>(1.0), 8);  // integer to double conversion ratio
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

std::string hdr_compressed_base64(const Histogram& h) {
  const std::vector<std::uint8_t> plain = encode_v2(h);
  uLongf size = compressBound(static_cast<uLong>(plain.size()));
  std::vector<std::uint8_t> out;
  put_be(out, kV2CompressedEncodingCookie, 4);
  put_be(out, 0, 4);  // the compressed length, once known
  out.resize(8 + size);
  if (compress2(out.data() + 8, &size, plain.data(), static_cast<uLong>(plain.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK) {
    throw std::runtime_error("zlib could not compress the histogram");
  }
  out.resize(8 + size);
  for (int i = 0; i < 4; ++i) {
    out[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size >> (8 * (3 - i)));
  }
  return base64(out);
}

std::string hdr_interval_log(const BenchResult& r) {
  const double start_s = static_cast<double>(r.started_unix_ns) / 1e9;
  // java.util.Date's toString(), in UTC: "Sun Dec 06 13:25:00 UTC 2026".
  const std::time_t t = static_cast<std::time_t>(r.started_unix_ns / 1'000'000'000);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &utc);
  std::string out = "#[Histogram log format version 1.3]\n";
  out += fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", start_s, date);
  out += fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", start_s);
  out += "#[netecho bench: latency in nanoseconds; Interval_Max in milliseconds]\n";
  out += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  out += fmt::format("{:.3f},{:.3f},{:.3f},{}\n", 0.0, as_seconds(r.elapsed),
                     static_cast<double>(r.latency.max()) / 1e6, hdr_compressed_base64(r.latency));
  return out;
}

}  // namespace netecho::client
