// Attention heatmaps in the style of d2l.show_heatmaps (d2l 11.1), single and grid.

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "plot/canvas.h"
#include "plot/plot.h"

namespace nmt::plot {

namespace {

using detail::Canvas;
using detail::HAlign;
using detail::VAlign;

constexpr double kCellMax = 28.0;
constexpr double kCellMin = 6.0;
constexpr double kMatrixMax = 1200.0;
constexpr double kPad = 8.0;
constexpr double kTick = 4.0;
constexpr double kGap = 3.0;
constexpr double kAxisFont = 12.0;
constexpr double kTickFont = 10.0;
constexpr double kPanelTitleFont = 14.0;
constexpr double kGridPanelTitleFont = 12.0;
constexpr double kFigureTitleFont = 16.0;
constexpr double kBarWidth = 16.0;
constexpr double kBarMinHeight = 120.0;
constexpr int kMaxLabelChars = 24;
constexpr int kMaxTitleChars = 200;
constexpr float kWeightTolerance = 1e-4f;
constexpr const char* kXLabel = "Keys";
constexpr const char* kYLabel = "Queries";

void validate(const Heatmap& map, const std::string& where) {
  if (map.rows < 1 || map.cols < 1) {
    throw std::invalid_argument("[plot] " + where + ": rows and cols must be >= 1, got rows=" +
                                std::to_string(map.rows) + " cols=" + std::to_string(map.cols));
  }
  if (static_cast<int64_t>(map.weights.size()) != map.rows * map.cols) {
    throw std::invalid_argument("[plot] " + where + ": weights.size()=" +
                                std::to_string(map.weights.size()) + " but rows*cols=" +
                                std::to_string(map.rows) + "*" + std::to_string(map.cols));
  }
  if (!map.row_labels.empty() && static_cast<int64_t>(map.row_labels.size()) != map.rows) {
    throw std::invalid_argument("[plot] " + where + ": " + std::to_string(map.row_labels.size()) +
                                " row labels for " + std::to_string(map.rows) + " rows");
  }
  if (!map.col_labels.empty() && static_cast<int64_t>(map.col_labels.size()) != map.cols) {
    throw std::invalid_argument("[plot] " + where + ": " + std::to_string(map.col_labels.size()) +
                                " column labels for " + std::to_string(map.cols) + " columns");
  }
  for (size_t i = 0; i < map.weights.size(); ++i) {
    const float w = map.weights[i];
    if (!std::isfinite(w) || w < -kWeightTolerance || w > 1.0f + kWeightTolerance) {
      throw std::invalid_argument("[plot] " + where + ": weight at row " +
                                  std::to_string(i / static_cast<size_t>(map.cols)) + " col " +
                                  std::to_string(i % static_cast<size_t>(map.cols)) + " is " +
                                  std::to_string(w) + ", expected a value in [0, 1]");
    }
  }
}

std::vector<std::string> sanitize_all(const std::vector<std::string>& labels) {
  std::vector<std::string> out;
  out.reserve(labels.size());
  for (const auto& l : labels) out.push_back(detail::sanitize_label(l, kMaxLabelChars));
  return out;
}

double label_font_for(double cell) { return std::clamp(cell * 0.75, 6.0, 12.0); }

struct PanelSpec {
  const Heatmap* map = nullptr;
  std::string title;
  bool xlabel = true;
  bool ylabel = true;
};

PanelLayout layout_panel(Canvas& cv, const PanelSpec& spec, double cell, double label_font,
                         double title_font, double ox, double oy) {
  const Heatmap& map = *spec.map;
  PanelLayout p;
  p.rows = map.rows;
  p.cols = map.cols;
  p.cell = cell;
  p.show_xlabel = spec.xlabel;
  p.show_ylabel = spec.ylabel;
  p.title = spec.title;

  double row_w = 0.0;
  for (const auto& l : sanitize_all(map.row_labels)) row_w = std::max(row_w, cv.text_width(l, label_font));
  double col_w = 0.0;
  for (const auto& l : sanitize_all(map.col_labels)) col_w = std::max(col_w, cv.text_width(l, label_font));
  const double label_h = cv.text_height(label_font);
  const double axis_h = cv.text_height(kAxisFont);
  const double title_h = p.title.empty() ? 0.0 : cv.text_height(title_font) + 4.0;
  p.rotate_col_labels = !map.col_labels.empty() && col_w > cell - 2.0;

  double left = kPad;
  if (p.show_ylabel) left += axis_h + 6.0;
  if (!map.row_labels.empty()) left += row_w + kGap + kTick;
  p.matrix.x = std::round(ox + left);
  // A short matrix is pushed down so the vertical "Queries" label fits (applied whether or not the
  // label is shown, so panels of one grid row stay aligned).
  const double ylabel_w = cv.text_width(kYLabel, kAxisFont);
  const double ylabel_extra = std::max(0.0, (ylabel_w - static_cast<double>(map.rows) * cell) / 2.0);
  p.matrix.y = std::round(oy + kPad + title_h + ylabel_extra);
  p.matrix.w = static_cast<double>(map.cols) * cell;
  p.matrix.h = static_cast<double>(map.rows) * cell;

  double below = 0.0;
  if (!map.col_labels.empty()) below += kTick + kGap + (p.rotate_col_labels ? col_w : label_h);
  if (p.show_xlabel) below += 6.0 + axis_h;

  p.bounds.x = ox;
  p.bounds.y = oy;
  p.bounds.w = (p.matrix.x - ox) + p.matrix.w + kPad;
  p.bounds.h = (p.matrix.y - oy) + p.matrix.h + std::max(below, ylabel_extra) + kPad;
  if (p.show_xlabel) {  // "Keys" is centred under the matrix and may be wider than it
    const double xlabel_w = cv.text_width(kXLabel, kAxisFont);
    p.bounds.w = std::max(p.bounds.w, p.matrix.x + p.matrix.w / 2.0 + xlabel_w / 2.0 + kPad - ox);
  }
  if (!p.title.empty()) {
    const double tw = cv.text_width(p.title, title_font);
    p.title_cx = std::max(p.matrix.x + p.matrix.w / 2.0, ox + kPad + tw / 2.0);
    p.bounds.w = std::max(p.bounds.w, p.title_cx - ox + tw / 2.0 + kPad);
    p.title_top = oy + kPad;
  }
  p.bounds.w = std::ceil(p.bounds.w);
  p.bounds.h = std::ceil(p.bounds.h);
  return p;
}

// Places the colour bar right of the panels and sets the figure size.
void finish_layout(Canvas& cv, HeatmapLayout& lay, double max_weight) {
  lay.colorbar_ticks = nice_ticks(0.0, max_weight > 0.0 ? max_weight : 1.0, 5);
  lay.vmax = lay.colorbar_ticks.hi;
  double right = 0.0, bottom = 0.0, mtop = 1e300, mbottom = 0.0;
  for (const auto& row : lay.panels) {
    for (const auto& p : row) {
      right = std::max(right, p.bounds.x + p.bounds.w);
      bottom = std::max(bottom, p.bounds.y + p.bounds.h);
      mtop = std::min(mtop, p.matrix.y);
      mbottom = std::max(mbottom, p.matrix.y + p.matrix.h);
    }
  }
  lay.colorbar.x = std::round(right + kPad);
  lay.colorbar.y = mtop;
  lay.colorbar.w = kBarWidth;
  lay.colorbar.h = std::max(mbottom - mtop, kBarMinHeight);
  double tick_w = 0.0;
  for (double v : lay.colorbar_ticks.values) {
    tick_w = std::max(tick_w, cv.text_width(detail::format_tick(v, lay.colorbar_ticks.step), kTickFont));
  }
  const double tick_h = cv.text_height(kTickFont);
  lay.width = static_cast<int>(
      std::ceil(lay.colorbar.x + lay.colorbar.w + kTick + kGap + tick_w + kPad + 2.0));
  lay.height = static_cast<int>(
      std::ceil(std::max(bottom, lay.colorbar.y + lay.colorbar.h + tick_h / 2.0 + kPad)));
}

void draw_panel(Canvas& cv, const Heatmap& map, const PanelLayout& p, double vmax, double label_font,
                double title_font) {
  cairo_t* cr = cv.cr();
  // Cells.
  for (int64_t r = 0; r < map.rows; ++r) {
    for (int64_t c = 0; c < map.cols; ++c) {
      const float w = map.weights[static_cast<size_t>(r * map.cols + c)];
      const Rgb col = reds(static_cast<double>(w) / vmax);
      const Rect rc = p.cell_rect(r, c);
      cairo_set_source_rgb(cr, col.r, col.g, col.b);
      cairo_rectangle(cr, rc.x, rc.y, rc.w, rc.h);
      cairo_fill(cr);
    }
  }
  // Frame.
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, p.matrix.x + 0.5, p.matrix.y + 0.5, p.matrix.w - 1.0, p.matrix.h - 1.0);
  cairo_stroke(cr);

