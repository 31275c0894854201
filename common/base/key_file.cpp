#include "common/base/key_file.h"

#include <unistd.h>

#include <stdexcept>

#include "common/base/files.h"

namespace hs {

std::optional<PrivateKey> load_key_file_if_present(const std::string& path) {
    if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
    check_private_file(path);
    try {
        return parse_private_key_file(read_file(path));
    } catch (const KeyError& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

PrivateKey load_or_create_key_file(const std::string& path, bool* created) {
    if (created) *created = false;
    if (auto k = load_key_file_if_present(path)) return *k;
    const auto k = PrivateKey::generate();
    make_private_dirs(path);
    write_file_atomic(path, k.text() + "\n", 0600, false);
    if (created) *created = true;
    return k;
}

}  // namespace hs
