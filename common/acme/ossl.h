// OpenSSL plumbing shared by the ACME code: unique_ptr deleters and the error that carries
// OpenSSL's own reason.
#pragma once

#include <string>

namespace hs::acme {

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};

// Throws AcmeError "what: <OpenSSL's first queued error>" and clears OpenSSL's error queue.
[[noreturn]] void ossl_fail(const std::string& what);

}  // namespace hs::acme
