#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/attention_plots.h"
#include "cli/commands.h"
#include "common/device.h"
#include "common/io.h"
#include "decoding/translator.h"
#include "models/checkpoint.h"

namespace nmt::cli {

void setup_translate(CLI::App& app, TranslateArgs& args) {
  app.add_option("-m,--checkpoint", args.checkpoint, "Run directory (uses best/) or checkpoint directory")->required();
  app.add_option("sentences", args.sentences, "Sentences to translate (default: one per line from --input or stdin)");
  app.add_option("-i,--input", args.input, "File with one sentence per line");
  app.add_option("--attention", args.attention, "Write source/output tokens and attention weights as JSON here");
  app.add_option("--plot", args.plot, "Write one attention heatmap per sentence (and attention kind) into this directory");
  app.add_option("--plot-format", args.plot_format, "png, svg or pdf")->check(CLI::IsMember({"png", "svg", "pdf"}));
  app.add_option("--max-len", args.max_len, "Maximum output tokens (default: the model's num_steps)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", args.batch_size, "Sentences decoded together")->check(CLI::PositiveNumber);
  app.add_option("--device", args.device, "auto, cpu, cuda or cuda:N");
  app.footer("Example: nmt translate --checkpoint runs/d2l_bahdanau \"go .\" \"i lost .\"");
}

int run_translate(const TranslateArgs& args) {
  if (!args.sentences.empty() && !args.input.empty())
    throw std::invalid_argument("give sentences as arguments or --input FILE, not both");
  const c10::Device device = common::resolve_device(args.device);
  models::LoadedCheckpoint ckpt = models::load_checkpoint(args.checkpoint, device);
  common::set_num_threads(ckpt.config.train.num_threads);
  spdlog::info("[translate] {} model from {}", ckpt.config.model.type, ckpt.dir);

  std::vector<std::string> lines = args.sentences;
  if (!args.input.empty()) {
    lines = common::read_lines(args.input);
  } else if (args.sentences.empty()) {
    std::string line;
    bool first = true;
    while (std::getline(std::cin, line)) {
      if (first && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      first = false;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }

  decoding::Translator translator(ckpt.model, ckpt.src_vocab, ckpt.tgt_vocab, device);
  decoding::TranslateOptions options;
  options.search = decoding::search_options(ckpt.config.decode);
  options.search.max_len = args.max_len;
  options.batch_size = args.batch_size;
  options.search.record_attention = !args.attention.empty() || !args.plot.empty();
  const auto translations = translator.translate(lines, options);
  std::string out;
  for (std::size_t i = 0; i < translations.size(); ++i) {
    out += translations[i].text() + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);

  if (!args.attention.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : translations) j.push_back(t.attention_json());
    common::write_text_atomic(args.attention, j.dump() + "\n");
    spdlog::info("[translate] attention weights written to {}", args.attention);
  }
  if (!args.plot.empty()) {
    for (std::size_t i = 0; i < translations.size(); ++i) {
      char stem[32];
      std::snprintf(stem, sizeof stem, "%04zu", i + 1);
      write_attention_plots(translations[i], args.plot, stem, args.plot_format);
    }
    spdlog::info("[translate] heatmaps written to {}", args.plot);
  }
  return 0;
}

}  // namespace nmt::cli
