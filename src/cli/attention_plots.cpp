#include "cli/attention_plots.h"

#include <filesystem>

#include <torch/torch.h>

#include "data/preprocess.h"
#include "data/vocab.h"
#include "plot/plot.h"

namespace nmt::cli {

void write_attention_plots(const decoding::Translation& t, const std::string& dir, const std::string& stem,
                           const std::string& format) {
  if (t.hypotheses.empty() || t.hypotheses.front().attention.empty()) return;
  const decoding::TranslationHypothesis& best = t.hypotheses.front();
  std::filesystem::create_directories(dir);
  const std::vector<std::string> queries = best.query_tokens();
  std::vector<std::string> decoder_inputs{data::Vocab::kBos};
  decoder_inputs.insert(decoder_inputs.end(), queries.begin(), queries.end());
  const std::string source_text = data::join_tokens(t.source_tokens), output_text = best.text();

  for (const auto& [kind, weights] : best.attention) {  // [layers, heads, q, k]
    const auto& rows = kind == "encoder_self" ? t.source_tokens : queries;
    const auto& cols = kind == "decoder_self" ? decoder_inputs : t.source_tokens;
    const int64_t layers = weights.size(0), heads = weights.size(1), q = weights.size(2), k = weights.size(3);
    std::vector<std::vector<plot::Heatmap>> grid(static_cast<std::size_t>(layers));
    for (int64_t l = 0; l < layers; ++l) {
      for (int64_t h = 0; h < heads; ++h) {
        plot::Heatmap map;
        map.rows = q;
        map.cols = k;
        auto w = weights[l][h].contiguous().to(torch::kFloat);
        map.weights.assign(w.data_ptr<float>(), w.data_ptr<float>() + q * k);
        map.row_labels.assign(rows.begin(), rows.begin() + std::min<int64_t>(q, static_cast<int64_t>(rows.size())));
        map.col_labels.assign(cols.begin(), cols.begin() + std::min<int64_t>(k, static_cast<int64_t>(cols.size())));
        map.row_labels.resize(static_cast<std::size_t>(q), "");
        map.col_labels.resize(static_cast<std::size_t>(k), "");
        map.title = layers * heads == 1 ? kind + ": " + source_text + " → " + output_text
                                        : "layer " + std::to_string(l + 1) + " head " + std::to_string(h + 1);
        grid[static_cast<std::size_t>(l)].push_back(std::move(map));
      }
    }
    const std::string path = dir + "/" + stem + "_" + kind + "." + format;
    if (layers * heads == 1)
      plot::write_heatmap(grid[0][0], path);
    else
      plot::write_heatmap_grid(grid, kind + ": " + source_text + " → " + output_text, path);
  }
}

}  // namespace nmt::cli
