#include <algorithm>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <unordered_map>

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
  app.add_flag("--multi-ref", args.multi_ref,
               "Score each distinct source sentence of the split once, against all its translations in the split "
               "(writes SPLIT.multiref.hyp and SPLIT.multiref.tsv: source, then its references, TAB-separated)");
  app.add_flag("--no-ema", args.no_ema, "Translate with the raw weights (model.pt) even when the checkpoint has "
                                        "EMA weights (ema.pt, train.ema_decay)");
  app.add_option("--hypotheses", args.hypotheses, "Score this file (one translation per line) instead of a model");
  app.add_option("--references", args.references,
                 "Reference files for --hypotheses, line by line; several files = several references per line");
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
             "  nmt eval --bleu --checkpoint runs/default --split test --multi-ref\n"
             "  nmt eval --bleu --hypotheses out.txt --references ref.txt ref2.txt");
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

/// sacreBLEU's signature of a metric: "nrefs:N|case:mixed|" + the metric's own fields + "|version:2.6.0" (the
/// sacreBLEU release whose definitions metrics::corpus_bleu and metrics::corpus_chrf follow); `nrefs` is the
/// number of references of every segment, or "var" when it varies (sacreBLEU's num_refs = -1).
std::string signature(const std::string& nrefs, bool lowercase, const std::string& fields) {
  return "nrefs:" + nrefs + "|case:" + (lowercase ? "lc" : "mixed") + "|" + fields + "|version:2.6.0";
}

