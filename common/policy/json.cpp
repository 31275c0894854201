#include "common/policy/json.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace hs::policy {
namespace {

struct Parser {
    std::string_view s;
    std::size_t i = 0;
    int line = 1;
    std::size_t line_start = 0;
    JsonSyntaxError err;
    bool failed = false;

    Pos here() const { return {line, static_cast<int>(i - line_start) + 1}; }

    bool fail(std::string msg) {
        if (!failed) {
            failed = true;
            err = {here(), std::move(msg)};
        }
        return false;
    }

    void advance() {
        if (s[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
        ++i;
    }

    // Whitespace and both comment styles; false on an unterminated block comment.
    bool skip_space() {
        while (i < s.size()) {
            char c = s[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                advance();
            } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
                while (i < s.size() && s[i] != '\n') advance();
            } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
                advance();
                advance();
                while (i + 1 < s.size() && !(s[i] == '*' && s[i + 1] == '/')) advance();
                if (i + 1 >= s.size()) return fail("unterminated comment");
                advance();
                advance();
            } else {
                break;
            }
        }
        return true;
    }

    static void put_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(std::uint32_t& v) {
        v = 0;
        for (int k = 0; k < 4; ++k) {
            if (i >= s.size()) return fail("unterminated string");
            char c = s[i];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0) return fail("bad \\u escape");
            v = v * 16 + static_cast<std::uint32_t>(d);
            advance();
        }
        return true;
    }

    bool escape(std::string& out) {
        char c = s[i];
        advance();
        switch (c) {
            case '"': out += '"'; return true;
            case '\\': out += '\\'; return true;
            case '/': out += '/'; return true;
            case 'b': out += '\b'; return true;
            case 'f': out += '\f'; return true;
            case 'n': out += '\n'; return true;
            case 'r': out += '\r'; return true;
            case 't': out += '\t'; return true;
            case 'u': break;
            default: return fail("bad escape in string");
        }
        std::uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            advance();
            advance();
            std::uint32_t lo = 0;
            if (!hex4(lo)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_utf8(out, cp);
        return true;
    }

    // Strict UTF-8 (no overlongs, no surrogates): every string must survive being sent on as
    // JSON, and a policy is text.
    static bool valid_utf8(const std::string& t) {
        for (std::size_t k = 0; k < t.size();) {
            auto c = static_cast<unsigned char>(t[k]);
            std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (n == 0 || k + n > t.size()) return false;
            std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
            for (std::size_t j = 1; j < n; ++j) {
                auto d = static_cast<unsigned char>(t[k + j]);
                if ((d >> 6) != 2) return false;
                cp = (cp << 6) | (d & 0x3F);
            }
            static const std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min_for_len[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
            k += n;
        }
        return true;
    }

    bool string(std::string& out) {
        Pos start = here();
        if (!raw_string(out)) return false;
        if (!valid_utf8(out)) {
            failed = true;
            err = {start, "string is not valid UTF-8"};
            return false;
        }
        return true;
    }

    bool raw_string(std::string& out) {
        advance();  // opening quote
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') {
                advance();
                if (i >= s.size()) break;
                if (!escape(out)) return false;
            } else if (s[i] == '\n') {
                return fail("newline in string");
            } else {
                out += s[i];
                advance();
            }
        }
        if (i >= s.size()) return fail("unterminated string");
        advance();
        return true;
    }

    bool literal(std::string_view word) {
        if (s.substr(i, word.size()) != word) return fail("invalid value");
        for (std::size_t k = 0; k < word.size(); ++k) advance();
        return true;
    }

