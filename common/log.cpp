#include "common/log.h"

#include <chrono>
#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

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

spdlog::level::level_enum parse_level(const std::string& level) {
    if (level == "trace") return spdlog::level::trace;
    if (level == "debug") return spdlog::level::debug;
    if (level == "info") return spdlog::level::info;
    if (level == "warn" || level == "warning") return spdlog::level::warn;
    if (level == "error" || level == "fatal" || level == "panic") return spdlog::level::err;
    if (level == "off") return spdlog::level::off;
    throw std::invalid_argument("invalid log level \"" + level +
                                "\": expected trace, debug, info, warn, error or off");
}

}  // namespace

void setup_logging(const std::string& level, const std::string& format) {
    const auto lvl = parse_level(level);
    std::shared_ptr<spdlog::logger> logger;
    if (format == "json") {
        logger = std::make_shared<spdlog::logger>("", std::make_shared<JsonStderrSink>());
    } else if (format == "text" || format.empty()) {
        logger = std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    } else {
        throw std::invalid_argument("invalid log format \"" + format + "\": expected text or json");
    }
    logger->set_level(lvl);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

}  // namespace hs
