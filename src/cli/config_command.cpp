// `nmt config`: the config keys as the field tables of common/config.cpp describe them.

#include <cstdio>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/config.h"

namespace nmt::cli {

void setup_config(CLI::App& app, ConfigArgs& args) {
  CLI::Option* describe =
      app.add_flag("--describe", args.describe, "Print every key with its type, default and meaning");
  CLI::Option* markdown =
      app.add_flag("--markdown", args.markdown, "With --describe: print README's key table (markdown)");
  CLI::Option* check = app.add_option("--check", args.check, "Validate a config file (exit 0, or 2 naming the key)");
  CLI::Option* defaults = app.add_flag("--defaults", args.defaults, "Print the default config as JSON");
  markdown->needs(describe);
  describe->excludes(check)->excludes(defaults);
  check->excludes(defaults);
  app.footer("Examples: nmt config --describe\n          nmt config --check configs/transformer.json");
}

int run_config(const ConfigArgs& args) {
  if (args.describe) {
    const std::string text = args.markdown ? common::describe_markdown() : common::describe_text();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (!args.check.empty()) {
    common::load_config(args.check);
    spdlog::info("[config] {}: valid", args.check);
    return 0;
  }
  if (args.defaults) {
    std::printf("%s\n", common::Config{}.to_json().dump(2).c_str());
    return 0;
  }
  throw std::invalid_argument("nmt config: give --describe [--markdown], --check FILE or --defaults");
}

}  // namespace nmt::cli
