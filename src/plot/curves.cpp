// Training curves in the style of d2l's Animator (d2l 3.6.4): loss lines against epochs, steps or minutes and
// a validation score (BLEU) panel.

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

constexpr double kPlotW = 380.0;
constexpr double kPlotH = 250.0;
constexpr double kLeft = 64.0;
constexpr double kRight = 20.0;
constexpr double kPanelTop = 28.0;
constexpr double kBottom = 46.0;
constexpr double kPad = 8.0;
constexpr double kTick = 4.0;
constexpr double kTickFont = 10.0;
constexpr double kAxisFont = 12.0;
constexpr double kPanelTitleFont = 12.0;
constexpr double kFigureTitleFont = 14.0;
constexpr double kLegendFont = 10.0;
constexpr double kLegendRow = 16.0;
constexpr int kMaxNameChars = 40;
constexpr int kMaxTitleChars = 200;

// matplotlib tab10 colours and d2l's line style cycle ('-', '--', '-.', ':').
constexpr std::array<Rgb, 6> kColours = {{{0.122, 0.467, 0.706},
                                          {1.000, 0.498, 0.055},
                                          {0.173, 0.627, 0.173},
                                          {0.839, 0.153, 0.157},
                                          {0.580, 0.404, 0.741},
                                          {0.549, 0.337, 0.294}}};

void set_line_style(cairo_t* cr, size_t index) {
  const Rgb& c = kColours[index % kColours.size()];
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  cairo_set_line_width(cr, 1.8);
  static const double kDashed[] = {6.0, 3.0};
  static const double kDashDot[] = {6.0, 3.0, 1.5, 3.0};
  static const double kDotted[] = {1.5, 2.5};
  switch (index % 4) {
    case 0: cairo_set_dash(cr, nullptr, 0, 0.0); break;
    case 1: cairo_set_dash(cr, kDashed, 2, 0.0); break;
    case 2: cairo_set_dash(cr, kDashDot, 4, 0.0); break;
    default: cairo_set_dash(cr, kDotted, 2, 0.0); break;
  }
}

void validate(const std::vector<Series>& series, const char* group) {
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].x.size() != series[i].y.size()) {
      throw std::invalid_argument("[plot] " + std::string(group) + " series " + std::to_string(i) +
                                  " '" + series[i].name + "': x has " +
                                  std::to_string(series[i].x.size()) + " values but y has " +
                                  std::to_string(series[i].y.size()));
    }
  }
}

bool finite_point(const Series& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

bool has_points(const std::vector<Series>& series) {
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (finite_point(s, i)) return true;
    }
  }
  return false;
}

// x: the data range itself (like d2l's xlim); y: the data range widened to nice ticks.
void axis_ranges(const std::vector<Series>& series, Ticks* xt, Ticks* yt) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s, i)) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (!(x0 <= x1)) x0 = 0.0, x1 = 1.0, y0 = 0.0, y1 = 1.0;
  *xt = nice_ticks(x0, x1, 6);
  if (x0 < x1) {
    xt->lo = x0;
    xt->hi = x1;
    std::vector<double> inside;
    for (double v : xt->values) {
      if (v >= x0 - 1e-9 * (x1 - x0) && v <= x1 + 1e-9 * (x1 - x0)) inside.push_back(v);
    }
    xt->values = inside;
  }
  *yt = nice_ticks(y0, y1, 5);
}

struct Panel {
  const std::vector<Series>* series;
  Rect plot;
  Ticks xt;
  Ticks yt;
  const char* title;
  const std::string* x_label;
};

void map_point(const Rect& plot, const Ticks& xt, const Ticks& yt, double x, double y, double* px,
               double* py) {
  *px = plot.x + (x - xt.lo) / (xt.hi - xt.lo) * plot.w;
  *py = plot.y + plot.h - (y - yt.lo) / (yt.hi - yt.lo) * plot.h;
}

