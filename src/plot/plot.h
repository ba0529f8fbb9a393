#pragma once

// Small cairo-based plotting for attention heatmaps (d2l.show_heatmaps, d2l 11.1 / 11.4 / 11.7)
// and training curves (d2l's Animator, d2l 3.6 / 10.7). No LibTorch here: callers copy tensors
// into plain vectors.
//
// Output format is chosen from the file extension: ".png" (raster, 1 px per unit), ".svg" (vector;
// text is emitted as real <text> elements so labels are visible, selectable and searchable), or
// ".pdf" (vector). Files are written to `path + ".tmp"` and then renamed into place.

#include <cstdint>
#include <string>
#include <vector>

namespace nmt::plot {

/// One attention matrix, as passed to d2l.show_heatmaps.
/// `weights` is row-major [rows = queries (output tokens)] x [cols = keys (source tokens incl.
/// <eos>)], values in [0, 1]. `row_labels` / `col_labels` are UTF-8 tokens; each is either empty
/// (no tick labels on that axis) or has exactly rows / cols entries.
struct Heatmap {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> weights;
  std::vector<std::string> row_labels;
  std::vector<std::string> col_labels;
  std::string title;
};

/// One line of a training-curve panel: y[i] plotted at x[i] (x in epochs, steps or minutes). Non-finite
/// points are skipped and break the line.
struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

/// An sRGB colour, components in [0, 1].
struct Rgb {
  double r = 0.0;
  double g = 0.0;
  double b = 0.0;
};

/// Sequential white -> dark red colormap in the style of matplotlib's "Reds" (ColorBrewer 9-class
/// Reds stops, linearly interpolated), d2l.show_heatmaps' default cmap. `t` is clamped to [0, 1];
/// larger t is darker (luminance strictly decreasing).
Rgb reds(double t);

/// "Nice" axis ticks (steps 1, 2 or 5 times a power of ten), as matplotlib's MaxNLocator does.
struct Ticks {
  double lo = 0.0;              ///< lower bound rounded down to a multiple of step
  double hi = 1.0;              ///< upper bound rounded up to a multiple of step
  double step = 0.2;            ///< distance between ticks
  std::vector<double> values;   ///< lo, lo + step, ..., hi
};

/// Computes ticks covering [lo, hi] with about `target_count` intervals (>= 1). A degenerate range
/// (lo == hi) is widened around the value. Throws std::invalid_argument on non-finite bounds or
/// lo > hi.
Ticks nice_ticks(double lo, double hi, int target_count);

/// Axis-aligned rectangle in image units (pixels for PNG, user units for SVG/PDF), y downwards.
struct Rect {
  double x = 0.0;
  double y = 0.0;
  double w = 0.0;
  double h = 0.0;
};

/// Geometry of one heatmap panel inside a figure (absolute image coordinates).
struct PanelLayout {
  Rect bounds;                   ///< whole panel: title, tick labels, axis labels, matrix
  Rect matrix;                   ///< the cells; cell (r, c) is at matrix.x + c*cell, matrix.y + r*cell
  double cell = 0.0;             ///< cell edge length
  int64_t rows = 0;
  int64_t cols = 0;
  bool rotate_col_labels = false;  ///< key labels drawn vertically (they are wider than a cell)
  bool show_xlabel = true;         ///< draw the "Keys" axis label
  bool show_ylabel = true;         ///< draw the "Queries" axis label
  std::string title;               ///< panel title as drawn (sanitised UTF-8)
  double title_cx = 0.0;           ///< x centre of the title
  double title_top = 0.0;          ///< y of the top of the title line

