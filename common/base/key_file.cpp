#include "common/base/key_file.h"

#include <unistd.h>

#include <stdexcept>

#include "common/base/files.h"

namespace hs {

PrivateKey load_or_create_key_file(const std::string& path, bool* created) {
    if (created) *created = false;
    if (::access(path.c_str(), F_OK) != 0) {
        const auto k = PrivateKey::generate();
        write_file_atomic(path, k.text() + "\n", 0600, false);
        if (created) *created = true;
        return k;
    }
    check_private_file(path);
    try {
        return parse_private_key_file(read_file(path));
    } catch (const KeyError& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

}  // namespace hs
