#include <catch2/catch.hpp>

#include "common/base/prometheus.h"

TEST_CASE("prometheus: label values escape backslash, quote and newline") {
    CHECK(hs::prometheus::escape_label("plain") == "plain");
    CHECK(hs::prometheus::escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("prometheus: families, unlabelled and labelled samples") {
    hs::prometheus::Writer w;
    w.counter("x_total", "Things.", std::uint64_t{3});
    w.gauge("y", "A \"level\"\nhere.", 2);
    w.family("z_total", "counter", "By reason.");
    w.sample("z_total", 5u, {{"reason", "a\"b"}, {"peer", "h"}});
    CHECK(w.take() ==
          "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
          "# HELP y A \"level\"\\nhere.\n# TYPE y gauge\ny 2\n"
          "# HELP z_total By reason.\n# TYPE z_total counter\nz_total{reason=\"a\\\"b\",peer=\"h\"} 5\n");
}