  /// Rectangle of cell (row r, col c); r in [0, rows), c in [0, cols) (not checked).
  Rect cell_rect(int64_t r, int64_t c) const;
};

/// Geometry of a heatmap figure (single heatmap or grid) with one shared colour bar.
struct HeatmapLayout {
  int width = 0;                 ///< image width (PNG pixels)
  int height = 0;                ///< image height
  double cell = 0.0;             ///< cell edge length shared by all panels
  double label_font_size = 0.0;  ///< font size of the token tick labels
  double vmax = 1.0;             ///< weight mapped to the darkest colour (colour bar top); vmin is 0
  Ticks colorbar_ticks;          ///< ticks drawn on the colour bar (0 .. vmax)
  Rect colorbar;                 ///< the colour gradient strip
  std::string title;             ///< figure title (grid only; empty for a single heatmap)
  double title_top = 0.0;        ///< y of the top of the figure title line
  std::vector<std::vector<PanelLayout>> panels;  ///< [grid row][grid col]; 1x1 for one heatmap
};

/// Cell edge length used for a matrix whose larger side has `max_tokens` tokens: 28 px, shrunk so
/// the matrix side stays <= 1200 px, but never below 6 px (100 tokens -> 12 px).
/// Throws std::invalid_argument if max_tokens < 1.
double heatmap_cell_size(int64_t max_tokens);

/// Computes the layout write_heatmap uses (fonts are measured with cairo's toy text API, family
/// "DejaVu Sans"). Throws std::invalid_argument as write_heatmap does for malformed input.
HeatmapLayout layout_heatmap(const Heatmap& map);

/// Computes the layout write_heatmap_grid uses. Panels with an empty title get "layer i head j"
/// (1-based grid row i, grid column j). Throws std::invalid_argument as write_heatmap_grid does.
HeatmapLayout layout_heatmap_grid(const std::vector<std::vector<Heatmap>>& grid,
                                  const std::string& title);

/// Writes one attention heatmap like d2l.show_heatmaps (d2l 11.1): keys along x ("Keys", labels
/// rotated when wider than a cell), queries along y ("Queries"), colour scale 0 .. vmax (vmax =
/// largest weight rounded up to a nice tick) with a tick-labelled colour bar, and map.title.
/// Larger weight = darker red. Image size grows with the token count (see heatmap_cell_size).
/// Format from the extension of `path`: ".png", ".svg" or ".pdf" (case-insensitive).
/// Throws std::invalid_argument for another extension (naming the path), rows/cols < 1,
/// weights.size() != rows*cols, label counts other than 0 or rows/cols, or a weight that is
/// non-finite or outside [0, 1] (naming the index); std::runtime_error if cairo or the file system
/// fails to write (naming the path and cairo's status string / errno text).
void write_heatmap(const Heatmap& map, const std::string& path);

/// Writes a grid of heatmaps (Transformer attention: grid rows = layers, grid cols = heads; d2l
/// 11.7.7) with one shared colour scale and colour bar, figure `title` on top, each panel titled
/// (default "layer i head j"); "Keys" only under the bottom row and "Queries" only left of the
/// first column, as d2l.show_heatmaps does. Rows of the grid may have different lengths.
/// Throws std::invalid_argument for an empty grid or grid row and everything write_heatmap throws
/// for (messages name the panel); std::runtime_error on write failure.
void write_heatmap_grid(const std::vector<std::vector<Heatmap>>& grid, const std::string& title,
                        const std::string& path);

/// Geometry of a training-curve figure (fixed size per panel).
struct CurvesLayout {
  int width = 0;
  int height = 0;
  bool has_scores = false;  ///< right (score) panel present
  Rect loss_plot;           ///< plotting area of the left (loss) panel
  Rect score_plot;          ///< plotting area of the right (score) panel; zero if !has_scores
  Ticks loss_x, loss_y;     ///< axis ranges/ticks of the loss panel (x range = data range)
  Ticks score_x, score_y;   ///< axis ranges/ticks of the score panel

  /// Image position of data point (x, y) in the loss panel (right panel if `score_panel`).
  void to_image(bool score_panel, double x, double y, double* px, double* py) const;
};

/// Computes the layout write_curves uses. Throws std::invalid_argument if a series has
/// x.size() != y.size() (naming the series).
CurvesLayout layout_curves(const std::vector<Series>& losses, const std::vector<Series>& scores,
                           const std::string& title);

/// Writes a training-curve figure like d2l's Animator (d2l 3.6.4): left panel "loss" with one line
/// per series in `losses` (legend), right panel "BLEU" with `scores` (e.g. valid BLEU per
/// validation), skipped when `scores` is empty or has no points; both panels labelled `x_label`
/// along x ("epoch", "step", "training minutes"); numeric ticks, light grid, legend placed in the
/// emptiest corner, figure `title`. Same format / atomic-write rules and the same exceptions as
/// write_heatmap, plus std::invalid_argument for a series with x.size() != y.size().
void write_curves(const std::vector<Series>& losses, const std::vector<Series>& scores,
                  const std::string& title, const std::string& path, const std::string& x_label = "epoch");

}  // namespace nmt::plot
