#include "common/base/hujson.h"

namespace hs {
namespace {

std::string where(std::string_view text, std::size_t pos) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace

std::string hujson_standardize(std::string_view text) {
    std::string out(text);
    std::size_t i = 0;
    std::size_t comma = std::string::npos;  // a comma that is trailing if a bracket comes next
    auto blank = [&](std::size_t from, std::size_t to) {
        for (std::size_t k = from; k < to; ++k)
            if (out[k] != '\n') out[k] = ' ';
    };
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            const std::size_t start = i++;
            while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
            if (i >= text.size()) throw HujsonError(where(text, start) + ": unterminated string");
            ++i;
            comma = std::string::npos;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            const auto end = text.find('\n', i);
            const auto stop = end == std::string_view::npos ? text.size() : end;
            blank(i, stop);
            i = stop;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            const auto end = text.find("*/", i + 2);
            if (end == std::string_view::npos) throw HujsonError(where(text, i) + ": unterminated /* comment");
            blank(i, end + 2);
            i = end + 2;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            ++i;
        } else {
            if ((c == ']' || c == '}') && comma != std::string::npos) out[comma] = ' ';
            comma = c == ',' ? i : std::string::npos;
            ++i;
        }
    }
    return out;
}

nlohmann::json parse_hujson(std::string_view text) {
    const auto std_text = hujson_standardize(text);
    try {
        return nlohmann::json::parse(std_text);
    } catch (const nlohmann::json::parse_error& e) {
        // nlohmann's message repeats the position in its own words; keep only the reason.
        std::string what = e.what();
        if (const auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
        const auto pos = e.byte > 0 ? e.byte - 1 : 0;
        throw HujsonError(where(text, pos) + ": " + what);
    }
}

}  // namespace hs
