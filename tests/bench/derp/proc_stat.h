// What the benchmarks measure about a process they do not own (the server under test): CPU
// seconds from /proc/<pid>/stat and peak RSS from /proc/<pid>/status, plus their own CPU.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace hs::bench {

// utime + stime of every thread of `pid`, in seconds; throws std::runtime_error when the
// process is gone or the file does not parse.
double cpu_seconds(pid_t pid);
// VmHWM of `pid` in KiB (the most resident memory it has had), or 0 when unknown.
std::uint64_t peak_rss_kib(pid_t pid);
// This process's user + system CPU seconds so far.
double self_cpu_seconds();

}  // namespace hs::bench
