#include "tools/hs-admin/output.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace hs::admin {
namespace {

void write_stdout(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw std::runtime_error("cannot write to standard output");
}

// Invalid UTF-8 (a client-chosen hostname, say) must not abort the whole listing.
std::string dump(const json& v, int indent) { return v.dump(indent, ' ', false, json::error_handler_t::replace); }

// A cell is one line of text with no empty value, so `grep` sees whole rows and `awk` fields
// stay in their columns.
std::string clean_cell(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (s.empty()) return "-";
    return s;
}

// Display width in code points: enough for names with accents; wide CJK glyphs may misalign.
std::size_t width(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string render_table(const json& items, const Columns& columns) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header;
    for (const auto& c : columns) header.push_back(c.header);
    rows.push_back(header);
    for (const auto& item : items) {
        std::vector<std::string> row;
        for (const auto& c : columns) row.push_back(clean_cell(c.cell(item)));
        rows.push_back(std::move(row));
    }
    std::vector<std::size_t> widths(columns.size(), 0);
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - width(row[i]) + 2, ' ');
        }
        out += line + "\n";
    }
    return out;
}

// Strings a YAML reader would take for a number, boolean, null or date are quoted, so
// "123" or "on" reads back as the same string; yaml-cpp only guards against syntax.
bool needs_quotes(const std::string& s) {
    if (s.empty()) return true;
    const char c = s[0];
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') return true;
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    static const char* const words[] = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"};
    return std::any_of(std::begin(words), std::end(words), [&](const char* w) { return lower == w; });
}

void emit(YAML::Emitter& out, const json& v) {
    switch (v.type()) {
        case json::value_t::null: out << YAML::Null; break;
        case json::value_t::boolean: out << v.get<bool>(); break;
        case json::value_t::number_integer: out << v.get<std::int64_t>(); break;
        case json::value_t::number_unsigned: out << v.get<std::uint64_t>(); break;
        case json::value_t::number_float: out << v.get<double>(); break;
        case json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            if (needs_quotes(s)) out << YAML::DoubleQuoted;
            out << s;
            break;
        }
        case json::value_t::array:
            if (v.empty()) out << YAML::Flow;
            out << YAML::BeginSeq;
            for (const auto& e : v) emit(out, e);
            out << YAML::EndSeq;
            break;
        case json::value_t::object:
            if (v.empty()) out << YAML::Flow;
            out << YAML::BeginMap;
            for (const auto& [k, e] : v.items()) {
                out << YAML::Key;
                if (needs_quotes(k)) out << YAML::DoubleQuoted;
                out << k << YAML::Value;
                emit(out, e);
            }
            out << YAML::EndMap;
            break;
        default: out << YAML::Null; break;
    }
}

std::string render_yaml(const json& v) {
    YAML::Emitter out;
    out.SetNullFormat(YAML::LowerNull);
    emit(out, v);
    if (!out.good()) throw std::runtime_error("cannot render YAML: " + out.GetLastError());
    return std::string(out.c_str()) + "\n";
}

std::string render_machine(Format f, const json& v) {
    switch (f) {
        case Format::pretty_json: return dump(v, 2) + "\n";
        case Format::yaml: return render_yaml(v);
        case Format::json_lines: {
            if (!v.is_array()) return dump(v, -1) + "\n";
            std::string out;
            for (const auto& e : v) out += dump(e, -1) + "\n";
            return out;
        }
        case Format::table: break;
    }
    return {};
}

}  // namespace

Format parse_format(std::string_view name) {
    if (name == "json") return Format::pretty_json;
    if (name == "json-line") return Format::json_lines;
    if (name == "yaml") return Format::yaml;
    return Format::table;
}

std::string cell(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "-";
        case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
        case json::value_t::string: return v.get<std::string>();
        case json::value_t::array: {
            std::string out;
            for (const auto& e : v) out += (out.empty() ? "" : ",") + cell(e);
            return out;
        }
        case json::value_t::object: return v.contains("name") ? cell(v["name"]) : dump(v, -1);
        default: return dump(v, -1);
    }
}

std::string time_cell(const json& v) {
    if (!v.is_string()) return "-";
    auto s = v.get<std::string>();
    if (s.size() == 20 && s[10] == 'T' && s[19] == 'Z') {
        s[10] = ' ';
        s.pop_back();
    }
    return s;
}

Column field(std::string header, std::string key) {
    return {std::move(header), [key = std::move(key)](const json& o) { return cell(o.value(key, json())); }};
}

Column time_field(std::string header, std::string key) {
    return {std::move(header), [key = std::move(key)](const json& o) { return time_cell(o.value(key, json())); }};
}

JsonListWriter::JsonListWriter(Format f) : f_(f) {}

void JsonListWriter::add(const json& item) {
    if (f_ == Format::json_lines) {
        out_ += dump(item, -1);
        out_ += '\n';
    } else {
        out_ += count_ ? ",\n  " : "[\n  ";
        one_ = dump(item, 2);
        for (char c : one_) {
            out_ += c;
            if (c == '\n') out_ += "  ";
        }
    }
    ++count_;
    if (out_.size() > (1u << 16)) {
        write_stdout(out_);
        out_.clear();
    }
}

void JsonListWriter::finish() {
    if (f_ == Format::pretty_json) out_ += count_ ? "\n]\n" : "[]\n";
    write_stdout(out_);
    out_.clear();
}

void write_json_list(Format f, const json& items) {
    JsonListWriter w(f);
    for (const auto& item : items) w.add(item);
    w.finish();
}

void print_list(Format f, const json& items, const Columns& columns) {
    if (f == Format::table) return write_stdout(render_table(items, columns));
    if (f == Format::yaml) return write_stdout(render_machine(f, items));
    write_json_list(f, items);
}

void print_object(Format f, const json& obj, const Columns& columns) {
    write_stdout(f == Format::table ? render_table(json::array({obj}), columns) : render_machine(f, obj));
}

void print_text(Format f, const json& obj, const std::string& text) {
    write_stdout(f == Format::table ? text + "\n" : render_machine(f, obj));
}

void print_error(Format f, const std::string& msg) {
    if (f == Format::table) return;
    try {
        write_stdout(render_machine(f, json{{"error", msg}}));
    } catch (const std::exception&) {
        // stdout is gone; stderr still carries the message.
    }
}

}  // namespace hs::admin