  const auto row_labels = sanitize_all(map.row_labels);
  const auto col_labels = sanitize_all(map.col_labels);
  for (size_t r = 0; r < row_labels.size(); ++r) {
    const double cy = p.matrix.y + (static_cast<double>(r) + 0.5) * p.cell;
    cairo_move_to(cr, p.matrix.x - kTick, std::floor(cy) + 0.5);
    cairo_line_to(cr, p.matrix.x, std::floor(cy) + 0.5);
    cairo_stroke(cr);
    cv.text(row_labels[r], p.matrix.x - kTick - kGap, cy, HAlign::kEnd, VAlign::kMiddle, label_font);
  }
  const double mbottom = p.matrix.y + p.matrix.h;
  double labels_bottom = mbottom;
  const double label_h = cv.text_height(label_font);
  for (size_t c = 0; c < col_labels.size(); ++c) {
    const double cx = p.matrix.x + (static_cast<double>(c) + 0.5) * p.cell;
    cairo_move_to(cr, std::floor(cx) + 0.5, mbottom);
    cairo_line_to(cr, std::floor(cx) + 0.5, mbottom + kTick);
    cairo_stroke(cr);
    const double y = mbottom + kTick + kGap;
    if (p.rotate_col_labels) {
      cv.text(col_labels[c], cx, y, HAlign::kEnd, VAlign::kMiddle, label_font, false, -90.0);
      labels_bottom = std::max(labels_bottom, y + cv.text_width(col_labels[c], label_font));
    } else {
      cv.text(col_labels[c], cx, y, HAlign::kMiddle, VAlign::kTop, label_font);
      labels_bottom = std::max(labels_bottom, y + label_h);
    }
  }
  if (p.show_xlabel) {
    cv.text(kXLabel, p.matrix.x + p.matrix.w / 2.0, labels_bottom + 6.0, HAlign::kMiddle,
            VAlign::kTop, kAxisFont);
  }
  if (p.show_ylabel) {
    const double axis_h = cv.text_height(kAxisFont);
    cv.text(kYLabel, p.bounds.x + kPad + axis_h / 2.0, p.matrix.y + p.matrix.h / 2.0,
            HAlign::kMiddle, VAlign::kMiddle, kAxisFont, false, -90.0);
  }
  if (!p.title.empty()) {
    cv.text(p.title, p.title_cx, p.title_top, HAlign::kMiddle, VAlign::kTop, title_font);
  }
}

void draw_colorbar(Canvas& cv, const HeatmapLayout& lay) {
  cairo_t* cr = cv.cr();
  const Rect& b = lay.colorbar;
  cairo_pattern_t* grad = cairo_pattern_create_linear(0.0, b.y + b.h, 0.0, b.y);
  constexpr int kStops = 16;
  for (int k = 0; k <= kStops; ++k) {
    const double t = static_cast<double>(k) / kStops;
    const Rgb c = reds(t);
    cairo_pattern_add_color_stop_rgb(grad, t, c.r, c.g, c.b);
  }
  cairo_rectangle(cr, b.x, b.y, b.w, b.h);
  cairo_set_source(cr, grad);
  cairo_fill(cr);
  cairo_pattern_destroy(grad);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, b.x + 0.5, b.y + 0.5, b.w - 1.0, b.h - 1.0);
  cairo_stroke(cr);
  for (double v : lay.colorbar_ticks.values) {
    const double y = b.y + b.h - v / lay.vmax * b.h;
    const double ya = std::clamp(std::floor(y) + 0.5, b.y + 0.5, b.y + b.h - 0.5);
    cairo_move_to(cr, b.x + b.w, ya);
    cairo_line_to(cr, b.x + b.w + kTick, ya);
    cairo_stroke(cr);
    cv.text(detail::format_tick(v, lay.colorbar_ticks.step), b.x + b.w + kTick + kGap, y,
            HAlign::kStart, VAlign::kMiddle, kTickFont);
  }
}

