// hs-stun's socket and loop: one UDP socket, polled, answered in batches by stun::Batch
// (recvmmsg/sendmmsg), so one thread answers hundreds of thousands of requests a second.
#pragma once

#include <atomic>
#include <string>

#include "common/stun/message.h"

namespace hs::stunsrv {

class BatchServer {
public:
    // Binds `addr` (":PORT" = every address, both families; "IP:PORT" = that address).
    // Throws std::runtime_error naming the address on failure.
    explicit BatchServer(const std::string& addr);
    ~BatchServer();
    BatchServer(const BatchServer&) = delete;
    BatchServer& operator=(const BatchServer&) = delete;

    // Answers until `stop` becomes true (checked at least every 250 ms).
    void run(const std::atomic<bool>& stop, stun::Counters& counters);
    std::string local_address() const;

private:
    int fd_ = -1;
    bool wildcard_ = false;  // then replies name their source address, see run()
};

}  // namespace hs::stunsrv
