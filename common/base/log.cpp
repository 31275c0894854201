#include "common/base/log.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <nlohmann/json.hpp>

namespace hs {
namespace {

// One JSON object per line, so log collectors (and jq) never see a half line.
class JsonStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const auto t = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
        nlohmann::json j;
        j["time"] = static_cast<double>(t) / 1e6;
        j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                 spdlog::level::to_string_view(msg.level).size());
        j["msg"] = std::string(msg.payload.data(), msg.payload.size());
        if (msg.logger_name.size() > 0) j["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
        const auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Escapes the message before the real sink formats it, so both formats (and any sink added
// later) get the same text; in JSON the escape is then escaped once more, which keeps the line
// valid and shows the same characters as the text format.
class EscapingSink final : public spdlog::sinks::sink {
public:
    explicit EscapingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}
    void log(const spdlog::details::log_msg& msg) override {
        const std::string_view payload(msg.payload.data(), msg.payload.size());
        bool clean = true;
        for (const char c : payload) clean = clean && !is_control(static_cast<unsigned char>(c));
        if (clean) return inner_->log(msg);
        const auto escaped = escape_control(payload);
        auto copy = msg;
        copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
        inner_->log(copy);
    }
    void flush() override { inner_->flush(); }
    void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
    void set_formatter(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

private:
    std::shared_ptr<spdlog::sinks::sink> inner_;
};

spdlog::level::level_enum parse_level(const std::string& level) {
    if (level == "trace") return spdlog::level::trace;
    if (level == "debug") return spdlog::level::debug;
    if (level == "info") return spdlog::level::info;
    if (level == "warn" || level == "warning") return spdlog::level::warn;
    if (level == "error" || level == "fatal" || level == "panic") return spdlog::level::err;
    if (level == "off") return spdlog::level::off;
    throw std::invalid_argument("invalid log level \"" + level + "\": expected trace, debug, info, warn, error or off");
}

}  // namespace

std::string escape_control(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (!is_control(c)) {
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::optional<std::uint64_t> LogLimiter::allow(std::string_view reason, Clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = slots_.find(reason);
    if (it == slots_.end()) {
        slots_.emplace(std::string(reason), Slot{now, 0});
        return 0;
    }
    auto& slot = it->second;
    if (now - slot.last < interval_) {
        ++slot.suppressed;
        return std::nullopt;
    }
    const auto n = slot.suppressed;
    slot = Slot{now, 0};
    return n;
}

std::string suppressed_note(std::uint64_t n) {
    if (n == 0) return "";
    return " (" + std::to_string(n) + " similar line" + (n == 1 ? "" : "s") + " suppressed)";
}

void setup_logging(const std::string& level, const std::string& format) {
    const auto lvl = parse_level(level);
    std::shared_ptr<spdlog::logger> logger;
    if (format == "json") {
        logger =
            std::make_shared<spdlog::logger>("", std::make_shared<EscapingSink>(std::make_shared<JsonStderrSink>()));
    } else if (format == "text" || format.empty()) {
        logger = std::make_shared<spdlog::logger>(
            "", std::make_shared<EscapingSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    } else {
        throw std::invalid_argument("invalid log format \"" + format + "\": expected text or json");
    }
    logger->set_level(lvl);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

}  // namespace hs
