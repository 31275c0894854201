#include "common/control/noise.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <memory>
#include <utility>

namespace hs {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::string_view kProtocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
constexpr std::string_view kProloguePrefix = "Tailscale Control Protocol v";
constexpr std::size_t kInitPayload = kNoiseInitSize - 5;          // 96
constexpr std::size_t kResponsePayload = kNoiseResponseSize - 3;  // 48
constexpr std::uint64_t kCounterLimit = std::numeric_limits<std::uint64_t>::max();

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw NoiseError("libsodium failed to initialise");
}

Bytes as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

std::uint16_t get_be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

void put_be16(std::uint8_t* p, std::size_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

Key32 key_at(Bytes b, std::size_t offset) {
    Key32 k{};
    std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(offset), k.size(), k.begin());
    return k;
}

template <class T>
void wipe(T& secret) {
    sodium_memzero(&secret, sizeof secret);
}

// BLAKE2s-256 over the concatenation of `parts`. The fetched EVP_MD is kept for the life of the
// process: fetching per call costs a provider lookup, and the handshake hashes ~20 times.
Key32 blake2s(std::initializer_list<Bytes> parts) {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
    struct CtxFree {
        void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
    if (!md || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) {
        throw NoiseError("OpenSSL cannot compute BLAKE2S-256");
    }
    for (auto part : parts) {
        if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
            throw NoiseError("BLAKE2S-256 update failed");
        }
    }
    Key32 out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
        throw NoiseError("BLAKE2S-256 final failed");
    }
    return out;
}

// HMAC-BLAKE2s (64-byte block) with a 32-byte key; Noise never uses longer HMAC keys.
Key32 hmac(const Key32& key, Bytes a, Bytes b = {}) {
    std::array<std::uint8_t, 64> ipad{}, opad{};
    for (std::size_t i = 0; i < ipad.size(); ++i) {
        const std::uint8_t k = i < key.size() ? key[i] : 0;
        ipad[i] = static_cast<std::uint8_t>(k ^ 0x36);
        opad[i] = static_cast<std::uint8_t>(k ^ 0x5c);
    }
    Key32 inner = blake2s({ipad, a, b});
    const Key32 out = blake2s({opad, inner});
    wipe(ipad);
    wipe(opad);
    wipe(inner);
    return out;
}

// RFC 5869 with salt = ck, info empty, two 32-byte outputs.
std::pair<Key32, Key32> hkdf2(const Key32& ck, Bytes ikm) {
    static constexpr std::uint8_t one[1] = {0x01}, two[1] = {0x02};
    Key32 prk = hmac(ck, ikm);
    const Key32 out1 = hmac(prk, one);
    const Key32 out2 = hmac(prk, out1, two);
    wipe(prk);
    return {out1, out2};
}

// Handshake messages use each key exactly once, so the nonce is always zero.
constexpr std::array<std::uint8_t, 12> kZeroNonce{};

Key32 dh(const PrivateKey& priv, const Key32& pub) {
    try {
        return x25519(priv.bytes, pub);
    } catch (const KeyError&) {
        throw NoiseError("handshake aborted: low-order public key");
    }
}

// The Noise SymmetricState for this one pattern.
struct Symmetric {
    Key32 h{}, ck{}, k{};

    Symmetric(std::uint16_t version, const Key32& server_static) {
        h = blake2s({as_bytes(kProtocolName)});
        ck = h;
        // The version in the cleartext header feeds the prologue, so tampering with it breaks the
        // handshake instead of silently changing the client's claimed capabilities.
        const std::string prologue = std::string(kProloguePrefix) + std::to_string(version);
        mix_hash(as_bytes(prologue));
        mix_hash(server_static);
    }
    // Resumes a handshake saved between messages.
    Symmetric(const Key32& saved_h, const Key32& saved_ck) : h(saved_h), ck(saved_ck) {}
    ~Symmetric() {
        wipe(ck);
        wipe(k);
    }
    Symmetric(const Symmetric&) = delete;
    Symmetric& operator=(const Symmetric&) = delete;

    void mix_hash(Bytes data) { h = blake2s({h, data}); }

    void mix_key(const Key32& ikm) {
        auto [next_ck, next_k] = hkdf2(ck, ikm);
        ck = next_ck;
        k = next_k;
        wipe(next_ck);
        wipe(next_k);
    }

    void mix_dh(const PrivateKey& priv, const Key32& pub) {
        Key32 shared = dh(priv, pub);
        mix_key(shared);
        wipe(shared);
    }

