#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/attention_plots.h"
#include "cli/commands.h"
#include "cli/search_flags.h"
#include "common/device.h"
#include "common/io.h"
#include "data/corpus.h"
#include "data/preprocess.h"
#include "decoding/translator.h"
#include "metrics/bleu.h"
#include "metrics/chrf.h"
#include "metrics/text.h"
#include "models/checkpoint.h"

namespace nmt::cli {

namespace fs = std::filesystem;

void setup_eval(CLI::App& app, EvalArgs& args) {
  app.add_flag("--bleu", args.bleu, "Compute BLEU (d2l's per-sentence BLEU-k and sacreBLEU-style corpus BLEU-4)")
      ->required();
  app.add_option("-m,--checkpoint", args.checkpoint, "Run or checkpoint directory to translate the split with");
  app.add_option("--split", args.split, "Held-out split of the run: test or valid")->check(CLI::IsMember({"test", "valid"}));
  app.add_option("--hypotheses", args.hypotheses, "Score this file (one translation per line) instead of a model");
  app.add_option("--references", args.references, "References for --hypotheses, line by line");
  app.add_flag("--tokenized", args.tokenized,
               "Score preprocessed text, as training validates: hypotheses with d2l's spacing kept, references "
               "preprocessed like the training data (--hypotheses/--references: d2l's preprocessing on both)");
  app.add_flag("--lowercase", args.lowercase,
               "Case-insensitive scores (sacreBLEU -lc); on by itself for runs trained with data.lowercase");
  app.add_option("--k", args.k, "Largest n-gram order of d2l's per-sentence BLEU")->check(CLI::Range(1, 4));
  app.add_flag("--json", args.json, "Print the whole JSON report to stdout");
  app.add_option("--plot", args.plot, "Write attention heatmaps of the first --plot-count sentences here");
  app.add_option("--plot-count", args.plot_count, "Sentences to plot with --plot")->check(CLI::NonNegativeNumber);
  app.add_option("--plot-format", args.plot_format, "png, svg or pdf")->check(CLI::IsMember({"png", "svg", "pdf"}));
  add_search_flags(app, args.search);
  app.add_option("--device", args.device, "auto, cpu, cuda or cuda:N");
  app.footer("Scores: sacreBLEU's BLEU (13a), chrF2 and chrF2++ of detokenised hypotheses against the references as "
             "written, unless --tokenized.\n"
             "Examples:\n  nmt eval --bleu --checkpoint runs/default --split test\n"
             "  nmt eval --bleu --checkpoint runs/default --split valid --beam-size 8 --alpha 1.0\n"
             "  nmt eval --bleu --hypotheses out.txt --references ref.txt");
}

namespace {

/// The run directory holding the split files for a checkpoint path.
std::string split_dir(const std::string& checkpoint_arg, const std::string& ckpt_dir, const std::string& split) {
  for (const fs::path& p : {fs::path(checkpoint_arg), fs::path(ckpt_dir).parent_path()})
    if (fs::exists(p / (split + ".src"))) return p.string();
  throw std::runtime_error("no " + split + ".src / " + split + ".ref next to " + checkpoint_arg +
                           " (they are written into the run directory by nmt train)");
}

/// The texts of `file` (one per line) preprocessed with `text` and re-joined by single spaces, as the training data
/// is (data::preprocess + data::tokenize). Throws std::invalid_argument naming the file and line for invalid UTF-8.
std::vector<std::string> preprocessed(std::vector<std::string> lines, const data::TextOptions& text,
                                      const std::string& file) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    try {
      lines[i] = data::join_tokens(data::tokenize(data::preprocess(lines[i], text)));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(file + ":" + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return lines;
}

/// sacreBLEU's signature of a metric: "nrefs:1|case:mixed|" + the metric's own fields + "|version:2.6.0" (the
/// sacreBLEU release whose definitions metrics::corpus_bleu and metrics::corpus_chrf follow).
std::string signature(bool lowercase, const std::string& fields) {
  return std::string("nrefs:1|case:") + (lowercase ? "lc" : "mixed") + "|" + fields + "|version:2.6.0";
}

}  // namespace

int run_eval(const EvalArgs& args) {
  const bool from_files = !args.hypotheses.empty() || !args.references.empty();
  if (from_files && !args.checkpoint.empty())
    throw std::invalid_argument("give either --checkpoint or --hypotheses/--references, not both");
  if (!from_files && args.checkpoint.empty())
    throw std::invalid_argument("give --checkpoint DIR, or --hypotheses H --references R");
  if (from_files && (args.hypotheses.empty() || args.references.empty()))
    throw std::invalid_argument("--hypotheses and --references go together");
  const SearchFlags& f = args.search;
  if (from_files && (f.beam_size || f.length_penalty || f.alpha || f.min_len || f.max_len_a || f.max_len_b ||
                     f.max_len || f.batch_size))
    throw std::invalid_argument("the search flags (--beam-size, --length-penalty, ...) need --checkpoint; "
                                "--hypotheses is scored as it is");

  std::vector<std::string> hyps, refs;
  nlohmann::json report;
  bool lowercase = args.lowercase;
  std::string out_dir;
  if (from_files) {
    hyps = common::read_lines(args.hypotheses);
    refs = common::read_lines(args.references);
    if (hyps.size() != refs.size())
      throw std::invalid_argument(args.hypotheses + " has " + std::to_string(hyps.size()) + " lines but " +
                                  args.references + " has " + std::to_string(refs.size()));
    if (args.tokenized) {  // both sides as d2l preprocesses its data
      hyps = preprocessed(std::move(hyps), data::TextOptions{}, args.hypotheses);
      refs = preprocessed(std::move(refs), data::TextOptions{}, args.references);
    }
    report["hypotheses"] = args.hypotheses;
    report["references"] = args.references;
  } else {
    const c10::Device device = common::resolve_device(args.device);
    models::LoadedCheckpoint ckpt = models::load_checkpoint(args.checkpoint, device);
    common::set_num_threads(ckpt.config.train.num_threads);
    out_dir = split_dir(args.checkpoint, ckpt.dir, args.split);
    const auto sources = common::read_lines(out_dir + "/" + args.split + ".src");
    refs = common::read_lines(out_dir + "/" + args.split + ".ref");
    if (sources.size() != refs.size())
      throw std::runtime_error(out_dir + "/" + args.split + ".src and .ref differ in length");
    if (sources.empty()) throw std::invalid_argument("the " + args.split + " split of " + out_dir + " is empty");
    decoding::TranslateOptions options = translate_options(ckpt.config.decode, args.search);
    options.detokenize = !args.tokenized;
    const auto& dc = ckpt.config.data;
    refs = args.tokenized ? preprocessed(std::move(refs), data::text_options(dc), out_dir + "/" + args.split + ".ref")
                          : std::move(refs);
    if (dc.lowercase && !args.lowercase)
      spdlog::info("[eval] the run lowercases its text (data.lowercase): scoring case-insensitively");
    lowercase = lowercase || dc.lowercase;
    report["src_lang"] = dc.src_lang;
    report["tgt_lang"] = dc.tgt_lang;
    spdlog::info("[eval] translating {} {} sentences: beam size {}, length penalty {} (alpha {})", sources.size(),
                 args.split, options.search.beam_size, length_penalty_name(options.search.length_penalty),
                 options.search.alpha);
    decoding::Translator translator(ckpt.model, ckpt.src_vocab, ckpt.tgt_vocab, device, ckpt.src_tokenizer,
                                    ckpt.tgt_tokenizer, data::text_options(ckpt.config.data));
    const auto translations = translator.translate(sources, options);
    int64_t output_tokens = 0, unknown = 0;
    for (const auto& t : translations) {
      hyps.push_back(t.text());
      if (t.hypotheses.empty()) continue;
      const auto& tokens = t.hypotheses.front().output_tokens;
      output_tokens += static_cast<int64_t>(tokens.size());
      unknown += std::count(tokens.begin(), tokens.end(), std::string(data::Vocab::kUnk));
    }
    report["unk_tokens"] = unknown;
    report["unk_share"] = output_tokens ? static_cast<double>(unknown) / static_cast<double>(output_tokens) : 0.0;
    if (!args.plot.empty() && args.plot_count > 0) {
      std::vector<std::string> first(sources.begin(),
                                     sources.begin() + std::min<std::size_t>(sources.size(), args.plot_count));
      options.search.record_attention = true;
      const auto plotted = translator.translate(first, options);
      for (std::size_t i = 0; i < plotted.size(); ++i) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "%s_%04zu", args.split.c_str(), i + 1);
        write_attention_plots(plotted[i], args.plot, stem, args.plot_format);
      }
    }
    std::string text;
    for (const auto& h : hyps) text += h + "\n";
    common::write_text_atomic(out_dir + "/" + args.split + ".hyp", text);
    report["checkpoint"] = ckpt.dir;
    report["split"] = args.split;
    report["epoch"] = ckpt.epoch;
    report["hypotheses_file"] = out_dir + "/" + args.split + ".hyp";
    report["decode"] = decode_json(options);
  }

