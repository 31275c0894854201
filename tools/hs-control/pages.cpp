#include "tools/hs-control/pages.h"

#include <nlohmann/json.hpp>

namespace hs::control {

std::string page(const std::string& title, const std::string& body) {
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
           "content=\"width=device-width, initial-scale=1\"><title>" +
           html_escape(title) +
           "</title><style>body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}"
           "pre{background:#f4f4f4;padding:.8em;overflow-x:auto}</style></head><body>\n<h1>" +
           html_escape(title) + "</h1>\n" + body + "\n</body></html>\n";
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string key_json(const std::string& noise_public_text) {
    return nlohmann::json{{"legacyPublicKey", "mkey:" + std::string(64, '0')}, {"publicKey", noise_public_text}}.dump();
}

std::string register_command(const std::string& auth_id) {
    return "hs-admin nodes register --user USERNAME --key " + auth_id;
}

std::string register_page(const std::string& auth_id, const std::optional<AuthRequest>& req) {
    if (!req) {
        return page(
            "Unknown registration",
            "<p>No login request <code>" + html_escape(auth_id) +
                "</code> is waiting. It may have expired: run <code>tailscale up</code> again for a new link.</p>");
    }
    std::string body = "<p>The device <b>" + html_escape(req->hostname) + "</b> asks to join this tailnet.</p>\n";
    if (req->status != "pending") {
        body += "<p>This request has already been " + html_escape(req->status) + ".</p>";
        return page("Device registration", body);
    }
    body += "<p>An administrator lets it in by running, on the server:</p>\n<pre>" +
            html_escape(register_command(auth_id)) + "</pre>\n" + "<p>Node key: <code>" + html_escape(req->node_key) +
            "</code><br>The request expires at " + html_escape(format_time(req->expires_at)) + ".</p>";
    return page("Device registration", body);
}

std::string apple_page(const std::string& server_url) {
    const auto u = html_escape(server_url);
    return page("Tailscale on macOS and iOS with this server",
                "<h2>macOS (App Store or standalone app)</h2>\n<ol><li>Quit Tailscale.</li>"
                "<li>In a terminal run:<pre>defaults write io.tailscale.ipn.macos ControlURL " +
                    u +
                    "</pre>(standalone app: <code>io.tailscale.ipn.macsys</code>)</li>"
                    "<li>Start Tailscale and log in.</li></ol>\n"
                    "<h2>macOS command line</h2><pre>tailscale up --login-server " +
                    u +
                    "</pre>\n<h2>iOS</h2><ol><li>Open Settings &gt; Tailscale and turn on <i>Use alternate "
                    "coordination server</i> (or, in the app, "
                    "tap the account menu &gt; <i>Use custom control server</i>).</li><li>Enter <code>" +
                    u + "</code> and log in.</li></ol>");
}

std::string windows_page(const std::string& server_url) {
    const auto u = html_escape(server_url);
    return page(
        "Tailscale on Windows with this server",
        "<ol><li>Install Tailscale for Windows.</li><li>In PowerShell or cmd run:<pre>tailscale login --login-server " +
            u + "</pre></li><li>Or set it for every user with the registry value <code>LoginURL</code> = <code>" + u +
            "</code> under <code>HKLM\\SOFTWARE\\Tailscale IPN</code>, then restart the Tailscale service.</li></ol>");
}

}  // namespace hs::control
