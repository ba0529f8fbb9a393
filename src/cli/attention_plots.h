#pragma once
// Heatmaps of a translation's attention weights (d2l.ai show_heatmaps), shared by translate and eval.

#include <string>

#include "decoding/translator.h"

namespace nmt::cli {

/// Writes one figure per attention kind of `t`'s best hypothesis to `dir/<stem>_<kind>.<format>` ("png", "svg" or
/// "pdf"): a single heatmap for one layer and head (Bahdanau), a layers × heads grid otherwise (Transformer). Keys
/// (source tokens incl. `<eos>`, or decoder inputs) along x, queries along y. Does nothing when `t` has no
/// hypothesis or its best one no attention (decoding::SearchOptions::record_attention was off).
/// Throws as plot::write_heatmap.
void write_attention_plots(const decoding::Translation& t, const std::string& dir, const std::string& stem,
                           const std::string& format);

}  // namespace nmt::cli
