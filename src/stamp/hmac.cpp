#include "stamp/hmac.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

Hmac compute_hmac(const HmacKey& key, std::span<const std::byte> covered) noexcept {
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ::HMAC(EVP_sha256(), key.bytes().data(), static_cast<int>(key.bytes().size()),
         reinterpret_cast<const unsigned char*>(covered.data()), covered.size(), full, &length);
  Hmac out{};
  std::memcpy(out.data(), full, out.size());
  return out;
}

void sign(const HmacKey& key, std::span<std::byte> packet) noexcept {
  const Hmac h = compute_hmac(key, packet.first(kHmacOffset));
  std::memcpy(packet.data() + kHmacOffset, h.data(), h.size());
}

bool verify(const HmacKey& key, std::span<const std::byte> packet) noexcept {
  if (packet.size() < base_size(Auth::authenticated)) {
    return false;
  }
  const Hmac h = compute_hmac(key, packet.first(kHmacOffset));
  return CRYPTO_memcmp(h.data(), packet.data() + kHmacOffset, h.size()) == 0;
}

}  // namespace netecho::stamp