  if (lowercase)
    for (auto* side : {&hyps, &refs})
      for (auto& line : *side) line = metrics::lowercase(line);
  const metrics::CorpusBleu corpus = metrics::corpus_bleu(hyps, refs);
  const metrics::Chrf chrf = metrics::corpus_chrf(hyps, refs, 0), chrf_pp = metrics::corpus_chrf(hyps, refs, 2);
  const double d2l = metrics::mean_d2l_bleu(hyps, refs, args.k);
  report["scoring"] = args.tokenized ? "tokenized" : "detokenized";
  report["lowercase"] = lowercase;
  report["corpus_bleu"] = corpus.to_json();
  report["bleu"] = corpus.score;
  report["bleu_signature"] = signature(lowercase, "eff:no|tok:13a|smooth:exp");
  report["chrf2"] = chrf.score;
  report["chrf2_signature"] = signature(lowercase, "eff:yes|nc:6|nw:0|space:no");
  report["chrf2pp"] = chrf_pp.score;
  report["chrf2pp_signature"] = signature(lowercase, "eff:yes|nc:6|nw:2|space:no");
  report["d2l_bleu"] = d2l;
  report["k"] = args.k;
  report["sentences"] = hyps.size();
  if (!out_dir.empty()) common::write_text_atomic(out_dir + "/eval_" + args.split + ".json", report.dump(2) + "\n");

  if (args.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("BLEU = %.2f  (1-4 gram precisions %.1f/%.1f/%.1f/%.1f, BP %.3f, hyp_len %lld, ref_len %lld)  "
                "chrF2 = %.2f  chrF2++ = %.2f  d2l BLEU-%d = %.4f  on %zu sentences (%s%s)\n",
                corpus.score, corpus.precisions[0], corpus.precisions[1], corpus.precisions[2], corpus.precisions[3],
                corpus.brevity_penalty, static_cast<long long>(corpus.sys_len), static_cast<long long>(corpus.ref_len),
                chrf.score, chrf_pp.score, args.k, d2l, hyps.size(), args.tokenized ? "tokenized" : "detokenized",
                lowercase ? ", lowercased" : "");
  }
  return 0;
}

}  // namespace nmt::cli
