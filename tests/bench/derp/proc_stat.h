// What the benchmarks measure about a process they do not own (the server under test): CPU
// seconds from /proc/<pid>/stat and peak RSS from /proc/<pid>/status, plus their own CPU.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace hs::bench {

// utime + stime of every thread of `pid`, in seconds; throws std::runtime_error when the
// process is gone or the file does not parse.
double cpu_seconds(pid_t pid);
// VmHWM of `pid` in KiB (the most resident memory it has had), or 0 when unknown.
std::uint64_t peak_rss_kib(pid_t pid);
// This process's user + system CPU seconds so far.
double self_cpu_seconds();

// The server's and this process's CPU seconds over the measured window.
class CpuWindow {
public:
    explicit CpuWindow(pid_t server) : server_(server) {}
    void start();
    void stop();
    double server_cpu() const { return cpu1_ - cpu0_; }
    // Adds loadgen_cpu_s and loadgen_cpu_util, and with a server pid server_cpu_s,
    // server_cpu_util and server_peak_rss_kib.
    void report(nlohmann::json& j, double window_seconds) const;

private:
    pid_t server_;
    double cpu0_ = 0, cpu1_ = 0, self0_ = 0, self1_ = 0;
};

}  // namespace hs::bench