struct GridSpec {
  std::vector<std::vector<PanelSpec>> panels;
  std::string title;
  double cell = kCellMax;
  double max_weight = 0.0;
};

GridSpec make_grid_spec(const std::vector<std::vector<Heatmap>>& grid, const std::string& title) {
  if (grid.empty()) throw std::invalid_argument("[plot] heatmap grid is empty");
  GridSpec spec;
  spec.title = detail::sanitize_label(title, kMaxTitleChars);
  int64_t max_tokens = 1;
  for (size_t i = 0; i < grid.size(); ++i) {
    if (grid[i].empty()) {
      throw std::invalid_argument("[plot] heatmap grid row " + std::to_string(i) + " is empty");
    }
    spec.panels.emplace_back();
    for (size_t j = 0; j < grid[i].size(); ++j) {
      const Heatmap& map = grid[i][j];
      validate(map, "heatmap grid panel [" + std::to_string(i) + "][" + std::to_string(j) + "]");
      PanelSpec ps;
      ps.map = &map;
      ps.title = map.title.empty() ? "layer " + std::to_string(i + 1) + " head " + std::to_string(j + 1)
                                   : detail::sanitize_label(map.title, kMaxTitleChars);
      ps.xlabel = i + 1 == grid.size();
      ps.ylabel = j == 0;
      spec.panels.back().push_back(ps);
      max_tokens = std::max({max_tokens, map.rows, map.cols});
      for (float w : map.weights) spec.max_weight = std::max(spec.max_weight, std::min(1.0, static_cast<double>(w)));
    }
  }
  spec.cell = heatmap_cell_size(max_tokens);
  return spec;
}

