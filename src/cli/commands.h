#pragma once
// The subcommands of `nmt`: each has setup_x (registers options on the CLI11 app, filling an XArgs) and run_x.

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace nmt::cli {

/// `nmt train --config FILE [--output DIR] [--resume] [--overwrite] [--epochs N] [--max-minutes M]`
struct TrainArgs {
  std::string config;
  std::string output;
  bool resume = false;
  bool overwrite = false;
  std::optional<int64_t> epochs;
  std::optional<double> max_minutes;
};
/// Registers train's options on `app`, filling `args` when it parses. Never throws.
void setup_train(CLI::App& app, TrainArgs& args);
/// Returns the process exit code. Throws as train::train.
int run_train(const TrainArgs& args);

/// `nmt translate --checkpoint DIR [SENTENCE...] [--input FILE] [--attention FILE] [--plot DIR]`
struct TranslateArgs {
  std::string checkpoint;
  std::vector<std::string> sentences;
  std::string input;
  std::string attention;
  std::string plot;
  std::string plot_format = "png";
  int64_t max_len = 0;
  int64_t batch_size = 128;
  std::string device = "auto";
};
/// Registers translate's options on `app`, filling `args` when it parses. Never throws.
void setup_translate(CLI::App& app, TranslateArgs& args);
/// Translates and prints one line per input sentence to stdout; returns the exit code. Throws std::invalid_argument
/// for bad options, std::runtime_error for unreadable input or a corrupted checkpoint (models::load_checkpoint).
int run_translate(const TranslateArgs& args);

/// `nmt eval --bleu (--checkpoint DIR [--split test|valid] | --hypotheses H --references R) [--k 2] [--json]`
struct EvalArgs {
  bool bleu = false;
  std::string checkpoint;
  std::string split = "test";
  std::string hypotheses;
  std::string references;
  int k = 2;
  bool json = false;
  std::string plot;
  std::string plot_format = "png";
  int64_t plot_count = 5;
  int64_t max_len = 0;
  int64_t batch_size = 256;
  std::string device = "auto";
};
/// Registers eval's options on `app`, filling `args` when it parses. Never throws.
void setup_eval(CLI::App& app, EvalArgs& args);
/// Scores with BLEU and prints the report; returns the exit code. Throws std::invalid_argument for bad options,
/// std::runtime_error for unreadable files or a corrupted checkpoint (models::load_checkpoint).
int run_eval(const EvalArgs& args);

/// `nmt config (--describe [--markdown] | --check FILE | --defaults)`
struct ConfigArgs {
  bool describe = false;  ///< print every key with its type, default and meaning (common::describe_text)
  bool markdown = false;  ///< with --describe: README's key table instead (common::describe_markdown)
  std::string check;      ///< validate this config file
  bool defaults = false;  ///< print the default config as JSON
};
/// Registers config's options on `app`, filling `args` when it parses. Never throws.
void setup_config(CLI::App& app, ConfigArgs& args);
/// Prints to stdout; returns 0. Throws std::invalid_argument when no action is given, and as
/// common::load_config for --check (std::runtime_error: unreadable file; std::invalid_argument: bad config).
int run_config(const ConfigArgs& args);

}  // namespace nmt::cli
