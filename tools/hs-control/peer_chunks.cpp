#include "tools/hs-control/peer_chunks.h"

#include "common/control/mapframe.h"
#include "tools/hs-control/mapper.h"

namespace hs::control {

void append_peer(std::string& out, bool& opened, std::string_view peer_json) {
    if (opened) {
        out += ',';
    } else {
        out += kPeersOpen;
        opened = true;
    }
    out += peer_json;
}

std::shared_ptr<const std::string> PeerChunks::get(std::int64_t k, bool opens,
                                                   const std::function<void(std::string&, bool opened)>& render) {
    auto& piece = cache_[k];
    auto& slot = opens ? piece.opening : piece.continuing;
    if (!slot) {
        std::string text;
        render(text, !opens);
        slot = std::make_shared<const std::string>(zstd_frame(text));
    }
    return slot;
}

}  // namespace hs::control