    // Writes plaintext.size() + 16 bytes to `out`.
    void encrypt_and_hash(Bytes plaintext, std::uint8_t* out) {
        unsigned long long len = 0;
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &len, plaintext.data(), plaintext.size(), h.data(), h.size(),
                                                  nullptr, kZeroNonce.data(), k.data());
        mix_hash({out, static_cast<std::size_t>(len)});
    }

    // Writes ciphertext.size() - 16 bytes to `out`; throws without touching h on failure.
    void decrypt_and_hash(Bytes ciphertext, std::uint8_t* out, const char* what) {
        std::uint8_t scratch[1];
        unsigned long long len = 0;
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out ? out : scratch, &len, nullptr, ciphertext.data(),
                                                      ciphertext.size(), h.data(), h.size(), kZeroNonce.data(),
                                                      k.data()) != 0) {
            throw NoiseError(std::string("handshake aborted: cannot decrypt ") + what);
        }
        mix_hash(ciphertext);
    }

    // (k1, k2): k1 protects client -> server, k2 server -> client.
    std::pair<Key32, Key32> split() const { return hkdf2(ck, {}); }
};

}  // namespace

// ---- responder --------------------------------------------------------------------------------

NoiseAccepted noise_accept(const PrivateKey& server_static, Bytes init, const PrivateKey* ephemeral) {
    ensure_sodium();
    if (init.size() != kNoiseInitSize) throw NoiseError("wrong handshake initiation size", true);
    if (init[2] != kNoiseTypeInit) throw NoiseError("unexpected handshake message type", true);
    if (get_be16(&init[3]) != kInitPayload) throw NoiseError("wrong handshake initiation length", true);

    NoiseAccepted acc{};
    acc.version = get_be16(&init[0]);
    Symmetric s(acc.version, server_static.public_key().bytes);

    const Key32 client_ephemeral = key_at(init, 5);
    s.mix_hash(client_ephemeral);
    s.mix_dh(server_static, client_ephemeral);  // es
    s.decrypt_and_hash(init.subspan(37, 48), acc.peer_static.data(), "machine key");
    s.mix_dh(server_static, acc.peer_static);  // ss
    s.decrypt_and_hash(init.subspan(85, 16), nullptr, "initiation payload");

    const PrivateKey own_ephemeral = ephemeral ? *ephemeral : PrivateKey::generate();
    const Key32 own_ephemeral_pub = own_ephemeral.public_key().bytes;
    acc.response[0] = kNoiseTypeResponse;
    put_be16(&acc.response[1], kResponsePayload);
    std::copy(own_ephemeral_pub.begin(), own_ephemeral_pub.end(), acc.response.begin() + 3);
    s.mix_hash(own_ephemeral_pub);
    s.mix_dh(own_ephemeral, client_ephemeral);  // ee
    s.mix_dh(own_ephemeral, acc.peer_static);   // se
    s.encrypt_and_hash({}, &acc.response[35]);

    auto [k1, k2] = s.split();
    acc.rx_key = k1;
    acc.tx_key = k2;
    acc.handshake_hash = s.h;
    wipe(k1);
    wipe(k2);
    return acc;
}

std::vector<std::uint8_t> noise_error_frame(std::string_view message) {
    const std::size_t len = std::min<std::size_t>(message.size(), 0xffff);
    std::vector<std::uint8_t> out(kNoiseHeaderSize + len);
    out[0] = kNoiseTypeError;
    put_be16(&out[1], len);
    std::copy_n(message.begin(), len, out.begin() + kNoiseHeaderSize);
    return out;
}

// ---- initiator --------------------------------------------------------------------------------

NoiseInitiation noise_initiate(const PrivateKey& machine, const PublicKey& server_public, std::uint16_t version,
                               const PrivateKey* ephemeral) {
    ensure_sodium();
    NoiseInitiation st{};
    st.version = version;
    st.machine = machine;
    st.ephemeral = ephemeral ? *ephemeral : PrivateKey::generate();
    Symmetric s(version, server_public.bytes);

    auto& m = st.message;
    put_be16(&m[0], version);
    m[2] = kNoiseTypeInit;
    put_be16(&m[3], kInitPayload);
    const Key32 e_pub = st.ephemeral.public_key().bytes;
    std::copy(e_pub.begin(), e_pub.end(), m.begin() + 5);
    s.mix_hash(e_pub);
    s.mix_dh(st.ephemeral, server_public.bytes);  // es
    s.encrypt_and_hash(machine.public_key().bytes, &m[37]);
    s.mix_dh(machine, server_public.bytes);  // ss
    s.encrypt_and_hash({}, &m[85]);

    st.h = s.h;
    st.ck = s.ck;
    return st;
}

