// Shared pieces of nmt::plot: colormap, tick computation, text handling, atomic cairo writer.

#include "plot/plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "plot/canvas.h"

namespace nmt::plot {

namespace {

// ColorBrewer 9-class "Reds" (the stops matplotlib's "Reds" colormap interpolates).
constexpr std::array<std::array<int, 3>, 9> kRedsStops = {{{255, 245, 240},
                                                           {254, 224, 210},
                                                           {252, 187, 161},
                                                           {252, 146, 114},
                                                           {251, 106, 74},
                                                           {239, 59, 44},
                                                           {203, 24, 29},
                                                           {165, 15, 21},
                                                           {103, 0, 13}}};

}  // namespace

Rgb reds(double t) {
  if (!(t > 0.0)) t = 0.0;  // also maps NaN to 0
  if (t > 1.0) t = 1.0;
  const double pos = t * static_cast<double>(kRedsStops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(pos), kRedsStops.size() - 2);
  const double f = pos - static_cast<double>(i);
  auto mix = [&](int k) {
    return ((1.0 - f) * kRedsStops[i][k] + f * kRedsStops[i + 1][k]) / 255.0;
  };
  return Rgb{mix(0), mix(1), mix(2)};
}

Ticks nice_ticks(double lo, double hi, int target_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    throw std::invalid_argument("[plot] nice_ticks: bad range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  }
  if (target_count < 1) target_count = 1;
  if (hi - lo <= std::abs(hi) * 1e-12) {
    const double delta = std::max(0.5, std::abs(lo) * 0.05);
    lo -= delta;
    hi += delta;
  }
  const double raw = (hi - lo) / target_count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10.0 * mag;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * mag >= raw * (1.0 - 1e-9)) {
      step = m * mag;
      break;
    }
  }
  Ticks ticks;
  ticks.step = step;
  ticks.lo = std::floor(lo / step + 1e-9) * step;
  ticks.hi = std::ceil(hi / step - 1e-9) * step;
  const auto n = static_cast<int64_t>(std::llround((ticks.hi - ticks.lo) / step));
  for (int64_t i = 0; i <= n; ++i) {
    double v = ticks.lo + static_cast<double>(i) * step;
    if (std::abs(v) < step * 1e-9) v = 0.0;  // avoid "-0"
    ticks.values.push_back(v);
  }
  return ticks;
}

namespace detail {

namespace {

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;

enum class Format { kPng, kSvg, kPdf };

Format format_of(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = path.substr(dot);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (ext == ".png") return Format::kPng;
  if (ext == ".svg") return Format::kSvg;
  if (ext == ".pdf") return Format::kPdf;
  throw std::invalid_argument("[plot] unsupported image format for '" + path +
                              "': expected extension .png, .svg or .pdf");
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string svg_colour(const Rgb& c) {
  char buf[16];
  auto q = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", q(c.r), q(c.g), q(c.b));
  return buf;
}

// Inserts <title> after the root element's start tag and the recorded text runs as <text>
// elements before the closing </svg>, so they are painted on top of the cairo drawing.
void inject_svg_text(const std::string& file, const std::string& title,
                     const std::vector<TextItem>& texts) {
  std::string svg;
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("[plot] cannot reopen '" + file + "' to add text");
    std::ostringstream ss;
    ss << in.rdbuf();
    svg = ss.str();
  }
  const auto root = svg.find("<svg");
  const auto root_end = root == std::string::npos ? root : svg.find('>', root);
  const auto close = svg.rfind("</svg>");
  if (root_end == std::string::npos || close == std::string::npos || close < root_end) {
    throw std::runtime_error("[plot] unexpected SVG produced by cairo in '" + file + "'");
  }
  std::string body = "<g id=\"text\" font-family=\"" + std::string(kFontFamily) +
                     ", sans-serif\" xml:space=\"preserve\">\n";
  for (const auto& t : texts) {
    body += "<text transform=\"translate(" + svg_number(t.x) + "," + svg_number(t.y) + ")";
    if (t.angle_deg != 0.0) body += " rotate(" + svg_number(t.angle_deg) + ")";
    body += "\" x=\"0\" y=\"" + svg_number(t.dy) + "\" font-size=\"" + svg_number(t.size) + "\"";
    if (t.bold) body += " font-weight=\"bold\"";
    if (t.halign == HAlign::kMiddle) body += " text-anchor=\"middle\"";
    if (t.halign == HAlign::kEnd) body += " text-anchor=\"end\"";
    body += " fill=\"" + svg_colour(t.colour) + "\">" + xml_escape(t.text) + "</text>\n";
  }
  body += "</g>\n";
  std::string head = "\n<title>" + xml_escape(title) + "</title>\n";
  svg.insert(close, body);
  svg.insert(root_end + 1, head);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << svg;
  out.close();
  if (!out) throw std::runtime_error("[plot] failed to write '" + file + "': " + std::strerror(errno));
}

}  // namespace

Canvas::Canvas(cairo_t* cr, bool record_text) : cr_(cr), record_(record_text) {}

void Canvas::set_font(double size, bool bold) {
  cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
}

double Canvas::text_width(const std::string& text, double size, bool bold) {
  if (text.empty()) return 0.0;
  set_font(size, bold);
  cairo_text_extents_t ext;
  cairo_text_extents(cr_, text.c_str(), &ext);
  return ext.x_advance;
}

double Canvas::text_height(double size, bool bold) {
  set_font(size, bold);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  return fe.ascent + fe.descent;
}

void Canvas::text(const std::string& text, double x, double y, HAlign h, VAlign v, double size,
                  bool bold, double angle_deg, Rgb colour) {
  if (text.empty()) return;
  set_font(size, bold);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  double dy = 0.0;
  switch (v) {
    case VAlign::kBaseline: dy = 0.0; break;
    case VAlign::kMiddle: dy = (fe.ascent - fe.descent) / 2.0; break;
    case VAlign::kTop: dy = fe.ascent; break;
    case VAlign::kBottom: dy = -fe.descent; break;
  }
  if (record_) {
    texts_.push_back(TextItem{text, x, y, angle_deg, dy, h, size, bold, colour});
    return;
  }
  cairo_text_extents_t ext;
  cairo_text_extents(cr_, text.c_str(), &ext);
  double dx = 0.0;
  if (h == HAlign::kMiddle) dx = -ext.x_advance / 2.0;
  if (h == HAlign::kEnd) dx = -ext.x_advance;
  cairo_save(cr_);
  cairo_set_source_rgb(cr_, colour.r, colour.g, colour.b);
  cairo_translate(cr_, x, y);
  cairo_rotate(cr_, angle_deg * M_PI / 180.0);
  cairo_move_to(cr_, dx, dy);
  cairo_show_text(cr_, text.c_str());
  cairo_new_path(cr_);
  cairo_restore(cr_);
}

std::string sanitize_label(const std::string& text, int max_chars) {
  constexpr uint32_t kReplacement = 0xFFFD;
  std::string out;
  int count = 0;
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (max_chars > 0 && count == max_chars) {
      out += "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
      break;
    }
    const auto b0 = static_cast<unsigned char>(text[i]);
    uint32_t cp = kReplacement;
    size_t len = 1;
    if (b0 < 0x80) {
      cp = (b0 < 0x20 || b0 == 0x7F) ? kReplacement : b0;
    } else {
      size_t need = 0;
      uint32_t min_cp = 0;
      if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1, cp = b0 & 0x1F, min_cp = 0x80;
      } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2, cp = b0 & 0x0F, min_cp = 0x800;
      } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3, cp = b0 & 0x07, min_cp = 0x10000;
      }
      bool ok = need > 0 && i + need < n;
      if (ok) {
        for (size_t k = 1; k <= need; ++k) {
          const auto bk = static_cast<unsigned char>(text[i + k]);
          if ((bk & 0xC0) != 0x80) {
            ok = false;
            break;
          }
          cp = (cp << 6) | (bk & 0x3F);
        }
      }
      if (ok && (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
                 cp == 0xFFFF || (cp >= 0x80 && cp < 0xA0))) {
        ok = false;
      }
      if (ok) {
        len = need + 1;
      } else {
        cp = kReplacement;
        len = 1;
      }
    }
    append_utf8(out, cp);
    ++count;
    i += len;
  }
  return out;
}

