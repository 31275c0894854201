#include "common/base/prometheus.h"

namespace hs::prometheus {

std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void Writer::family(std::string_view name, std::string_view type, std::string_view help) {
    // HELP text escapes only backslash and newline; quotes stay as they are.
    std::string h;
    for (const char c : help) {
        if (c == '\\') h += "\\\\";
        else if (c == '\n') h += "\\n";
        else h += c;
    }
    out_.append("# HELP ").append(name).append(" ").append(h).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Writer::line(std::string_view name, Labels labels, const std::string& value) {
    out_.append(name);
    if (labels.size() != 0) {
        out_ += '{';
        bool first = true;
        for (const auto& [k, v] : labels) {
            if (!first) out_ += ',';
            first = false;
            out_.append(k).append("=\"").append(escape_label(v)).append("\"");
        }
        out_ += '}';
    }
    out_.append(" ").append(value).append("\n");
}

}  // namespace hs::prometheus