NoiseKeys noise_finish(const NoiseInitiation& st, Bytes response) {
    ensure_sodium();
    if (response.size() >= kNoiseHeaderSize && response[0] == kNoiseTypeError) {
        const std::size_t len = get_be16(&response[1]);
        if (response.size() != kNoiseHeaderSize + len) throw NoiseError("malformed handshake error frame");
        const auto text = response.subspan(kNoiseHeaderSize);
        throw NoiseError("server error: \"" + std::string(text.begin(), text.end()) + "\"");
    }
    if (response.size() != kNoiseResponseSize) throw NoiseError("wrong handshake response size");
    if (response[0] != kNoiseTypeResponse) throw NoiseError("unexpected handshake response type");
    if (get_be16(&response[1]) != kResponsePayload) throw NoiseError("wrong handshake response length");

    Symmetric s(st.h, st.ck);

    const Key32 server_ephemeral = key_at(response, 3);
    s.mix_hash(server_ephemeral);
    s.mix_dh(st.ephemeral, server_ephemeral);  // ee
    s.mix_dh(st.machine, server_ephemeral);    // se
    s.decrypt_and_hash(response.subspan(35, 16), nullptr, "response payload");

    auto [k1, k2] = s.split();
    NoiseKeys keys{k1, k2, s.h};
    wipe(k1);
    wipe(k2);
    return keys;
}

// ---- transport --------------------------------------------------------------------------------

NoiseCipher::NoiseCipher(const Key32& key, std::uint64_t counter) : key_(key), counter_(counter) { ensure_sodium(); }

NoiseCipher::~NoiseCipher() { wipe(key_); }

NoiseCipher::NoiseCipher(NoiseCipher&& other) noexcept
    : key_(other.key_), counter_(other.counter_), dead_(other.dead_) {
    wipe(other.key_);
    other.dead_ = true;
}

NoiseCipher& NoiseCipher::operator=(NoiseCipher&& other) noexcept {
    if (this != &other) {
        key_ = other.key_;
        counter_ = other.counter_;
        dead_ = other.dead_;
        wipe(other.key_);
        other.dead_ = true;
    }
    return *this;
}

std::array<std::uint8_t, 12> NoiseCipher::next_nonce() {
    if (dead_) throw NoiseError("noise cipher is unusable after a failure");
    if (counter_ == kCounterLimit) throw NoiseError("cipher exhausted");
    std::array<std::uint8_t, 12> nonce{};
    for (int i = 0; i < 8; ++i) nonce[11 - i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
    ++counter_;
    return nonce;
}

void NoiseCipher::seal(Bytes plaintext, std::vector<std::uint8_t>& out) {
    const auto nonce = next_nonce();
    const std::size_t at = out.size();
    out.resize(at + plaintext.size() + kNoiseTagSize);
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + at, &len, plaintext.data(), plaintext.size(), nullptr, 0,
                                              nullptr, nonce.data(), key_.data());
}

void NoiseCipher::open(Bytes ciphertext, std::vector<std::uint8_t>& out) {
    if (ciphertext.size() < kNoiseTagSize) {
        dead_ = true;
        throw NoiseError("noise record shorter than its tag");
    }
    const auto nonce = next_nonce();
    const std::size_t at = out.size();
    const std::size_t len = ciphertext.size() - kNoiseTagSize;
    out.resize(at + len);
    std::uint8_t scratch[1];
    unsigned long long got = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(len ? out.data() + at : scratch, &got, nullptr, ciphertext.data(),
                                                  ciphertext.size(), nullptr, 0, nonce.data(), key_.data()) != 0) {
        out.resize(at);
        dead_ = true;
        throw NoiseError("noise record failed to decrypt");
    }
}

void NoiseSealer::seal_record(Bytes plaintext, std::vector<std::uint8_t>& out) {
    const std::size_t at = out.size();
    out.resize(at + kNoiseHeaderSize);
    out[at] = kNoiseTypeRecord;
    put_be16(&out[at + 1], plaintext.size() + kNoiseTagSize);
    cipher_.seal(plaintext, out);
}

