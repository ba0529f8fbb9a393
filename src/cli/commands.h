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
  int64_t nproc = 1;                      ///< --nproc: worker processes to start on this machine
  std::optional<std::string> dist_url;    ///< --dist-url tcp://HOST:PORT | file:///PATH
  std::optional<int64_t> rank;            ///< --rank
  std::optional<int64_t> world_size;      ///< --world-size
};
/// Registers train's options on `app`, filling `args` when it parses. Never throws.
void setup_train(CLI::App& app, TrainArgs& args);
/// Returns the process exit code. Throws as train::train.
int run_train(const TrainArgs& args);

/// The search flags of translate and eval (`--beam-size K --length-penalty none|gnmt|average --alpha A --min-len M
/// --max-len-a A --max-len-b B --max-len N --batch-size B`). A flag left out takes its value from the checkpoint
/// config's `decode` section (common::DecodeConfig); see cli::translate_options.
struct SearchFlags {
  std::optional<int64_t> beam_size;            ///< hypotheses kept per sentence; 1 = greedy search
  std::optional<std::string> length_penalty;   ///< one of common::kLengthPenalties
  std::optional<double> alpha;                 ///< length-penalty exponent
  std::optional<int64_t> min_len;              ///< output tokens before `<eos>` is allowed
  std::optional<double> max_len_a;             ///< output tokens <= max_len_a · source tokens + max_len_b
  std::optional<int64_t> max_len_b;
  std::optional<int64_t> max_len;              ///< absolute cap on output tokens; 0 = none
  std::optional<int64_t> batch_size;           ///< sentences decoded together
};

/// `nmt translate --checkpoint DIR [SENTENCE...] [--input FILE] [search flags] [--n-best N] [--scores]
/// [--format text|jsonl] [--flush-ms MS] [--attention FILE] [--plot DIR]`
struct TranslateArgs {
  std::string checkpoint;
  std::vector<std::string> sentences;
  std::string input;
  std::string attention;
  std::string plot;
  std::string plot_format = "png";
  SearchFlags search;
  std::optional<int64_t> n_best;   ///< given: Moses-style `i ||| hypothesis ||| score` lines (text format)
  bool scores = false;             ///< text format: TAB and the score after each translation
  bool detokenize = false;         ///< undo d2l's punctuation spacing in the output text
  std::string format = "text";     ///< "text" or "jsonl"
  int64_t flush_ms = 100;          ///< translate the pending lines after this many ms without input
  std::string device = "auto";
  bool no_ema = false;             ///< translate with the raw weights (model.pt) even when ema.pt exists
};
/// Registers translate's options on `app`, filling `args` when it parses. Never throws.
void setup_translate(CLI::App& app, TranslateArgs& args);
/// Translates the sentences given as arguments (one batch), or the lines of --input or stdin as they arrive
/// (cli::LineStream batches), and prints each batch's translations to stdout as soon as it is decoded; returns
/// the exit code. Throws std::invalid_argument for bad options (naming the flag), std::runtime_error for
/// unreadable input or a corrupted checkpoint (models::load_checkpoint).
int run_translate(const TranslateArgs& args);

/// `nmt eval --bleu (--checkpoint DIR [--split test|valid] [--multi-ref] [--no-ema] [search flags] | --hypotheses H
/// --references R [R2 ...]) [--k 2] [--json]`
struct EvalArgs {
  bool bleu = false;
  std::string checkpoint;
  std::string split = "test";
  bool multi_ref = false;  ///< score each distinct source sentence of the split once, against all its references
  bool no_ema = false;     ///< translate with the raw weights even when the checkpoint has EMA weights
  std::string hypotheses;
  std::vector<std::string> references;  ///< one file per reference set, line i of each a reference of hypothesis i
  bool tokenized = false;  ///< score preprocessed text (today's validation scoring) instead of detokenised output
  bool lowercase = false;  ///< case-insensitive scores (sacreBLEU -lc)
  int k = 2;
  bool json = false;
  std::string plot;
  std::string plot_format = "png";
  int64_t plot_count = 5;
  SearchFlags search;
  std::string device = "auto";
};
/// Registers eval's options on `app`, filling `args` when it parses. Never throws.
void setup_eval(CLI::App& app, EvalArgs& args);
/// Scores with BLEU, chrF2 and chrF2++ (sacreBLEU semantics, one or several references per segment; detokenised
/// output against the references as written, or preprocessed text with --tokenized) and prints the report;
/// returns the exit code. Throws std::invalid_argument for bad options or reference files of other lengths
/// (naming the files and counts), std::runtime_error for unreadable files or a corrupted checkpoint
/// (models::load_checkpoint).
int run_eval(const EvalArgs& args);

/// `nmt average --output DIR [--no-ema] [--overwrite] CHECKPOINT...`
struct AverageArgs {
  std::string output;                    ///< checkpoint directory to write
  std::vector<std::string> checkpoints;  ///< run or checkpoint directories to average
  bool no_ema = false;                   ///< average model.pt even where ema.pt exists
  bool overwrite = false;                ///< replace an --output that already holds files
};
/// Registers average's options on `app`, filling `args` when it parses. Never throws.
void setup_average(CLI::App& app, AverageArgs& args);
/// Writes the parameter-wise mean of the checkpoints (train::average_checkpoints) and prints its directory to
/// stdout; returns 0. Throws as train::average_checkpoints.
int run_average(const AverageArgs& args);

/// `nmt split --config FILE --output DIR`
struct SplitArgs {
  std::string config;  ///< config whose data section defines the corpus and the split
  std::string output;  ///< directory for train.tsv, valid.tsv, test.tsv
};
/// Registers split's options on `app`, filling `args` when it parses. Never throws.
void setup_split(CLI::App& app, SplitArgs& args);
/// Writes OUTPUT/{train,valid,test}.tsv: the corpus lines (`source<TAB>target`, as written) of each part of the
/// grouped split data::split_by_source makes from the config's data section and seed, in corpus order; returns 0.
/// Throws std::invalid_argument for a bad config or one with data.valid/data.test files, and as data::read_corpus
/// and common::write_text_atomic (std::runtime_error) for unreadable data or an unwritable directory.
int run_split(const SplitArgs& args);

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
