// Prometheus text exposition (version 0.0.4): the one writer behind every /metrics body, so
// HELP/TYPE lines and label escaping are right everywhere.
#pragma once

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace hs::prometheus {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// A label value with backslash, double quote and newline escaped as the format requires.
std::string escape_label(std::string_view value);

class Writer {
public:
    // A family's "# HELP" and "# TYPE" lines; its samples follow with sample().
    void family(std::string_view name, std::string_view type, std::string_view help);
    // One line `name{labels} value`.
    template <class T>
    requires std::integral<T> || std::floating_point<T>
    void sample(std::string_view name, T value, Labels labels = {}) { line(name, labels, std::to_string(value)); }
    // A family of one unlabelled sample.
    template <class T>
    void counter(std::string_view name, std::string_view help, T value) {
        family(name, "counter", help);
        sample(name, value);
    }
    template <class T>
    void gauge(std::string_view name, std::string_view help, T value) {
        family(name, "gauge", help);
        sample(name, value);
    }

    std::string take() { return std::move(out_); }

private:
    void line(std::string_view name, Labels labels, const std::string& value);
    std::string out_;
};

}  // namespace hs::prometheus
