#include "common/config/reader.h"

#include <charconv>

#include "common/base/duration.h"

namespace hs::config_detail {

void Reader::error(const std::string& message) { p_.errors.push_back(where_ + ": " + key_ + ": " + message); }

std::string Reader::resolve(const std::string& p) const {
    if (p.empty() || p.front() == '/' || base_dir_.empty()) return p;
    return base_dir_ + "/" + p;
}

bool Reader::scalar(std::string& out, const char* expected) {
    if (node_.IsNull()) {
        out.clear();
        return true;
    }
    if (!node_.IsScalar()) {
        error(std::string("expected ") + expected + ", got a " + (node_.IsSequence() ? "list" : "mapping"));
        return false;
    }
    out = node_.Scalar();
    return true;
}

std::string Reader::str() {
    std::string s;
    scalar(s, "a string");
    return s;
}

std::string Reader::path() { return resolve(str()); }

bool Reader::boolean() {
    std::string s;
    if (!scalar(s, "true or false")) return false;
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off" || s.empty()) return false;
    error("expected true or false, got \"" + s + "\"");
    return false;
}

int Reader::integer(int min, int max) {
    std::string s;
    if (!scalar(s, "an integer")) return min;
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        error("expected an integer, got \"" + s + "\"");
        return min;
    }
    if (v < min || v > max) {
        error("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
        return min;
    }
    return v;
}

Millis Reader::duration() {
    std::string s;
    if (!scalar(s, "a duration")) return Millis{0};
    if (s.empty()) return Millis{0};
    try {
        return parse_duration(s);
    } catch (const DurationError& e) {
        error(e.what());
        return Millis{0};
    }
}

std::vector<std::string> Reader::list() {
    std::vector<std::string> out;
    if (node_.IsNull()) return out;
    if (!node_.IsSequence()) {
        error("expected a list");
        return out;
    }
    for (const auto& item : node_) {
        if (!item.IsScalar()) {
            error("expected a list of strings");
            return {};
        }
        out.push_back(item.Scalar());
    }
    return out;
}

std::vector<std::string> Reader::path_list() {
    auto out = list();
    for (auto& p : out) p = resolve(p);
    return out;
}

std::map<std::string, std::string> Reader::str_map() {
    std::map<std::string, std::string> out;
    if (node_.IsNull()) return out;
    if (!node_.IsMap()) {
        error("expected a mapping of strings");
        return out;
    }
    for (const auto& kv : node_) {
        if (!kv.first.IsScalar()) {
            error("keys must be plain strings");
            continue;
        }
        if (!kv.second.IsScalar()) {
            error("expected a mapping of strings; \"" + kv.first.as<std::string>() + "\" is not a string");
            continue;
        }
        out[kv.first.as<std::string>()] = kv.second.Scalar();
    }
    return out;
}

std::map<std::string, std::vector<std::string>> Reader::list_map() {
    std::map<std::string, std::vector<std::string>> out;
    if (node_.IsNull()) return out;
    if (!node_.IsMap()) {
        error("expected a mapping from domain to a list of nameservers");
        return out;
    }
    for (const auto& kv : node_) {
        if (!kv.first.IsScalar()) {
            error("keys must be plain strings");
            continue;
        }
        const auto name = kv.first.Scalar();
        if (!kv.second.IsSequence()) {
            error("\"" + name + "\": expected a list of nameservers");
            continue;
        }
        auto& v = out[name];
        for (const auto& item : kv.second) {
            if (!item.IsScalar()) {
                error("\"" + name + "\": expected a list of strings");
                break;
            }
            v.push_back(item.Scalar());
        }
    }
    return out;
}

std::vector<DnsRecord> Reader::records() {
    std::vector<DnsRecord> out;
    if (node_.IsNull()) return out;
    if (!node_.IsSequence()) {
        error("expected a list of {name, type, value} records");
        return out;
    }
    for (const auto& item : node_) {
        if (!item.IsMap() || !item["name"] || !item["type"] || !item["value"] || !item["name"].IsScalar() ||
            !item["type"].IsScalar() || !item["value"].IsScalar()) {
            error("each record needs string fields name, type and value");
            continue;
        }
        out.push_back({item["name"].Scalar(), item["type"].Scalar(), item["value"].Scalar()});
    }
    return out;
}

std::vector<Webhook> Reader::webhooks() {
    std::vector<Webhook> out;
    if (node_.IsNull()) return out;
    if (!node_.IsSequence()) {
        error("expected a list of {url, secret_path, events, timeout}");
        return out;
    }
    for (const auto& item : node_) {
        if (!item.IsMap() || !item["url"] || !item["url"].IsScalar() || !item["secret_path"] ||
            !item["secret_path"].IsScalar()) {
            error("each webhook needs string fields url and secret_path");
            continue;
        }
        Webhook w;
        for (const auto& kv : item) {
            const auto k = kv.first.as<std::string>();
            if (k != "url" && k != "secret_path" && k != "events" && k != "timeout")
                error("webhook field " + k + " is not known (url, secret_path, events, timeout)");
        }
        w.url = item["url"].Scalar();
        if (w.url.rfind("http://", 0) != 0 && w.url.rfind("https://", 0) != 0)
            error("webhook url " + w.url + ": expected an http:// or https:// URL");
        else if (const auto h = w.url.find("://") + 3; h >= w.url.size() || w.url[h] == '/')
            error("webhook url " + w.url + ": no host");
        w.secret_path = resolve(item["secret_path"].Scalar());
        if (item["events"]) w.events = Reader(item["events"], key_ + ".events", where_, base_dir_, p_).list();
        if (item["timeout"]) {
            w.timeout = Reader(item["timeout"], key_ + ".timeout", where_, base_dir_, p_).duration();
            if (w.timeout.count() <= 0) error("webhook timeout must be more than 0");
        }
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace hs::config_detail