HeatmapLayout layout_grid_spec(Canvas& cv, const GridSpec& spec) {
  HeatmapLayout lay;
  lay.cell = spec.cell;
  lay.label_font_size = label_font_for(spec.cell);
  lay.title = spec.title;
  const double top = spec.title.empty() ? 0.0 : kPad + cv.text_height(kFigureTitleFont) + 4.0;
  lay.title_top = kPad;
  // Pass 1: panel sizes; column widths and row heights are the maxima over the grid.
  std::vector<double> col_w, row_h(spec.panels.size(), 0.0);
  for (size_t i = 0; i < spec.panels.size(); ++i) {
    for (size_t j = 0; j < spec.panels[i].size(); ++j) {
      const PanelLayout p =
          layout_panel(cv, spec.panels[i][j], spec.cell, lay.label_font_size, kGridPanelTitleFont, 0, 0);
      if (col_w.size() <= j) col_w.resize(j + 1, 0.0);
      col_w[j] = std::max(col_w[j], p.bounds.w);
      row_h[i] = std::max(row_h[i], p.bounds.h);
    }
  }
  // Pass 2: place panels.
  double y = top;
  for (size_t i = 0; i < spec.panels.size(); ++i) {
    lay.panels.emplace_back();
    double x = 0.0;
    for (size_t j = 0; j < spec.panels[i].size(); ++j) {
      lay.panels.back().push_back(
          layout_panel(cv, spec.panels[i][j], spec.cell, lay.label_font_size, kGridPanelTitleFont, x, y));
      x += col_w[j];
    }
    y += row_h[i];
  }
  finish_layout(cv, lay, spec.max_weight);
  if (!spec.title.empty()) {
    const double tw = cv.text_width(spec.title, kFigureTitleFont, true);
    lay.width = std::max(lay.width, static_cast<int>(std::ceil(tw + 2.0 * kPad)));
  }
  return lay;
}

}  // namespace

