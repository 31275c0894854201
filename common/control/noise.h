// Tailscale's TS2021 control channel crypto: the Noise IK handshake and the transport records
// that follow it (docs: control-protocol.md §2.3-2.9). Bytes in, bytes out; no sockets, so the
// same code serves the server, the tests, the fuzz targets and the load generator.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/keys.h"

namespace hs {

// Every failure of this layer. The connection is dead after any of them.
struct NoiseError : std::runtime_error {
    explicit NoiseError(const std::string& message, bool frame = false)
        : std::runtime_error(message), error_frame(frame) {}
    // True when the peer should be sent noise_error_frame(what()) before the connection is
    // closed. Only malformed initiation headers qualify; a failed decryption is answered by a
    // plain close, as the Go server does, so that an attacker learns nothing from it.
    bool error_frame;
};

inline constexpr std::size_t kNoiseInitSize = 101;     // initiation message (header included)
inline constexpr std::size_t kNoiseResponseSize = 51;  // response message (header included)
inline constexpr std::size_t kNoiseHeaderSize = 3;     // type byte + uint16 BE length
inline constexpr std::size_t kNoiseTagSize = 16;       // Poly1305 tag
inline constexpr std::size_t kNoiseMaxRecord = 4096;   // largest record, header included
inline constexpr std::size_t kNoiseMaxCiphertext = kNoiseMaxRecord - kNoiseHeaderSize;  // 4093
inline constexpr std::size_t kNoiseMaxPlaintext = kNoiseMaxCiphertext - kNoiseTagSize;  // 4077

inline constexpr std::uint8_t kNoiseTypeInit = 0x01;
inline constexpr std::uint8_t kNoiseTypeResponse = 0x02;
inline constexpr std::uint8_t kNoiseTypeError = 0x03;
inline constexpr std::uint8_t kNoiseTypeRecord = 0x04;

// ---- responder (server) ----------------------------------------------------------------------

struct NoiseAccepted {
    std::uint16_t version;                                  // client capver from the header
    Key32 peer_static;                                      // the client's machine public key
    std::array<std::uint8_t, kNoiseResponseSize> response;  // send this to the client
    Key32 tx_key;                                           // server -> client (k2)
    Key32 rx_key;                                           // client -> server (k1)
    Key32 handshake_hash;
};

// Runs the server side of the handshake on one initiation message. On success the client's
// machine key is authenticated and `response` is ready to send. Throws NoiseError with
// error_frame set for a wrong size, type byte or length field, and without it for a failed
// decryption or a low-order key. `ephemeral` fixes the server ephemeral key (tests only);
// by default a fresh one is generated.
NoiseAccepted noise_accept(const PrivateKey& server_static, std::span<const std::uint8_t> init,
                           const PrivateKey* ephemeral = nullptr);

// 0x03 | uint16 BE length | message. Messages longer than 65535 bytes are cut short.
std::vector<std::uint8_t> noise_error_frame(std::string_view message);

// ---- initiator (client) ----------------------------------------------------------------------

// What the client keeps between sending the initiation and reading the response.
struct NoiseInitiation {
    std::array<std::uint8_t, kNoiseInitSize> message;  // send this to the server
    std::uint16_t version;
    Key32 h;  // handshake state after msg1, consumed by noise_finish
    Key32 ck;
    PrivateKey machine;
    PrivateKey ephemeral;
};

struct NoiseKeys {
    Key32 tx_key;  // client -> server (k1)
    Key32 rx_key;  // server -> client (k2)
    Key32 handshake_hash;
};

// Builds the 101-byte initiation for `server_public`. Throws NoiseError if the server key is a
// low-order point. `ephemeral` fixes the client ephemeral key (tests only).
NoiseInitiation noise_initiate(const PrivateKey& machine, const PublicKey& server_public, std::uint16_t version,
                               const PrivateKey* ephemeral = nullptr);

// Consumes the server's answer: exactly the 51-byte response, or a complete error frame (which
// is reported as NoiseError "server error: \"<msg>\""). Throws NoiseError on anything else,
// including a response that fails to authenticate.
NoiseKeys noise_finish(const NoiseInitiation& state, std::span<const std::uint8_t> response);

// ---- transport -------------------------------------------------------------------------------

// ChaCha20-Poly1305 with an empty AD and a per-message counter. The 12-byte nonce is four zero
// bytes and then the counter in big-endian order: that is what Tailscale's Go code does, and it
// disagrees with the Noise spec's little-endian for every counter but 0.
class NoiseCipher {
public:
    // `counter` is the first nonce to use; anything but 0 is for tests.
    explicit NoiseCipher(const Key32& key, std::uint64_t counter = 0);
    ~NoiseCipher();
    // Copying would let two owners reuse the same nonces; a moved-from cipher is dead.
    NoiseCipher(const NoiseCipher&) = delete;
    NoiseCipher& operator=(const NoiseCipher&) = delete;
    NoiseCipher(NoiseCipher&& other) noexcept;
    NoiseCipher& operator=(NoiseCipher&& other) noexcept;

