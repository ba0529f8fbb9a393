#pragma once

// Internal helpers of nmt::plot shared by heatmap.cpp and curves.cpp: a thin cairo wrapper that
// measures and draws UTF-8 text (or records it for SVG), and the atomic file writer.

#include <cairo.h>

#include <functional>
#include <string>
#include <vector>

#include "plot/plot.h"

namespace nmt::plot::detail {

/// Font family used for all text (Debian fonts-dejavu-core).
inline constexpr const char* kFontFamily = "DejaVu Sans";

enum class HAlign { kStart, kMiddle, kEnd };
enum class VAlign { kBaseline, kMiddle, kTop, kBottom };

/// A text run as drawn: anchor (x, y), rotation in degrees (negative = counter-clockwise on
/// screen), baseline offset dy in the rotated frame, horizontal anchor.
struct TextItem {
  std::string text;
  double x = 0.0;
  double y = 0.0;
  double angle_deg = 0.0;
  double dy = 0.0;
  HAlign halign = HAlign::kStart;
  double size = 10.0;
  bool bold = false;
  Rgb colour;
};

/// Wraps a cairo context. In recording mode (SVG) text is not drawn through cairo but collected in
/// `texts()` so the writer can emit real <text> elements; measurement always uses cairo.
class Canvas {
 public:
  /// `cr` is borrowed, not owned.
  Canvas(cairo_t* cr, bool record_text);

  cairo_t* cr() const { return cr_; }

  /// Advance width of `text` (sanitised UTF-8) at font `size`.
  double text_width(const std::string& text, double size, bool bold = false);
  /// Font ascent + descent at `size`.
  double text_height(double size, bool bold = false);

  /// Draws `text` anchored at (x, y), aligned by (h, v) in the frame rotated by `angle_deg`.
  void text(const std::string& text, double x, double y, HAlign h, VAlign v, double size,
            bool bold = false, double angle_deg = 0.0, Rgb colour = Rgb{0.0, 0.0, 0.0});

  const std::vector<TextItem>& texts() const { return texts_; }

 private:
  void set_font(double size, bool bold);

  cairo_t* cr_;
  bool record_;
  std::vector<TextItem> texts_;
};

/// Replaces invalid UTF-8 and control characters by U+FFFD (cairo's toy API rejects invalid UTF-8
/// and XML rejects control characters) and truncates to `max_chars` code points with "…"
/// (max_chars <= 0: no truncation).
std::string sanitize_label(const std::string& text, int max_chars);

/// Formats a tick value with as many decimals as `step` needs.
std::string format_tick(double value, double step);

/// Creates a surface of the format chosen by `path`'s extension, runs `draw` on a white
/// background, writes to path + ".tmp" and renames it to `path`. `svg_title` becomes the SVG's
/// <title>. Throws std::invalid_argument (bad extension) / std::runtime_error (write failure).
void render_to_file(const std::string& path, int width, int height, const std::string& svg_title,
                    const std::function<void(Canvas&)>& draw);

/// Throws std::invalid_argument naming `path` unless its extension is .png/.svg/.pdf.
void check_extension(const std::string& path);

/// Runs `fn` with a Canvas on a scratch 1x1 image surface (for text measurement in layouts).
void with_scratch_canvas(const std::function<void(Canvas&)>& fn);

}  // namespace nmt::plot::detail
