// Upgraded connections that have not yet shown a node of the tailnet, counted per source
// address. Shared by the server and its connections, so that a connection destroyed after the
// server (when the event loop tears down its coroutines at exit) still has it to report to.
#pragma once

#include <string>
#include <unordered_map>

namespace hs::control {

// The address that per-source limits count for a peer "ip:port": the IP, or for IPv6 its /64
// (one host usually has a whole /64 to pick addresses from).
std::string source_of(const std::string& peer);

class SourceLimits {
public:
    // Each source may hold `per_source`; beyond that, only while fewer than `burst_total` are
    // held in all (a quiet server lets the devices behind one NAT reconnect at once after a
    // restart; under load from many sources, each keeps its own share).
    SourceLimits(int per_source, int total, int burst_total = 0)
        : per_source_(per_source), total_limit_(total), burst_total_(burst_total) {}

    // Counts one more for `source`; false (and nothing counted) when it or the total is full.
    bool admit(const std::string& source) {
        if (total_ >= total_limit_) return false;
        auto& n = by_source_[source];
        if (n >= per_source_ && total_ >= burst_total_) {
            if (n == 0) by_source_.erase(source);
            return false;
        }
        ++n;
        ++total_;
        return true;
    }
    void release(const std::string& source) {
        const auto it = by_source_.find(source);
        if (it == by_source_.end()) return;
        if (--it->second <= 0) by_source_.erase(it);
        --total_;
    }
    int total() const { return total_; }

private:
    int per_source_, total_limit_, burst_total_;
    int total_ = 0;
    std::unordered_map<std::string, int> by_source_;
};

}  // namespace hs::control