/// Groups a split's lines by their source sentence (exact text): the distinct sources in order of first
/// appearance, and all references of each.
void group_by_source(const std::vector<std::string>& sources, const std::vector<std::string>& refs,
                     std::vector<std::string>& distinct, std::vector<std::vector<std::string>>& grouped) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto [it, fresh] = index.emplace(sources[i], distinct.size());
    if (fresh) {
      distinct.push_back(sources[i]);
      grouped.emplace_back();
    }
    grouped[it->second].push_back(refs[i]);
  }
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
                     f.max_len || f.batch_size || args.multi_ref || args.no_ema))
    throw std::invalid_argument("the search flags (--beam-size, --length-penalty, ...), --multi-ref and --no-ema "
                                "need --checkpoint; --hypotheses is scored as it is");

  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs;  // the references of each hypothesis
  nlohmann::json report;
  bool lowercase = args.lowercase;
  std::string out_dir, stem;  // stem: "test" or "test.multiref", the names of the files written
  if (from_files) {
    hyps = common::read_lines(args.hypotheses);
    if (args.tokenized) hyps = preprocessed(std::move(hyps), data::TextOptions{}, args.hypotheses);
    refs.resize(hyps.size());
    for (const std::string& file : args.references) {
      std::vector<std::string> lines = common::read_lines(file);
      if (lines.size() != hyps.size())
        throw std::invalid_argument(args.hypotheses + " has " + std::to_string(hyps.size()) + " lines but " + file +
                                    " has " + std::to_string(lines.size()));
      if (args.tokenized) lines = preprocessed(std::move(lines), data::TextOptions{}, file);  // as d2l does
      for (std::size_t i = 0; i < lines.size(); ++i) refs[i].push_back(std::move(lines[i]));
    }
    report["hypotheses"] = args.hypotheses;
    report["references"] = args.references;
  } else {
    const c10::Device device = common::resolve_device(args.device);
    models::LoadedCheckpoint ckpt = models::load_checkpoint(args.checkpoint, device, !args.no_ema);
    common::set_num_threads(ckpt.config.train.num_threads);
    out_dir = split_dir(args.checkpoint, ckpt.dir, args.split);
    const std::string ref_file = out_dir + "/" + args.split + ".ref";
    std::vector<std::string> sources = common::read_lines(out_dir + "/" + args.split + ".src");
    std::vector<std::string> ref_lines = common::read_lines(ref_file);
    if (sources.size() != ref_lines.size())
      throw std::runtime_error(out_dir + "/" + args.split + ".src and .ref differ in length");
    if (sources.empty()) throw std::invalid_argument("the " + args.split + " split of " + out_dir + " is empty");
    decoding::TranslateOptions options = translate_options(ckpt.config.decode, args.search);
    options.detokenize = !args.tokenized;
    const auto& dc = ckpt.config.data;
    if (args.tokenized) ref_lines = preprocessed(std::move(ref_lines), data::text_options(dc), ref_file);
    stem = args.split;
    if (args.multi_ref) {
      std::vector<std::string> distinct;
      group_by_source(sources, ref_lines, distinct, refs);
      spdlog::info("[eval] --multi-ref: {} distinct source sentences of the {} {} pairs, up to {} references each",
                   distinct.size(), sources.size(), args.split,
                   std::max_element(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
                     return a.size() < b.size();
                   })->size());
      sources = std::move(distinct);
      stem += ".multiref";
    } else {
      for (auto& r : ref_lines) refs.push_back({std::move(r)});
    }
    if (dc.lowercase && !args.lowercase)
      spdlog::info("[eval] the run lowercases its text (data.lowercase): scoring case-insensitively");
    lowercase = lowercase || dc.lowercase;
    report["src_lang"] = dc.src_lang;
    report["tgt_lang"] = dc.tgt_lang;
    spdlog::info("[eval] translating {} {} sentences with the {} weights: beam size {}, length penalty {} (alpha {})",
                 sources.size(), args.split, ckpt.weights, options.search.beam_size,
                 length_penalty_name(options.search.length_penalty), options.search.alpha);
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
        char name[32];
        std::snprintf(name, sizeof name, "%s_%04zu", args.split.c_str(), i + 1);
        write_attention_plots(plotted[i], args.plot, name, args.plot_format);
      }
    }
    std::string text;
    for (const auto& h : hyps) text += h + "\n";
    common::write_text_atomic(out_dir + "/" + stem + ".hyp", text);
    if (args.multi_ref) {
      std::string table;
      for (std::size_t i = 0; i < sources.size(); ++i) {
        table += sources[i];
        for (const auto& r : refs[i]) table += "\t" + r;
        table += "\n";
      }
      common::write_text_atomic(out_dir + "/" + stem + ".tsv", table);
      report["references_file"] = out_dir + "/" + stem + ".tsv";
    }
    report["checkpoint"] = ckpt.dir;
    report["weights"] = ckpt.weights;
    report["split"] = args.split;
    report["epoch"] = ckpt.epoch;
    report["hypotheses_file"] = out_dir + "/" + stem + ".hyp";
    report["decode"] = decode_json(options);
  }

  if (lowercase) {
    for (auto& line : hyps) line = metrics::lowercase(line);
    for (auto& segment : refs)
      for (auto& line : segment) line = metrics::lowercase(line);
  }
  std::size_t min_refs = refs.empty() ? 1 : refs.front().size(), max_refs = min_refs;
  for (const auto& segment : refs) {
    min_refs = std::min(min_refs, segment.size());
    max_refs = std::max(max_refs, segment.size());
  }
  const std::string nrefs = min_refs == max_refs ? std::to_string(min_refs) : "var";
  const metrics::CorpusBleu corpus = metrics::corpus_bleu_multi(hyps, refs);
  const metrics::Chrf chrf = metrics::corpus_chrf_multi(hyps, refs, 0),
                      chrf_pp = metrics::corpus_chrf_multi(hyps, refs, 2);
  report["scoring"] = args.tokenized ? "tokenized" : "detokenized";
  report["lowercase"] = lowercase;
  report["multi_ref"] = args.multi_ref;
  report["references_per_segment"] = {{"min", min_refs}, {"max", max_refs}};
  report["corpus_bleu"] = corpus.to_json();
  report["bleu"] = corpus.score;
  report["bleu_signature"] = signature(nrefs, lowercase, "eff:no|tok:13a|smooth:exp");
  report["chrf2"] = chrf.score;
  report["chrf2_signature"] = signature(nrefs, lowercase, "eff:yes|nc:6|nw:0|space:no");
  report["chrf2pp"] = chrf_pp.score;
  report["chrf2pp_signature"] = signature(nrefs, lowercase, "eff:yes|nc:6|nw:2|space:no");
  // d2l's sentence BLEU knows one reference: reported for single-reference scoring only.
  std::optional<double> d2l;
  if (max_refs == 1) {
    std::vector<std::string> first;
    for (const auto& segment : refs) first.push_back(segment.front());
    d2l = metrics::mean_d2l_bleu(hyps, first, args.k);
    report["d2l_bleu"] = *d2l;
    report["k"] = args.k;
  }
  report["sentences"] = hyps.size();
  if (!out_dir.empty()) common::write_text_atomic(out_dir + "/eval_" + stem + ".json", report.dump(2) + "\n");

  if (args.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    char d2l_text[48] = "";
    if (d2l) std::snprintf(d2l_text, sizeof d2l_text, "  d2l BLEU-%d = %.4f", args.k, *d2l);
    std::printf("BLEU = %.2f  (1-4 gram precisions %.1f/%.1f/%.1f/%.1f, BP %.3f, hyp_len %lld, ref_len %lld)  "
                "chrF2 = %.2f  chrF2++ = %.2f%s  on %zu sentences (%s%s, nrefs:%s)\n",
                corpus.score, corpus.precisions[0], corpus.precisions[1], corpus.precisions[2], corpus.precisions[3],
                corpus.brevity_penalty, static_cast<long long>(corpus.sys_len), static_cast<long long>(corpus.ref_len),
                chrf.score, chrf_pp.score, d2l_text, hyps.size(), args.tokenized ? "tokenized" : "detokenized",
                lowercase ? ", lowercased" : "", nrefs.c_str());
  }
  return 0;
}

}  // namespace nmt::cli