    // Appends ciphertext || tag (plaintext.size() + 16 bytes) to `out`. `plaintext` must not
    // point into `out`. Throws NoiseError "cipher exhausted" once the counter reaches 2^64-1.
    void seal(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out);

    // Appends the plaintext of ciphertext || tag to `out`, which is left unchanged on failure.
    // A failed authentication throws NoiseError and kills the cipher: every later call throws.
    void open(std::span<const std::uint8_t> ciphertext, std::vector<std::uint8_t>& out);

    std::uint64_t counter() const { return counter_; }

private:
    std::array<std::uint8_t, 12> next_nonce();

    Key32 key_;
    std::uint64_t counter_;
    bool dead_ = false;
};

// Turns outgoing plaintext into transport records.
class NoiseSealer {
public:
    explicit NoiseSealer(const Key32& key) : cipher_(key) {}

    // Appends records (0x04 | len16 | ciphertext) carrying `plaintext` to `out`, at most
    // kNoiseMaxPlaintext bytes of plaintext per record, so no record exceeds kNoiseMaxRecord.
    // An empty plaintext writes nothing.
    void seal(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out);
    // The same in pieces (scatter-gather): whole records are sealed straight from `plaintext`
    // into `out`, and only a record's unfinished tail (< kNoiseMaxPlaintext bytes) is kept
    // until more comes or flush() seals it. append(a), append(b), flush() writes what
    // seal(a + b) writes, without a copy of a + b.
    void append(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out);
    void flush(std::vector<std::uint8_t>& out);

private:
    void seal_record(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out);
    NoiseCipher cipher_;
    std::array<std::uint8_t, kNoiseMaxPlaintext> tail_{};
    std::size_t tail_size_ = 0;
};

// Turns an incoming byte stream, cut anywhere, back into plaintext.
class NoiseOpener {
public:
    explicit NoiseOpener(const Key32& key) : cipher_(key) {}

    // Appends the plaintext of every record completed by `in` to `out`. Whole records inside
    // `in` are decrypted in place; only an unfinished record tail (at most kNoiseMaxRecord
    // bytes) is copied and kept. Throws NoiseError on a record type other than 0x04, a length
    // field outside [16, 4093] (as soon as the 3 header bytes are in) or a failed decryption;
    // plaintext of the records before the bad one has already been appended by then. After a
    // throw the opener is dead and every later feed throws.
    void feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);

    bool failed() const { return failed_; }
    // Bytes of an unfinished record held back for the next feed.
    std::size_t buffered() const { return pending_.size(); }

private:
    void feed_records(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);

    NoiseCipher cipher_;
    std::vector<std::uint8_t> pending_;
    bool failed_ = false;
};

// The plaintext of the optional early payload the server sends before HTTP/2:
// ff ff ff 'T' 'S' | uint32 BE length | json.
std::vector<std::uint8_t> noise_early_payload(std::string_view json);

}  // namespace hs
