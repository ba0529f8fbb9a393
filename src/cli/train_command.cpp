#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/config.h"
#include "plot/training_curves.h"
#include "train/trainer.h"

namespace nmt::cli {

void setup_train(CLI::App& app, TrainArgs& args) {
  app.add_option("-c,--config", args.config, "JSON config file (see configs/)");
  app.add_option("-o,--output", args.output, "Run directory (default: runs/<config name>)");
  app.add_flag("--resume", args.resume, "Continue the run in --output from its latest checkpoint");
  app.add_flag("--overwrite", args.overwrite, "Replace a run already in --output");
  app.add_option("--epochs", args.epochs, "Override train.num_epochs")->check(CLI::PositiveNumber);
  app.add_option("--max-minutes", args.max_minutes, "Override train.max_minutes (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  app.footer("Example: nmt train --config configs/d2l_bahdanau.json --output runs/bahdanau");
}

int run_train(const TrainArgs& args) {
  if (args.resume && args.overwrite) throw std::invalid_argument("--resume and --overwrite exclude each other");
  common::Config config;
  std::string output = args.output;
  if (!args.resume) {
    if (args.config.empty()) throw std::invalid_argument("--config FILE is required (or --resume with --output DIR)");
    config = common::load_config(args.config);
  }
  if (output.empty()) {
    if (args.config.empty()) throw std::invalid_argument("--output DIR is required with --resume");
    const auto slash = args.config.find_last_of('/');
    std::string name = args.config.substr(slash == std::string::npos ? 0 : slash + 1);
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") name.resize(name.size() - 5);
    output = "runs/" + name;
  }
  train::TrainOptions options;
  options.output_dir = output;
  options.resume = args.resume;
  options.overwrite = args.overwrite;
  options.num_epochs = args.epochs;
  options.max_minutes = args.max_minutes;
  // The figures are a by-product: a drawing failure is logged and training goes on.
  options.write_curves = [](const std::vector<nlohmann::json>& metrics, const std::vector<nlohmann::json>& timing,
                            const std::string& run_dir, const std::string& title) {
    try {
      plot::write_training_curves(metrics, timing, run_dir, title);
    } catch (const std::exception& e) {
      spdlog::warn("[train] could not draw the training curves: {}", e.what());
    }
  };
  train::Trainer(config, options).run();
  return 0;
}

}  // namespace nmt::cli
