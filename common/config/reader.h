// Internal to the config loader: typed reads of one YAML value that record errors instead of
// throwing, so one load reports every problem at once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config/config.h"

namespace hs::config_detail {

struct Problems {
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};

class Reader {
public:
    Reader(const YAML::Node& node, std::string key, std::string where, std::string base_dir, Problems& problems)
        : node_(node), key_(std::move(key)), where_(std::move(where)), base_dir_(std::move(base_dir)), p_(problems) {}

    std::string str();
    std::string path();  // a file path, resolved against the config file's directory
    bool boolean();
    int integer(int min, int max);
    Millis duration();
    std::vector<std::string> list();
    std::vector<std::string> path_list();
    std::map<std::string, std::string> str_map();
    std::map<std::string, std::vector<std::string>> list_map();
    std::vector<DnsRecord> records();
    std::vector<Webhook> webhooks();

    // Records "where: key: message" as an error.
    void error(const std::string& message);
    const std::string& where() const { return where_; }

private:
    bool scalar(std::string& out, const char* expected);
    std::string resolve(const std::string& p) const;

    const YAML::Node& node_;
    std::string key_;
    std::string where_;
    std::string base_dir_;
    Problems& p_;
};

}  // namespace hs::config_detail