void draw_legend(Canvas& cv, const Panel& p) {
  std::vector<std::string> names;
  for (size_t k = 0; k < p.series->size(); ++k) {
    const std::string& n = (*p.series)[k].name;
    names.push_back(n.empty() ? "series " + std::to_string(k + 1) : detail::sanitize_label(n, kMaxNameChars));
  }
  if (names.empty()) return;
  double text_w = 0.0;
  for (const auto& n : names) text_w = std::max(text_w, cv.text_width(n, kLegendFont));
  const double w = 8.0 + 24.0 + 6.0 + text_w + 8.0;
  const double h = 6.0 + kLegendRow * static_cast<double>(names.size()) + 2.0;
  const double inset = 6.0;
  const std::array<std::array<double, 2>, 4> corners = {{
      {p.plot.x + p.plot.w - inset - w, p.plot.y + inset},               // upper right
      {p.plot.x + p.plot.w - inset - w, p.plot.y + p.plot.h - inset - h},  // lower right
      {p.plot.x + inset, p.plot.y + inset},                               // upper left
      {p.plot.x + inset, p.plot.y + p.plot.h - inset - h},                // lower left
  }};
  size_t best = 0;
  size_t best_count = std::numeric_limits<size_t>::max();
  for (size_t k = 0; k < corners.size(); ++k) {
    size_t count = 0;
    for (const auto& s : *p.series) {
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!finite_point(s, i)) continue;
        double px = 0.0, py = 0.0;
        map_point(p.plot, p.xt, p.yt, s.x[i], s.y[i], &px, &py);
        if (px >= corners[k][0] && px <= corners[k][0] + w && py >= corners[k][1] && py <= corners[k][1] + h) {
          ++count;
        }
      }
    }
    if (count < best_count) best_count = count, best = k;
  }
  const double bx = std::round(corners[best][0]), by = std::round(corners[best][1]);
  cairo_t* cr = cv.cr();
  cairo_set_dash(cr, nullptr, 0, 0.0);
  cairo_rectangle(cr, bx + 0.5, by + 0.5, w, h);
  cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 0.85);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
  cairo_set_line_width(cr, 1.0);
  cairo_stroke(cr);
  for (size_t k = 0; k < names.size(); ++k) {
    const double cy = by + 6.0 + (static_cast<double>(k) + 0.5) * kLegendRow;
    set_line_style(cr, k);
    cairo_move_to(cr, bx + 8.0, cy);
    cairo_line_to(cr, bx + 32.0, cy);
    cairo_stroke(cr);
    cv.text(names[k], bx + 38.0, cy, HAlign::kStart, VAlign::kMiddle, kLegendFont);
  }
  cairo_set_dash(cr, nullptr, 0, 0.0);
}

void draw_panel(Canvas& cv, const Panel& p) {
  cairo_t* cr = cv.cr();
  const Rgb kTextColour{0.1, 0.1, 0.1};
  // Grid lines and ticks.
  cairo_set_line_width(cr, 1.0);
  for (double v : p.xt.values) {
    double px = 0.0, py = 0.0;
    map_point(p.plot, p.xt, p.yt, v, p.yt.lo, &px, &py);
    const double xa = std::floor(px) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, xa, p.plot.y);
    cairo_line_to(cr, xa, p.plot.y + p.plot.h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, xa, p.plot.y + p.plot.h);
    cairo_line_to(cr, xa, p.plot.y + p.plot.h + kTick);
    cairo_stroke(cr);
    cv.text(detail::format_tick(v, p.xt.step), px, p.plot.y + p.plot.h + kTick + 2.0, HAlign::kMiddle,
            VAlign::kTop, kTickFont, false, 0.0, kTextColour);
  }
  for (double v : p.yt.values) {
    double px = 0.0, py = 0.0;
    map_point(p.plot, p.xt, p.yt, p.xt.lo, v, &px, &py);
    const double ya = std::floor(py) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, p.plot.x, ya);
    cairo_line_to(cr, p.plot.x + p.plot.w, ya);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, p.plot.x - kTick, ya);
    cairo_line_to(cr, p.plot.x, ya);
    cairo_stroke(cr);
    cv.text(detail::format_tick(v, p.yt.step), p.plot.x - kTick - 3.0, py, HAlign::kEnd, VAlign::kMiddle,
            kTickFont, false, 0.0, kTextColour);
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, p.plot.x + 0.5, p.plot.y + 0.5, p.plot.w - 1.0, p.plot.h - 1.0);
  cairo_stroke(cr);

  // Lines, clipped to the plot area; isolated points get a dot so a 1-epoch run is visible.
  cairo_save(cr);
  cairo_rectangle(cr, p.plot.x, p.plot.y, p.plot.w, p.plot.h);
  cairo_clip(cr);
  for (size_t k = 0; k < p.series->size(); ++k) {
    const Series& s = (*p.series)[k];
    set_line_style(cr, k);
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s, i)) {
        pen_down = false;
        continue;
      }
      double px = 0.0, py = 0.0;
      map_point(p.plot, p.xt, p.yt, s.x[i], s.y[i], &px, &py);
      if (pen_down) {
        cairo_line_to(cr, px, py);
      } else {
        cairo_move_to(cr, px, py);
      }
      pen_down = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0.0);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s, i)) continue;
      const bool prev = i > 0 && finite_point(s, i - 1);
      const bool next = i + 1 < s.x.size() && finite_point(s, i + 1);
      if (prev || next) continue;
      double px = 0.0, py = 0.0;
      map_point(p.plot, p.xt, p.yt, s.x[i], s.y[i], &px, &py);
      cairo_new_sub_path(cr);
      cairo_arc(cr, px, py, 3.0, 0.0, 2.0 * M_PI);
      cairo_fill(cr);
    }
  }
  cairo_restore(cr);

  cv.text(*p.x_label, p.plot.x + p.plot.w / 2.0, p.plot.y + p.plot.h + kBottom - 6.0, HAlign::kMiddle,
          VAlign::kBottom, kAxisFont, false, 0.0, kTextColour);
  cv.text(p.title, p.plot.x + p.plot.w / 2.0, p.plot.y - 8.0, HAlign::kMiddle, VAlign::kBottom,
          kPanelTitleFont, false, 0.0, kTextColour);
  draw_legend(cv, p);
}