Rect PanelLayout::cell_rect(int64_t r, int64_t c) const {
  return Rect{matrix.x + static_cast<double>(c) * cell, matrix.y + static_cast<double>(r) * cell, cell,
              cell};
}

double heatmap_cell_size(int64_t max_tokens) {
  if (max_tokens < 1) {
    throw std::invalid_argument("[plot] heatmap_cell_size: max_tokens must be >= 1, got " +
                                std::to_string(max_tokens));
  }
  return std::clamp(std::floor(kMatrixMax / static_cast<double>(max_tokens)), kCellMin, kCellMax);
}

HeatmapLayout layout_heatmap(const Heatmap& map) {
  validate(map, "heatmap");
  HeatmapLayout lay;
  detail::with_scratch_canvas([&](Canvas& cv) {
    lay.cell = heatmap_cell_size(std::max(map.rows, map.cols));
    lay.label_font_size = label_font_for(lay.cell);
    PanelSpec ps;
    ps.map = &map;
    ps.title = detail::sanitize_label(map.title, kMaxTitleChars);
    lay.panels = {{layout_panel(cv, ps, lay.cell, lay.label_font_size, kPanelTitleFont, 0, 0)}};
    double max_weight = 0.0;
    for (float w : map.weights) max_weight = std::max(max_weight, std::min(1.0, static_cast<double>(w)));
    finish_layout(cv, lay, max_weight);
  });
  return lay;
}

HeatmapLayout layout_heatmap_grid(const std::vector<std::vector<Heatmap>>& grid,
                                  const std::string& title) {
  const GridSpec spec = make_grid_spec(grid, title);
  HeatmapLayout lay;
  detail::with_scratch_canvas([&](Canvas& cv) { lay = layout_grid_spec(cv, spec); });
  return lay;
}

void write_heatmap(const Heatmap& map, const std::string& path) {
  detail::check_extension(path);
  const HeatmapLayout lay = layout_heatmap(map);
  const std::string svg_title = lay.panels[0][0].title.empty() ? "attention heatmap" : lay.panels[0][0].title;
  detail::render_to_file(path, lay.width, lay.height, svg_title, [&](Canvas& cv) {
    draw_panel(cv, map, lay.panels[0][0], lay.vmax, lay.label_font_size, kPanelTitleFont);
    draw_colorbar(cv, lay);
  });
}

void write_heatmap_grid(const std::vector<std::vector<Heatmap>>& grid, const std::string& title,
                        const std::string& path) {
  detail::check_extension(path);
  const HeatmapLayout lay = layout_heatmap_grid(grid, title);
  detail::render_to_file(path, lay.width, lay.height, lay.title.empty() ? "attention heatmaps" : lay.title,
                         [&](Canvas& cv) {
                           for (size_t i = 0; i < grid.size(); ++i) {
                             for (size_t j = 0; j < grid[i].size(); ++j) {
                               draw_panel(cv, grid[i][j], lay.panels[i][j], lay.vmax,
                                          lay.label_font_size, kGridPanelTitleFont);
                             }
                           }
                           if (!lay.title.empty()) {
                             cv.text(lay.title, lay.width / 2.0, lay.title_top, HAlign::kMiddle,
                                     VAlign::kTop, kFigureTitleFont, true);
                           }
                           draw_colorbar(cv, lay);
                         });
}

}  // namespace nmt::plot
