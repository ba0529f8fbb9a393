#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/launcher.h"
#include "common/config.h"
#include "common/logging.h"
#include "plot/training_curves.h"
#include "train/distributed.h"
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
  app.add_option("--nproc", args.nproc, "Data-parallel: start N training processes on this machine (one rank each)")
      ->check(CLI::PositiveNumber);
  app.add_option("--dist-url", args.dist_url,
                 "Data-parallel over machines: rendezvous tcp://HOST:PORT (rank 0's address) or file:///PATH "
                 "(default: MASTER_ADDR/MASTER_PORT)");
  app.add_option("--rank", args.rank, "This process's rank, 0 .. world size - 1 (default: RANK)");
  app.add_option("--world-size", args.world_size, "Number of processes in all (default: WORLD_SIZE)");
  app.footer("Example: nmt train --config configs/d2l_bahdanau.json --output runs/bahdanau\n"
             "         nmt train --config configs/transformer.json --nproc 2");
}

namespace {

/// train.dist_timeout_s of the config this invocation will train (--config, or the run directory's on resume),
/// or the default when neither is readable here (a rank >= 1 resuming on another machine).
double dist_timeout(const common::Config& config, const TrainArgs& args, const std::string& output) {
  if (!args.resume) return config.train.dist_timeout_s;
  const std::string file = output + "/config.json";
  if (std::filesystem::exists(file)) return common::load_config(file).train.dist_timeout_s;
  return common::TrainConfig{}.dist_timeout_s;
}

/// The distributed launch asked for by --dist-url/--rank/--world-size, else by the environment (torchrun's
/// variables); std::nullopt for a single process. Throws std::invalid_argument for incomplete or bad values.
std::optional<train::DistOptions> dist_options(const TrainArgs& args) {
  const bool flags = args.dist_url || args.rank || args.world_size;
  if (args.nproc > 1) {
    if (flags || std::getenv("RANK") || std::getenv("WORLD_SIZE"))
      throw std::invalid_argument("--nproc starts its own ranks: it cannot be combined with --dist-url, --rank, "
                                  "--world-size or the RANK/WORLD_SIZE variables");
    return std::nullopt;
  }
  if (!flags) return train::dist_options_from_env();
  if (!args.rank || !args.world_size)
    throw std::invalid_argument(std::string("--dist-url, --rank and --world-size go together: ") +
                                (!args.rank ? "--rank" : "--world-size") + " is missing");
  train::DistOptions o;
  o.rank = *args.rank;
  o.world_size = *args.world_size;
  if (args.dist_url) {
    o.url = *args.dist_url;
  } else if (o.world_size > 1) {
    const auto env = train::dist_options_from_env();  // MASTER_ADDR/MASTER_PORT may give the address
    if (!env || env->url.empty())
      throw std::invalid_argument("--world-size " + std::to_string(o.world_size) +
                                  " needs the master's address: --dist-url tcp://HOST:PORT (or MASTER_ADDR and MASTER_PORT)");
    o.url = env->url;
  }
  if (const char* local = std::getenv("LOCAL_WORLD_SIZE")) o.local_world_size = std::max(1, std::atoi(local));
  o.validate();
  return o;
}

}  // namespace

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
  std::optional<train::DistOptions> dist = dist_options(args);
  if (args.nproc > 1) {
    LaunchOptions launch;
    launch.nproc = args.nproc;
    launch.run_dir = output;
    launch.timeout_s = dist_timeout(config, args, output);
    launch.args = {"train", "--output", output};
    if (!args.config.empty()) launch.args.insert(launch.args.end(), {"--config", args.config});
    if (args.resume) launch.args.push_back("--resume");
    if (args.overwrite) launch.args.push_back("--overwrite");
    if (args.epochs) launch.args.insert(launch.args.end(), {"--epochs", std::to_string(*args.epochs)});
    if (args.max_minutes) {
      std::ostringstream m;
      m.precision(17);
      m << *args.max_minutes;
      launch.args.insert(launch.args.end(), {"--max-minutes", m.str()});
    }
    if (spdlog::default_logger()->level() <= spdlog::level::debug) launch.args.insert(launch.args.begin(), "--verbose");
    return launch_workers(launch);
  }
  std::unique_ptr<train::ProcessGroup> group;
  if (dist && dist->world_size > 1) {
    dist->timeout_s = dist_timeout(config, args, output);
    common::set_log_rank(dist->rank);
    group = train::ProcessGroup::connect(*dist);
    spdlog::info("[dist] rank {} of {} connected through {}", dist->rank, dist->world_size, dist->url);
  }
  train::TrainOptions options;
  options.group = group.get();
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
