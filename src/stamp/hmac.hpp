#pragma once
// Authenticated STAMP (RFC 8762 §4.4): HMAC-SHA-256 truncated to 128 bits over every byte of
// the base packet before the HMAC field, with a key both ends hold (OpenSSL's libcrypto).

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "stamp/packet.hpp"

namespace netecho::stamp {

class HmacKey {
 public:
  explicit HmacKey(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

// The key in file: its bytes as they are, but for one trailing newline (so that
// `echo secret > key` works). An empty or unreadable file is an error naming the file.
base::Parsed<HmacKey> read_key_file(const std::string& path);

using Hmac = std::array<std::byte, kHmacSize>;

// The HMAC of covered, then of more (one text in two pieces, so that none is copied); all zero
// when OpenSSL cannot compute it (verify and verify_tlvs then say no).
Hmac compute_hmac(const HmacKey& key, std::span<const std::byte> covered,
                  std::span<const std::byte> more = {}) noexcept;

// Writes the HMAC of packet's first kHmacOffset bytes into its HMAC field; packet holds at
// least base_size(Auth::authenticated) bytes.
void sign(const HmacKey& key, std::span<std::byte> packet) noexcept;
// Whether packet's HMAC field holds the HMAC of its first kHmacOffset bytes (compared in
// constant time); false for a packet too short to hold one.
bool verify(const HmacKey& key, std::span<const std::byte> packet) noexcept;

// RFC 8972 §4.8: the HMAC TLV's value is the HMAC of the packet's Sequence Number (its first 4
// bytes) and every byte of the TLV area before the HMAC TLV, their headers included. The same
// key as the base packet's (the RFC lets each session have its own; netecho has one).
// packet: the whole packet; hmac_tlv: the HMAC TLV's offset in the TLV area (find_hmac_tlv),
// whose value holds kHmacSize bytes.
Hmac compute_tlv_hmac(const HmacKey& key, std::span<const std::byte> packet, Auth a,
                      std::size_t hmac_tlv) noexcept;
void sign_tlvs(const HmacKey& key, std::span<std::byte> packet, Auth a,
               std::size_t hmac_tlv) noexcept;
bool verify_tlvs(const HmacKey& key, std::span<const std::byte> packet, Auth a,
                 std::size_t hmac_tlv) noexcept;

}  // namespace netecho::stamp