double figure_title_height(const std::string& title) {
  if (title.empty()) return 0.0;
  double h = 0.0;
  detail::with_scratch_canvas([&](Canvas& cv) { h = cv.text_height(kFigureTitleFont, true); });
  return kPad + h + 2.0;
}

}  // namespace

void CurvesLayout::to_image(bool score_panel, double x, double y, double* px, double* py) const {
  if (score_panel) {
    map_point(score_plot, score_x, score_y, x, y, px, py);
  } else {
    map_point(loss_plot, loss_x, loss_y, x, y, px, py);
  }
}

CurvesLayout layout_curves(const std::vector<Series>& losses, const std::vector<Series>& scores,
                           const std::string& title) {
  validate(losses, "loss");
  validate(scores, "score");
  CurvesLayout lay;
  lay.has_scores = has_points(scores);
  const double top = figure_title_height(detail::sanitize_label(title, kMaxTitleChars)) + kPanelTop;
  const double panel_w = kLeft + kPlotW + kRight;
  lay.loss_plot = Rect{kLeft, top, kPlotW, kPlotH};
  axis_ranges(losses, &lay.loss_x, &lay.loss_y);
  if (lay.has_scores) {
    lay.score_plot = Rect{panel_w + kLeft, top, kPlotW, kPlotH};
    axis_ranges(scores, &lay.score_x, &lay.score_y);
  }
  lay.width = static_cast<int>(std::ceil(panel_w * (lay.has_scores ? 2.0 : 1.0)));
  lay.height = static_cast<int>(std::ceil(top + kPlotH + kBottom));
  return lay;
}

void write_curves(const std::vector<Series>& losses, const std::vector<Series>& scores,
                  const std::string& title, const std::string& path, const std::string& x_label) {
  detail::check_extension(path);
  const CurvesLayout lay = layout_curves(losses, scores, title);
  const std::string clean_title = detail::sanitize_label(title, kMaxTitleChars);
  const std::string clean_x_label = detail::sanitize_label(x_label, kMaxNameChars);
  detail::render_to_file(path, lay.width, lay.height, clean_title.empty() ? "training curves" : clean_title,
                         [&](Canvas& cv) {
                           draw_panel(cv, Panel{&losses, lay.loss_plot, lay.loss_x, lay.loss_y, "loss", &clean_x_label});
                           if (lay.has_scores) {
                             draw_panel(cv, Panel{&scores, lay.score_plot, lay.score_x, lay.score_y, "BLEU", &clean_x_label});
                           }
                           if (!clean_title.empty()) {
                             cv.text(clean_title, lay.width / 2.0, kPad, HAlign::kMiddle, VAlign::kTop,
                                     kFigureTitleFont, true);
                           }
                         });
}

}  // namespace nmt::plot
