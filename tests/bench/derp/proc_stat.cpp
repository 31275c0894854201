#include "tests/bench/derp/proc_stat.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hs::bench {

double cpu_seconds(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    std::ifstream f(path);
    std::string line;
    if (!f || !std::getline(f, line)) throw std::runtime_error(path + ": cannot read (is the server running?)");
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) throw std::runtime_error(path + ": unexpected format");
    std::istringstream rest(line.substr(close + 1));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    if (!rest) throw std::runtime_error(path + ": unexpected format");
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::uint64_t peak_rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (f >> key) {
        if (key == "VmHWM:") {
            std::uint64_t kib = 0;
            f >> kib;
            return kib;
        }
        f.ignore(1 << 20, '\n');
    }
    return 0;
}

double self_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

void CpuWindow::start() {
    if (server_ > 0) cpu0_ = cpu_seconds(server_);
    self0_ = self_cpu_seconds();
}

void CpuWindow::stop() {
    if (server_ > 0) cpu1_ = cpu_seconds(server_);
    self1_ = self_cpu_seconds();
}

void CpuWindow::report(nlohmann::json& j, double window_seconds) const {
    if (server_ > 0) {
        j["server_cpu_s"] = server_cpu();
        j["server_cpu_util"] = server_cpu() / window_seconds;
        j["server_peak_rss_kib"] = peak_rss_kib(server_);
    }
    j["loadgen_cpu_s"] = self1_ - self0_;
    j["loadgen_cpu_util"] = (self1_ - self0_) / window_seconds;
}

}  // namespace hs::bench
