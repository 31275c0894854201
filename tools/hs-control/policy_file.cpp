#include "tools/hs-control/policy_file.h"

#include <sys/stat.h>

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "common/admin/ops.h"
#include "common/policy/engine.h"

namespace hs::control {

PolicyFile::PolicyFile(boost::asio::io_context& io, std::string path, Tailnet& tailnet)
    : path_(std::move(path)), tailnet_(tailnet), timer_(std::make_unique<boost::asio::steady_timer>(io)) {}

std::optional<std::pair<std::int64_t, std::int64_t>> PolicyFile::stamp() const {
    struct stat st {};
    if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return std::nullopt;
    return std::pair{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                     static_cast<std::int64_t>(st.st_size)};
}

void PolicyFile::load_initial() {
    seen_ = stamp();
    const auto problems = tailnet_.set_policy(admin::read_policy_file(path_), false);
    if (!problems.empty())
        throw std::runtime_error("policy file " + path_ + " is refused:\n" + policy::format_problems(problems));
}

void PolicyFile::reload() {
    seen_ = stamp();
    try {
        if (tailnet_.set_policy(admin::read_policy_file(path_)).empty()) spdlog::info("policy file {} read", path_);
    } catch (const std::exception& e) {
        tailnet_.count_policy_reload_error();
        spdlog::error("{}; the previous policy stays in force", e.what());
    }
}

void PolicyFile::start() {
    if (!path_.empty()) watch();
}

void PolicyFile::watch() {
    timer_->expires_after(std::chrono::seconds(1));
    timer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        if (stamp() != seen_) reload();
        watch();
    });
}

}  // namespace hs::control
