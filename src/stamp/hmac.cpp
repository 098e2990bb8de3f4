#include "stamp/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace netecho::stamp {

base::Parsed<HmacKey> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fmt::format("cannot read the STAMP key file '{}'", path);
  }
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!chars.empty() && chars.back() == '\n') {
    chars.pop_back();
  }
  if (chars.empty()) {
    return fmt::format("the STAMP key file '{}' is empty", path);
  }
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return HmacKey(std::move(bytes));
}

namespace {

// HMAC-SHA-256 of covered then more, cut to kHmacSize; false when OpenSSL could not compute it
// (no memory, no SHA-256 in its providers). OpenSSL 3's MAC interface: its HMAC_CTX, the
// other way to feed HMAC two pieces, is deprecated, and its one-shot HMAC() fetches the same
// implementation on every call anyway.
bool mac(const HmacKey& key, std::span<const std::byte> covered, std::span<const std::byte> more,
         Hmac& out) noexcept {
  unsigned char full[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = hmac != nullptr ? EVP_MAC_CTX_new(hmac) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  const auto text = [](std::span<const std::byte> s) {
    return reinterpret_cast<const unsigned char*>(s.data());
  };
  const bool ok = ctx != nullptr &&
                  EVP_MAC_init(ctx, text(key.bytes()), key.bytes().size(), params) == 1 &&
                  EVP_MAC_update(ctx, text(covered), covered.size()) == 1 &&
                  EVP_MAC_update(ctx, text(more), more.size()) == 1 &&
                  EVP_MAC_final(ctx, full, &length, sizeof full) == 1 && length >= out.size();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  if (ok) {
    std::memcpy(out.data(), full, out.size());
  }
  return ok;
}

// Whether packet holds, at at, the HMAC of covered then more (compared in constant time).
bool matches(const HmacKey& key, std::span<const std::byte> covered,
             std::span<const std::byte> more, std::span<const std::byte> packet,
             std::size_t at) noexcept {
  Hmac h{};
  return mac(key, covered, more, h) &&
         CRYPTO_memcmp(h.data(), packet.data() + at, h.size()) == 0;
}

constexpr std::size_t kSequenceNumber = 4;  // what the HMAC TLV covers of the base

}  // namespace

Hmac compute_hmac(const HmacKey& key, std::span<const std::byte> covered,
                  std::span<const std::byte> more) noexcept {
  Hmac out{};
  mac(key, covered, more, out);
  return out;
}

void sign(const HmacKey& key, std::span<std::byte> packet) noexcept {
  const Hmac h = compute_hmac(key, packet.first(kHmacOffset));
  std::memcpy(packet.data() + kHmacOffset, h.data(), h.size());
}

bool verify(const HmacKey& key, std::span<const std::byte> packet) noexcept {
  return packet.size() >= base_size(Auth::authenticated) &&
         matches(key, packet.first(kHmacOffset), {}, packet, kHmacOffset);
}

Hmac compute_tlv_hmac(const HmacKey& key, std::span<const std::byte> packet, Auth a,
                      std::size_t hmac_tlv) noexcept {
  return compute_hmac(key, packet.first(kSequenceNumber), packet.subspan(base_size(a), hmac_tlv));
}

void sign_tlvs(const HmacKey& key, std::span<std::byte> packet, Auth a,
               std::size_t hmac_tlv) noexcept {
  const Hmac h = compute_tlv_hmac(key, packet, a, hmac_tlv);
  std::memcpy(packet.data() + base_size(a) + hmac_tlv + kTlvHeader, h.data(), h.size());
}

bool verify_tlvs(const HmacKey& key, std::span<const std::byte> packet, Auth a,
                 std::size_t hmac_tlv) noexcept {
  return matches(key, packet.first(kSequenceNumber), packet.subspan(base_size(a), hmac_tlv),
                 packet, base_size(a) + hmac_tlv + kTlvHeader);
}

}  // namespace netecho::stamp
