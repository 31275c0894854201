// How hs-admin prints: every noun builds plain JSON values (the stable shapes documented in
// docs/json.md), and this file turns them into a table, JSON, JSON lines or YAML. Tables are
// derived from the same values, so the human and the machine views cannot disagree.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/admin/json.h"

namespace hs::admin {

enum class Format { table, pretty_json, json_lines, yaml };

inline constexpr const char* kFormats[] = {"table", "json", "json-line", "yaml"};
Format parse_format(std::string_view name);

// A table column: its header and how one object becomes one cell.
struct Column {
    std::string header;
    std::function<std::string(const json&)> cell;
};
using Columns = std::vector<Column>;

// The generic cell of a value: "-" for null or empty, true/false, lists joined with ",", a user
// object by its name.
std::string cell(const json& v);
// An RFC 3339 string as "YYYY-MM-DD HH:MM:SS" (UTC), "-" for null.
std::string time_cell(const json& v);
// Columns that show one field with the generic cell or as a time.
Column field(std::string header, std::string key);
Column time_field(std::string header, std::string key);

// A JSON list (Format::pretty_json or json_lines) written one element at a time, with the bytes
// of dump(2) of the whole array (or one compact object per line): a 10,000-node listing never
// exists as one string, and output starts at once.
class JsonListWriter {
public:
    explicit JsonListWriter(Format f);
    void add(const json& item);
    void finish();

private:
    Format f_;
    std::string out_, one_;
    std::size_t count_ = 0;
};
void write_json_list(Format f, const json& items);

// Lists: a table, a bare JSON array, one compact object per line, or a YAML sequence.
void print_list(Format f, const json& items, const Columns& columns);
// One object: a one-row table, or the object itself.
void print_object(Format f, const json& obj, const Columns& columns);
// One object whose human form is a sentence (or a bare value such as a new key).
void print_text(Format f, const json& obj, const std::string& text);
// {"error": msg} on stdout in the machine formats; nothing in table mode (stderr carries it).
void print_error(Format f, const std::string& msg);

}  // namespace hs::admin
