#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "common/base/log.h"

using namespace hs;
using Catch::Contains;

namespace {

// What setup_logging's logger writes to stderr while `body` runs; the default logger is put
// back afterwards so other tests log as before.
template <class F>
std::string logged(const std::string& format, F body) {
    const auto previous = spdlog::default_logger();
    std::FILE* tmp = std::tmpfile();
    REQUIRE(tmp);
    std::fflush(stderr);
    const int saved = ::dup(2);
    ::dup2(::fileno(tmp), 2);
    setup_logging("info", format);
    body();
    spdlog::default_logger()->flush();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    spdlog::set_default_logger(previous);
    std::string out;
    std::rewind(tmp);
    char buf[4096];
    while (const auto n = std::fread(buf, 1, sizeof buf, tmp)) out.append(buf, n);
    std::fclose(tmp);
    return out;
}

std::size_t lines(const std::string& s) {
    std::size_t n = 0;
    for (const char c : s) n += c == '\n';
    return n;
}

const std::string kForged = "evil\n2026-01-01T00:00:00.000Z info  registered node 1 (admin)\r\x1b[2K";

}  // namespace

TEST_CASE("escape_control spells out control bytes and keeps the rest") {
    CHECK(escape_control("plain text, ünïcode") == "plain text, ünïcode");
    CHECK(escape_control("a\nb\rc\td") == "a\\nb\\rc\\td");
    CHECK(escape_control(std::string("\x1b[31m\x7f\x00", 7)) == "\\x1b[31m\\x7f\\x00");
}

TEST_CASE("a text log line cannot be forged with a newline in a value") {
    const auto out = logged("text", [] { spdlog::info("registration of {} refused", kForged); });
    CHECK(lines(out) == 1);
    CHECK_THAT(out, Contains("evil\\n2026-01-01T00:00:00.000Z info  registered node 1 (admin)\\r\\x1b[2K refused"));
    CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("a JSON log line stays one valid object with the same escaped text") {
    const auto out = logged("json", [] {
        spdlog::warn("registration of {} refused", kForged);
        spdlog::info("second");
    });
    REQUIRE(lines(out) == 2);
    const auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
    CHECK(first["level"] == "warning");
    CHECK(first["msg"] ==
          "registration of evil\\n2026-01-01T00:00:00.000Z info  registered node 1 (admin)\\r\\x1b[2K refused");
    CHECK(nlohmann::json::parse(out.substr(out.find('\n') + 1))["msg"] == "second");
}

TEST_CASE("LogLimiter lets one line a second through per reason and counts the rest") {
    LogLimiter limiter;
    const LogLimiter::Clock::time_point t0{};
    using std::chrono::milliseconds;
    CHECK(limiter.allow("wrong key", t0) == std::optional<std::uint64_t>(0));
    for (int i = 1; i <= 999; ++i) CHECK_FALSE(limiter.allow("wrong key", t0 + milliseconds(i)).has_value());
    CHECK(limiter.allow("expired key", t0 + milliseconds(10)) == std::optional<std::uint64_t>(0));
    CHECK(limiter.allow("wrong key", t0 + milliseconds(1000)) == std::optional<std::uint64_t>(999));
    CHECK_FALSE(limiter.allow("wrong key", t0 + milliseconds(1500)).has_value());
    CHECK(limiter.allow("wrong key", t0 + milliseconds(5000)) == std::optional<std::uint64_t>(1));
    CHECK(suppressed_note(0).empty());
    CHECK(suppressed_note(1) == " (1 similar line suppressed)");
    CHECK(suppressed_note(999) == " (999 similar lines suppressed)");
}
