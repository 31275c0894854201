#include "common/base/secret_file.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "common/base/files.h"

namespace hs {
namespace {

// A password, a client secret or an HMAC key is a line; a larger file is the wrong file.
constexpr std::size_t kMaxSecretFile = 64 << 10;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::string expand_env_path(const std::string& key, const std::string& path) {
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '$') {
            out += path[i];
            continue;
        }
        std::string name;
        if (i + 1 < path.size() && path[i + 1] == '{') {
            const auto close = path.find('}', i + 2);
            if (close == std::string::npos) throw std::runtime_error(key + ": unclosed ${ in " + path);
            name = path.substr(i + 2, close - i - 2);
            i = close;
        } else {
            while (i + 1 < path.size() && name_char(path[i + 1])) name += path[++i];
        }
        const char* v = std::getenv(name.c_str());
        out += v ? v : "";
    }
    return out;
}

std::string read_secret_file(const std::string& key, const std::string& path) {
    const auto expanded = expand_env_path(key, path);
    std::string s;
    try {
        s = read_file(expanded, kMaxSecretFile);
    } catch (const FileError& e) {
        throw FileError(key + " " + e.what());
    }
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) throw FileError(key + " " + expanded + ": the file is empty");
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

}  // namespace hs