std::string format_tick(double value, double step) {
  int digits = 0;
  if (step > 0.0 && std::isfinite(step)) {
    digits = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  }
  digits = std::min(digits, 12);
  if (std::abs(value) < step * 1e-9) value = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
  return buf;
}

void check_extension(const std::string& path) { (void)format_of(path); }

void with_scratch_canvas(const std::function<void(Canvas&)>& fn) {
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1));
  ContextPtr cr(cairo_create(surface.get()));
  Canvas canvas(cr.get(), false);
  fn(canvas);
}

void render_to_file(const std::string& path, int width, int height, const std::string& svg_title,
                    const std::function<void(Canvas&)>& draw) {
  const Format format = format_of(path);
  const std::string tmp = path + ".tmp";
  SurfacePtr surface;
  switch (format) {
    case Format::kPng:
      surface.reset(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
      break;
    case Format::kSvg:
      surface.reset(cairo_svg_surface_create(tmp.c_str(), width, height));
      break;
    case Format::kPdf:
      surface.reset(cairo_pdf_surface_create(tmp.c_str(), width, height));
      break;
  }
  auto fail = [&](cairo_status_t st) {
    std::remove(tmp.c_str());
    throw std::runtime_error("[plot] failed to write '" + path + "': " + cairo_status_to_string(st));
  };
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    const auto st = cairo_surface_status(surface.get());
    surface.reset();
    fail(st);
  }
  std::vector<TextItem> texts;
  {
    ContextPtr cr(cairo_create(surface.get()));
    Canvas canvas(cr.get(), format == Format::kSvg);
    cairo_set_source_rgb(cr.get(), 1.0, 1.0, 1.0);
    cairo_paint(cr.get());
    draw(canvas);
    const auto st = cairo_status(cr.get());
    if (st != CAIRO_STATUS_SUCCESS) {
      cr.reset();
      surface.reset();
      fail(st);
    }
    texts = canvas.texts();
  }
  cairo_status_t st = CAIRO_STATUS_SUCCESS;
  if (format == Format::kPng) {
    st = cairo_surface_write_to_png(surface.get(), tmp.c_str());
  } else {
    cairo_surface_finish(surface.get());
    st = cairo_surface_status(surface.get());
  }
  surface.reset();
  if (st != CAIRO_STATUS_SUCCESS) fail(st);
  if (format == Format::kSvg) {
    try {
      inject_svg_text(tmp, svg_title, texts);
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("[plot] cannot rename '" + tmp + "' to '" + path + "': " + why);
  }
}

}  // namespace detail

}  // namespace nmt::plot
