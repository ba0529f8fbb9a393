// `nmt average`: the parameter-wise mean of several checkpoints of one model (train/average.h).

#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "train/average.h"

namespace nmt::cli {

void setup_average(CLI::App& app, AverageArgs& args) {
  app.add_option("-o,--output", args.output, "Checkpoint directory to write")->required();
  app.add_option("checkpoints", args.checkpoints, "Run or checkpoint directories (e.g. runs/x/epoch_*)")
      ->required();
  app.add_flag("--no-ema", args.no_ema, "Average the raw weights (model.pt) even where EMA weights (ema.pt) exist");
  app.add_flag("--overwrite", args.overwrite, "Replace an --output directory that already holds files");
  app.footer("Averages each parameter over the checkpoints (same model config and vocabularies required) into a\n"
             "self-contained checkpoint for translate and eval. Keep epoch checkpoints with train.keep_checkpoints.\n"
             "Example: nmt average --output runs/transformer/averaged runs/transformer/epoch_*");
}

int run_average(const AverageArgs& args) {
  const train::AverageResult r = train::average_checkpoints(args.checkpoints, args.output, !args.no_ema, args.overwrite);
  spdlog::info("[average] {} checkpoint(s), {} weights, {} tensors averaged into {}", r.inputs.size(), r.weights,
               r.tensors, args.output);
  std::printf("%s\n", args.output.c_str());
  return 0;
}

}  // namespace nmt::cli