void NoiseSealer::append(Bytes plaintext, std::vector<std::uint8_t>& out) {
    if (tail_size_ > 0) {
        const std::size_t n = std::min(plaintext.size(), kNoiseMaxPlaintext - tail_size_);
        std::copy_n(plaintext.begin(), n, tail_.begin() + static_cast<std::ptrdiff_t>(tail_size_));
        tail_size_ += n;
        plaintext = plaintext.subspan(n);
        if (tail_size_ < kNoiseMaxPlaintext) return;
        flush(out);
    }
    for (; plaintext.size() >= kNoiseMaxPlaintext; plaintext = plaintext.subspan(kNoiseMaxPlaintext))
        seal_record(plaintext.first(kNoiseMaxPlaintext), out);
    std::copy(plaintext.begin(), plaintext.end(), tail_.begin());
    tail_size_ = plaintext.size();
}

void NoiseSealer::flush(std::vector<std::uint8_t>& out) {
    if (tail_size_ == 0) return;
    seal_record({tail_.data(), tail_size_}, out);
    tail_size_ = 0;
}

void NoiseSealer::seal(Bytes plaintext, std::vector<std::uint8_t>& out) {
    append(plaintext, out);
    flush(out);
}

namespace {

// Validates a record header and returns the whole record's size, header included. Checking the
// header before the body arrives means a bogus length kills the stream at once instead of after
// the peer has made us wait for (and buffer) up to 64 KiB.
std::size_t record_size(const std::uint8_t* header) {
    if (header[0] != kNoiseTypeRecord) {
        static constexpr char digits[] = "0123456789abcdef";
        throw NoiseError(std::string("unexpected noise record type 0x") + digits[header[0] >> 4] +
                         digits[header[0] & 15]);
    }
    const std::size_t len = get_be16(header + 1);
    if (len > kNoiseMaxCiphertext) {
        throw NoiseError("noise record too large: " + std::to_string(len) + " bytes, the limit is " +
                         std::to_string(kNoiseMaxCiphertext));
    }
    if (len < kNoiseTagSize) {
        throw NoiseError("noise record too short: " + std::to_string(len) + " bytes, less than its tag");
    }
    return kNoiseHeaderSize + len;
}

}  // namespace

void NoiseOpener::feed(Bytes in, std::vector<std::uint8_t>& out) {
    if (failed_) throw NoiseError("noise stream is unusable after a failure");
    try {
        feed_records(in, out);
    } catch (...) {
        failed_ = true;
        pending_.clear();
        throw;
    }
}

void NoiseOpener::feed_records(Bytes in, std::vector<std::uint8_t>& out) {
    while (!in.empty()) {
        if (pending_.empty()) {
            // Whole records straight from the caller's buffer, without copying.
            if (in.size() >= kNoiseHeaderSize) {
                const std::size_t total = record_size(in.data());
                if (in.size() >= total) {
                    cipher_.open(in.subspan(kNoiseHeaderSize, total - kNoiseHeaderSize), out);
                    in = in.subspan(total);
                    continue;
                }
            }
            pending_.reserve(kNoiseMaxRecord);
            pending_.assign(in.begin(), in.end());
            return;
        }
        if (pending_.size() < kNoiseHeaderSize) {
            const std::size_t take = std::min(kNoiseHeaderSize - pending_.size(), in.size());
            pending_.insert(pending_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
            in = in.subspan(take);
            if (pending_.size() < kNoiseHeaderSize) return;
        }
        const std::size_t total = record_size(pending_.data());
        const std::size_t take = std::min(total - pending_.size(), in.size());
        pending_.insert(pending_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
        in = in.subspan(take);
        if (pending_.size() < total) return;
        cipher_.open(std::span(pending_).subspan(kNoiseHeaderSize), out);
        pending_.clear();
    }
}

std::vector<std::uint8_t> noise_early_payload(std::string_view json) {
    if (json.size() > 0xffffffffu) throw std::length_error("early payload JSON longer than 4 GiB");
    static constexpr std::uint8_t magic[5] = {0xff, 0xff, 0xff, 'T', 'S'};
    const std::size_t len = json.size();
    // Sized up front: GCC 12 misreports an insert into a freshly built 9-byte vector (-Warray-bounds).
    std::vector<std::uint8_t> out(9 + len);
    std::copy(std::begin(magic), std::end(magic), out.begin());
    for (int i = 0; i < 4; ++i) out[5 + i] = static_cast<std::uint8_t>(len >> (24 - 8 * i));
    std::copy(json.begin(), json.end(), out.begin() + 9);
    return out;
}

}  // namespace hs
