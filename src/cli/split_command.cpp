// `nmt split`: the train/valid/test split a config's ratios make, written out as TSV files of the corpus lines.

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/config.h"
#include "common/io.h"
#include "data/corpus.h"
#include "data/split.h"

namespace nmt::cli {

void setup_split(CLI::App& app, SplitArgs& args) {
  app.add_option("-c,--config", args.config, "Config whose data section (path, ratios, seed) defines the split")
      ->required();
  app.add_option("-o,--output", args.output, "Directory for train.tsv, valid.tsv and test.tsv")->required();
  app.footer("Example: nmt split --config configs/transformer.json --output data/fra-eng-split");
}

int run_split(const SplitArgs& args) {
  const common::Config config = common::load_config(args.config);
  const common::DataConfig& dc = config.data;
  if (dc.valid || dc.test)
    throw std::invalid_argument(args.config + ": data.valid / data.test are files already; nmt split cuts the "
                                "training corpus by data.valid_ratio and data.test_ratio");
  const common::CorpusFiles files = dc.train ? *dc.train : common::CorpusFiles{dc.path, "", ""};
  const data::Corpus corpus = data::read_corpus(files, dc.num_examples, data::text_options(dc));
  const data::Split split = data::split_by_source(corpus.pairs, dc.valid_ratio, dc.test_ratio, config.train.seed);
  std::filesystem::create_directories(args.output);
  using Part = std::pair<const char*, const std::vector<int64_t>*>;
  for (const auto& [name, indices] : {Part{"train", &split.train}, Part{"valid", &split.valid}, Part{"test", &split.test}}) {
    std::string text;
    for (int64_t i : *indices) {
      const auto k = static_cast<std::size_t>(i);
      text += corpus.source_texts[k] + "\t" + corpus.target_texts[k] + "\n";
    }
    const std::string path = args.output + "/" + name + ".tsv";
    common::write_text_atomic(path, text);
    spdlog::info("[split] {}: {} pairs", path, indices->size());
  }
  return 0;
}

}  // namespace nmt::cli