    std::size_t digits() {
        std::size_t n = 0;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++n) advance();
        return n;
    }

    // JSON's number grammar exactly, and only values a double can hold, so every number can
    // be passed on as JSON again.
    bool number(JValue& v) {
        std::size_t start = i;
        if (i < s.size() && s[i] == '-') advance();
        bool lead_zero = i < s.size() && s[i] == '0';
        std::size_t int_digits = digits();
        if (int_digits == 0 || (lead_zero && int_digits > 1)) return fail("invalid value");
        if (i < s.size() && s[i] == '.') {
            advance();
            if (digits() == 0) return fail("invalid number");
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            advance();
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) advance();
            if (digits() == 0) return fail("invalid number");
        }
        v.kind = JValue::Kind::number;
        v.text = std::string(s.substr(start, i - start));
        if (std::isinf(std::strtod(v.text.c_str(), nullptr))) return fail("number out of range");
        return true;
    }

    // The elements of an array or object up to `close`, a trailing comma allowed (HuJSON);
    // `element` parses one.
    template <class Fn>
    bool sequence(char close, const char* what, Fn element) {
        advance();
        for (;;) {
            if (!skip_space()) return false;
            if (i >= s.size()) return fail(std::string("unterminated ") + what);
            if (s[i] == close) break;
            if (!element() || !skip_space()) return false;
            if (i < s.size() && s[i] == ',') {
                advance();
                continue;
            }
            if (i >= s.size() || s[i] != close) return fail(std::string("expected ',' or '") + close + "'");
        }
        advance();
        return true;
    }

    bool array(JValue& v, int depth) {
        v.kind = JValue::Kind::array;
        return sequence(']', "array", [&] {
            v.items.emplace_back();
            return value(v.items.back(), depth + 1);
        });
    }

    bool object(JValue& v, int depth) {
        v.kind = JValue::Kind::object;
        return sequence('}', "object", [&] {
            if (s[i] != '"') return fail("expected a string key");
            Pos kp = here();
            std::string key;
            if (!string(key) || !skip_space()) return false;
            if (i >= s.size() || s[i] != ':') return fail("expected ':'");
            advance();
            v.members.push_back(JMember{std::move(key), JValue{}});
            v.key_pos.push_back(kp);
            return value(v.members.back().second, depth + 1);
        });
    }

    bool value(JValue& v, int depth) {
        if (depth > 64) return fail("nested too deeply");
        if (!skip_space()) return false;
        if (i >= s.size()) return fail("unexpected end of input");
        v.pos = here();
        switch (s[i]) {
            case '{': return object(v, depth);
            case '[': return array(v, depth);
            case '"': v.kind = JValue::Kind::string; return string(v.text);
            case 't':
                v.kind = JValue::Kind::boolean;
                v.b = true;
                return literal("true");
            case 'f': v.kind = JValue::Kind::boolean; return literal("false");
            case 'n': return literal("null");
            default: return number(v);
        }
    }
};

void quote(std::string& out, const std::string& str) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : str) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

void write(std::string& out, const JValue& v) {
    switch (v.kind) {
        case JValue::Kind::null: out += "null"; break;
        case JValue::Kind::boolean: out += v.b ? "true" : "false"; break;
        case JValue::Kind::number: out += v.text; break;
        case JValue::Kind::string: quote(out, v.text); break;
        case JValue::Kind::array:
            out += '[';
            for (std::size_t k = 0; k < v.items.size(); ++k) {
                if (k) out += ',';
                write(out, v.items[k]);
            }
            out += ']';
            break;
        case JValue::Kind::object:
            out += '{';
            for (std::size_t k = 0; k < v.members.size(); ++k) {
                if (k) out += ',';
                quote(out, v.members[k].first);
                out += ':';
                write(out, v.members[k].second);
            }
            out += '}';
            break;
    }
}

}  // namespace

bool parse_hujson_tree(std::string_view text, JValue& out, JsonSyntaxError& err) {
    Parser p{text};
    out = JValue{};
    bool ok = p.value(out, 0) && p.skip_space();
    if (ok && p.i < text.size()) ok = p.fail("unexpected text after the document");
    if (!ok) err = p.err;
    return ok;
}

std::string to_json_text(const JValue& v) {
    std::string out;
    write(out, v);
    return out;
}

}  // namespace hs::policy
