// nmt: neural machine translation on LibTorch. main() parses the command line, runs one subcommand and
// turns exceptions into messages and exit codes (2: usage or config errors, 1: runtime errors).

#include <cstdio>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/version.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/blas.h"
#include "common/memory.h"
#include "common/logging.h"
#include "data/subword.h"
#include "kernels/cpu_isa.h"
#include "ops/dispatch.h"
#include "train/distributed.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  nmt::common::ensure_fast_blas(argc, argv);  // may re-execute the program once with OpenBLAS settings (common/blas.h)
  nmt::common::tune_malloc();  // keep freed tensor memory mapped (common/memory.h)
  CLI::App app{"nmt: neural machine translation (GRU seq2seq, Bahdanau attention, Transformer) on LibTorch"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  nmt::cli::TrainArgs train_args;
  nmt::cli::TranslateArgs translate_args;
  nmt::cli::EvalArgs eval_args;
  nmt::cli::ConfigArgs config_args;
  nmt::cli::SplitArgs split_args;
  nmt::cli::AverageArgs average_args;
  CLI::App* train = app.add_subcommand("train", "Train a model from a JSON config into a run directory");
  CLI::App* translate = app.add_subcommand("translate", "Translate sentences with a trained model");
  CLI::App* eval = app.add_subcommand("eval", "Score a model or a hypotheses file with BLEU, chrF2 and chrF2++");
  CLI::App* average = app.add_subcommand("average", "Average the weights of several checkpoints of one model");
  CLI::App* split = app.add_subcommand("split", "Write the train/valid/test split of a config as TSV files");
  CLI::App* config = app.add_subcommand("config", "Describe the config keys, check a config file, print the defaults");
  CLI::App* info = app.add_subcommand("info", "Print the build, BLAS kernels, threads and devices as JSON");
  nmt::cli::setup_train(*train, train_args);
  nmt::cli::setup_translate(*translate, translate_args);
  nmt::cli::setup_eval(*eval, eval_args);
  nmt::cli::setup_config(*config, config_args);
  nmt::cli::setup_split(*split, split_args);
  nmt::cli::setup_average(*average, average_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  nmt::common::setup_logging(verbose);
  try {
    if (*train) return nmt::cli::run_train(train_args);
    if (*translate) return nmt::cli::run_translate(translate_args);
    if (*eval) return nmt::cli::run_eval(eval_args);
    if (*config) return nmt::cli::run_config(config_args);
    if (*split) return nmt::cli::run_split(split_args);
    if (*average) return nmt::cli::run_average(average_args);
    if (*info) {
      nlohmann::json j{{"version", NMT_VERSION},
                             {"libtorch", TORCH_VERSION},
                             {"blas", nmt::common::blas_info().to_json()},
                             {"malloc", nmt::common::malloc_info()},
                             {"kernels", {{"isa", nmt::kernels::isa_name(nmt::kernels::active_isa())},
                                          {"fused", nmt::ops::fused_enabled()}}},
                             {"torch_threads", at::get_num_threads()},
                             {"sentencepiece_library", nmt::data::subword_library_path()},
                             {"cuda_devices", torch::cuda::is_available() ? torch::cuda::device_count() : 0}};
      // Data-parallel: the cores this process may use, and the threads each rank gets with `train --nproc N`.
      const int cores = nmt::train::available_cores();
      nlohmann::json per_rank = nlohmann::json::object();
      for (int n = 1; n <= std::min(cores, 16); ++n) per_rank[std::to_string(n)] = cores / n;
      j["distributed"] = {{"backend", "gloo (c10d)"}, {"cores", cores}, {"threads_per_rank_by_nproc", per_rank}};
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
  } catch (const nmt::train::TrainingInterrupted& e) {
    return 128 + e.signal_number();
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const c10::Error& e) {
    spdlog::error("{}", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 2;
}
