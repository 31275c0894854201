#include "common/base/cli.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "common/base/duration.h"
#include "common/base/log.h"

namespace hs {

void add_common_flags(CLI::App& app, CommonFlags& flags) {
    app.set_version_flag("--version", app.get_name() + " " + HS_VERSION);
    app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error or off")->capture_default_str();
    app.add_option("--log-format", flags.log_format, "text or json (one object per line on stderr)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
}

CLI::Validator duration_validator() {
    return CLI::Validator(
        [](const std::string& v) {
            try {
                parse_duration(v);
                return std::string();
            } catch (const DurationError& e) {
                return std::string(e.what());
            }
        },
        "DURATION");
}

int run_main(CLI::App& app, CommonFlags& flags, int argc, char** argv, const std::function<int()>& body) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
        std::fprintf(stderr, "Run '%s --help' for usage.\n", app.get_name().c_str());
        return 2;
    }
    try {
        setup_logging(flags.log_level, flags.log_format);
        return body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
        return 1;
    }
}

std::vector<std::string> split_comma_list(const std::string& list) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= list.size()) {
        const auto comma = std::min(list.find(',', pos), list.size());
        if (comma > pos) out.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return out;
}

}  // namespace hs
