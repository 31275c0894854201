#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "common/admin/webhook.h"

using namespace hs::admin;
using namespace std::chrono_literals;

TEST_CASE("webhook signature: HMAC-SHA256 of timestamp.body, RFC 4231 test case 7 (key longer than a block)") {
    // The RFC's data contains a '.', so it splits into our "<timestamp>.<body>" exactly.
    const std::string key(131, '\xaa');
    CHECK(webhook_signature(key, "This is a test using a larger than block-size key and a larger than block-size data",
                            " The key needs to be hashed before being used by the HMAC algorithm.") ==
          "sha256=9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_CASE("webhook signature: the timestamp and every body byte are signed") {
    // Python: hmac.new(b"s3cret", b'1700000000.{"event":"node.registered"}', "sha256").hexdigest()
    const auto sig = webhook_signature("s3cret", "1700000000", R"({"event":"node.registered"})");
    CHECK(sig == "sha256=8811be90c97543af714d22fcae7827efe0b3dbf928dfa8556164c1b8c958e744");
    CHECK(webhook_signature("s3cret", "1700000001", R"({"event":"node.registered"})") != sig);
    CHECK(webhook_signature("s3cret", "1700000000", R"({"event":"node.registered" })") != sig);
    CHECK(webhook_signature("s3creT", "1700000000", R"({"event":"node.registered"})") != sig);
}

TEST_CASE("webhook retries: 1 s doubling, capped at 10 min, given up after 24 h") {
    CHECK(webhook_retry_delay(1) == 1s);
    CHECK(webhook_retry_delay(2) == 2s);
    CHECK(webhook_retry_delay(5) == 16s);
    CHECK(webhook_retry_delay(10) == 512s);
    CHECK(webhook_retry_delay(11) == 600s);
    CHECK(webhook_retry_delay(1000000) == 600s);
    // Waits before the give-up: 1+2+...+512 = 1023 s in 10, then 600 s each: 153 in all.
    std::chrono::seconds total{0};
    int tries = 0;
    while (total < kGiveUpAfter) total += webhook_retry_delay(++tries);
    CHECK(tries == 153);
}

TEST_CASE("webhook filter: empty wants everything, a list only its names") {
    CHECK(webhook_wants({}, "node.registered"));
    CHECK(webhook_wants({"signin.locked", "node.registered"}, "node.registered"));
    CHECK_FALSE(webhook_wants({"signin.locked"}, "node.registered"));
}

TEST_CASE("webhook secret: surrounding whitespace dropped, missing or empty file refused with its name") {
    const auto dir = std::filesystem::temp_directory_path() / ("hs-webhook-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto p = (dir / "secret").string();
    std::ofstream(p) << "abc def\n";
    CHECK(read_webhook_secret(p) == "abc def");
    std::ofstream(p) << "\n";
    CHECK_THROWS_WITH(read_webhook_secret(p), Catch::Contains("empty") && Catch::Contains(p));
    CHECK_THROWS_WITH(read_webhook_secret((dir / "none").string()), Catch::Contains("cannot open"));
    std::filesystem::remove_all(dir);
}
