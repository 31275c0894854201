// OpenSSL plumbing shared by the ACME code: unique_ptr deleters and the error that carries
// OpenSSL's own reason.
#pragma once

#include <openssl/crypto.h>

#include <string>

namespace hs::acme {

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};

// Frees what OpenSSL allocated for the caller (BN_bn2hex, i2d_* output).
struct OsslFree {
    template <class T>
    void operator()(T* p) const {
        OPENSSL_free(p);
    }
};

// Throws AcmeError "what: <OpenSSL's first queued error>" and clears OpenSSL's error queue.
[[noreturn]] void ossl_fail(const std::string& what);

}  // namespace hs::acme
