// Tests for nmt::plot (attention heatmaps and training curves rendered with cairo).

#include "plot/plot.h"

#include <cairo.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nmt::plot::Heatmap;
using nmt::plot::HeatmapLayout;
using nmt::plot::Series;

// A scratch directory removed at the end of each test case.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("nmt_plot_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Loaded PNG; pixel() returns the luminance (0..255) of the pixel containing (x, y).
struct Png {
  cairo_surface_t* surface = nullptr;
  explicit Png(const std::string& path) : surface(cairo_image_surface_create_from_png(path.c_str())) {}
  ~Png() { cairo_surface_destroy(surface); }
  Png(const Png&) = delete;
  Png& operator=(const Png&) = delete;
  bool ok() const { return cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(surface); }
  int height() const { return cairo_image_surface_get_height(surface); }
  uint32_t argb(double x, double y) const {
    cairo_surface_flush(surface);
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    const int ix = static_cast<int>(std::floor(x));
    const int iy = static_cast<int>(std::floor(y));
    return *reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(iy) * stride + ix * 4);
  }
  double luminance(double x, double y) const {
    const uint32_t p = argb(x, y);
    const double r = (p >> 16) & 0xFF, g = (p >> 8) & 0xFF, b = p & 0xFF;
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
};

// Minimal XML well-formedness check: balanced, properly nested elements, quoted attributes,
// comments / PIs / CDATA skipped, exactly one root element.
bool xml_well_formed(const std::string& s, std::string* why) {
  std::vector<std::string> stack;
  int roots = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '<') {
      if (s[i] == '&') {
        const size_t semi = s.find(';', i);
        if (semi == std::string::npos || semi - i > 10) return *why = "bad entity at " + std::to_string(i), false;
      }
      ++i;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find("-->", i);
      if (e == std::string::npos) return *why = "unterminated comment", false;
      i = e + 3;
    } else if (s.compare(i, 2, "<?") == 0) {
      const size_t e = s.find("?>", i);
      if (e == std::string::npos) return *why = "unterminated PI", false;
      i = e + 2;
    } else if (s.compare(i, 9, "<![CDATA[") == 0) {
      const size_t e = s.find("]]>", i);
      if (e == std::string::npos) return *why = "unterminated CDATA", false;
      i = e + 3;
    } else {
      // Find the end of the tag, skipping quoted attribute values.
      size_t j = i + 1;
      char quote = 0;
      while (j < s.size() && (quote != 0 || s[j] != '>')) {
        if (quote == 0 && (s[j] == '"' || s[j] == '\'')) {
          quote = s[j];
        } else if (quote != 0 && s[j] == quote) {
          quote = 0;
        } else if (quote == 0 && s[j] == '<') {
          return *why = "'<' inside tag at " + std::to_string(j), false;
        }
        ++j;
      }
      if (j >= s.size()) return *why = "unterminated tag", false;
      const std::string tag = s.substr(i + 1, j - i - 1);
      if (tag.empty()) return *why = "empty tag", false;
      if (tag[0] == '/') {
        const std::string name = tag.substr(1, tag.find_first_of(" \t\n>") - 1);
        if (stack.empty() || stack.back() != name) return *why = "mismatched </" + name + ">", false;
        stack.pop_back();
      } else {
        const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
        if (stack.empty()) ++roots;
        if (tag.back() != '/') stack.push_back(name);
      }
      i = j + 1;
    }
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  if (roots != 1) return *why = std::to_string(roots) + " root elements", false;
  return true;
}

Heatmap make_map(int64_t rows, int64_t cols, const std::vector<std::string>& row_labels,
                 const std::vector<std::string>& col_labels) {
  Heatmap m;
  m.rows = rows;
  m.cols = cols;
  m.row_labels = row_labels;
  m.col_labels = col_labels;
  m.weights.assign(static_cast<size_t>(rows * cols), 0.0f);
  // Softmax-like rows: each row peaks on a different column.
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(-std::abs(static_cast<double>(c - r % cols)));
    for (int64_t c = 0; c < cols; ++c) {
      m.weights[static_cast<size_t>(r * cols + c)] =
          static_cast<float>(std::exp(-std::abs(static_cast<double>(c - r % cols))) / sum);
    }
  }
  return m;
}

std::vector<std::string> numbered(const std::string& prefix, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("plot colormap and ticks", "[plot]") {
  using nmt::plot::nice_ticks;
  using nmt::plot::reds;
  SECTION("reds goes from near white to dark red, monotonically darker") {
    const auto lo = reds(0.0);
    CHECK_THAT(lo.r, Catch::Matchers::WithinAbs(1.0, 1e-9));
    CHECK(lo.g > 0.95);
    const auto hi = reds(1.0);
    CHECK_THAT(hi.r, Catch::Matchers::WithinAbs(103.0 / 255.0, 1e-9));
    CHECK_THAT(hi.g, Catch::Matchers::WithinAbs(0.0, 1e-9));
    double prev = 1e9;
    for (int k = 0; k <= 40; ++k) {
      const auto c = reds(k / 40.0);
      const double lum = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
      CHECK(lum < prev);
      prev = lum;
    }
    CHECK_THAT(reds(-1.0).g, Catch::Matchers::WithinAbs(lo.g, 1e-12));
    CHECK_THAT(reds(2.0).r, Catch::Matchers::WithinAbs(hi.r, 1e-12));
  }
  SECTION("nice ticks") {
    const auto t = nice_ticks(0.0, 0.93, 5);
    CHECK_THAT(t.step, Catch::Matchers::WithinAbs(0.2, 1e-12));
    CHECK_THAT(t.lo, Catch::Matchers::WithinAbs(0.0, 1e-12));
    CHECK_THAT(t.hi, Catch::Matchers::WithinAbs(1.0, 1e-12));
    REQUIRE(t.values.size() == 6);
    CHECK_THAT(t.values[3], Catch::Matchers::WithinAbs(0.6, 1e-12));
    const auto u = nice_ticks(2.3, 7.9, 5);
    CHECK_THAT(u.step, Catch::Matchers::WithinAbs(2.0, 1e-12));
    CHECK_THAT(u.lo, Catch::Matchers::WithinAbs(2.0, 1e-12));
    CHECK_THAT(u.hi, Catch::Matchers::WithinAbs(8.0, 1e-12));
    const auto d = nice_ticks(3.0, 3.0, 5);  // degenerate range is widened
    CHECK(d.lo < 3.0);
    CHECK(d.hi > 3.0);
    CHECK_THROWS_AS(nice_ticks(1.0, 0.0, 5), std::invalid_argument);
    CHECK_THROWS_AS(nice_ticks(0.0, NAN, 5), std::invalid_argument);
  }
}

TEST_CASE("plot heatmap layout", "[plot]") {
  using nmt::plot::heatmap_cell_size;
  using nmt::plot::layout_heatmap;
  SECTION("cell size is 28 px for short sentences and shrinks for long ones") {
    CHECK(heatmap_cell_size(1) == 28.0);
    CHECK(heatmap_cell_size(10) == 28.0);
    CHECK(heatmap_cell_size(100) == 12.0);
    CHECK(heatmap_cell_size(100000) == 6.0);
    CHECK_THROWS_AS(heatmap_cell_size(0), std::invalid_argument);
  }
  SECTION("image grows with the number of tokens and stays sane at 100 tokens") {
    const HeatmapLayout small = layout_heatmap(make_map(3, 4, numbered("q", 3), numbered("k", 4)));
    const HeatmapLayout medium = layout_heatmap(make_map(12, 15, numbered("q", 12), numbered("k", 15)));
    const HeatmapLayout large = layout_heatmap(make_map(100, 100, numbered("q", 100), numbered("k", 100)));
    CHECK(small.width < medium.width);
    CHECK(small.height < medium.height);
    CHECK(medium.width < large.width);
    CHECK(large.width < 2000);
    CHECK(large.height < 2000);
    const auto& p = medium.panels.at(0).at(0);
    CHECK(p.matrix.w == 15 * 28.0);
    CHECK(p.matrix.h == 12 * 28.0);
    CHECK(p.matrix.x + p.matrix.w <= medium.colorbar.x);
    CHECK(medium.colorbar.x + medium.colorbar.w < medium.width);
    const auto cell = p.cell_rect(2, 3);
    CHECK(cell.x == p.matrix.x + 3 * 28.0);
    CHECK(cell.y == p.matrix.y + 2 * 28.0);
  }
  SECTION("long key labels are rotated, short ones are not") {
    const auto short_labels = layout_heatmap(make_map(2, 3, {"a", "b"}, {"x", "y", "z"}));
    CHECK_FALSE(short_labels.panels[0][0].rotate_col_labels);
    const auto long_labels =
        layout_heatmap(make_map(2, 3, {"a", "b"}, {"international", "ization", "<eos>"}));
    CHECK(long_labels.panels[0][0].rotate_col_labels);
    CHECK(long_labels.height > short_labels.height);
  }
  SECTION("colour scale tops out at the largest weight rounded up to a tick") {
    Heatmap m = make_map(2, 2, {}, {});
    m.weights = {0.1f, 0.43f, 0.2f, 0.05f};
    const auto lay = layout_heatmap(m);
    CHECK_THAT(lay.vmax, Catch::Matchers::WithinAbs(0.5, 1e-9));
    CHECK(lay.colorbar_ticks.values.size() == 6);
  }
}

TEST_CASE("plot write_heatmap", "[plot]") {
  TempDir dir;
  SECTION("PNG fits its drawing and the largest weight is the darkest cell") {
    Heatmap m;
    m.rows = 3;
    m.cols = 4;
    m.weights = {0.05f, 0.10f, 0.70f, 0.15f,  //
                 0.90f, 0.02f, 0.03f, 0.05f,  //
                 0.25f, 0.25f, 0.30f, 0.20f};
    m.row_labels = {"ça", "été", "œil"};
    m.col_labels = {"it", "was", "summer", "<eos>"};
    m.title = "attention";
    const std::string path = dir.file("map.png");
    nmt::plot::write_heatmap(m, path);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    const HeatmapLayout lay = nmt::plot::layout_heatmap(m);
    Png png(path);
    REQUIRE(png.ok());
    // The image size is checked against the pixels, not against the layout code that chose it: nothing is
    // clipped (a 2-pixel white border all round) and no side is padded out (ink within 16 px of every edge).
    const int w = png.width(), h = png.height();
    REQUIRE(w > 4 * 28);  // at least the matrix: 4 columns of 28-pixel cells
    REQUIRE(h > 3 * 28);
    bool border_white = true;
    for (int x = 0; x < w; ++x)
      for (int y : {0, 1, h - 2, h - 1}) border_white = border_white && png.luminance(x, y) > 250.0;
    for (int y = 0; y < h; ++y)
      for (int x : {0, 1, w - 2, w - 1}) border_white = border_white && png.luminance(x, y) > 250.0;
    CHECK(border_white);
    const auto ink_in = [&](int x0, int x1, int y0, int y1) {
      for (int x = x0; x < x1; ++x)
        for (int y = y0; y < y1; ++y)
          if (png.luminance(x, y) < 200.0) return true;
      return false;
    };
    CHECK(ink_in(0, 16, 0, h));      // left: the "Queries" label
    CHECK(ink_in(w - 16, w, 0, h));  // right: the colour bar's tick labels
    CHECK(ink_in(0, w, 0, 16));      // top: the title
    CHECK(ink_in(0, w, h - 16, h));  // bottom: the "Keys" label
    const auto& panel = lay.panels[0][0];
    // The darkest cell measured in pixels is one 28-pixel cell (the matrix frame may take its left column).
    const auto rc_dark = panel.cell_rect(1, 0);
    const int cx = static_cast<int>(rc_dark.x + rc_dark.w / 2), cy = static_cast<int>(rc_dark.y + rc_dark.h / 2);
    const uint32_t dark = png.argb(cx, cy);
    int left = cx, right = cx, top = cy, bottom = cy;
    while (left > 0 && png.argb(left - 1, cy) == dark) --left;
    while (right < w - 1 && png.argb(right + 1, cy) == dark) ++right;
    while (top > 0 && png.argb(cx, top - 1) == dark) --top;
    while (bottom < h - 1 && png.argb(cx, bottom + 1) == dark) ++bottom;
    CHECK(right - left + 1 >= 27);
    CHECK(right - left + 1 <= 28);
    CHECK(bottom - top + 1 == 28);
    // Luminance must strictly decrease as weight increases (distinct weights only).
    std::vector<std::pair<float, double>> cells;
    for (int64_t r = 0; r < m.rows; ++r) {
      for (int64_t c = 0; c < m.cols; ++c) {
        const auto rc = panel.cell_rect(r, c);
        cells.emplace_back(m.weights[static_cast<size_t>(r * m.cols + c)],
                           png.luminance(rc.x + rc.w / 2, rc.y + rc.h / 2));
      }
    }
    const auto rc_max = panel.cell_rect(1, 0);
    const double darkest = png.luminance(rc_max.x + rc_max.w / 2, rc_max.y + rc_max.h / 2);
    for (const auto& [w, lum] : cells) {
      if (w < 0.9f) CHECK(lum > darkest);
      for (const auto& [w2, lum2] : cells) {
        if (w2 > w + 1e-6f) CHECK(lum2 < lum);
      }
    }
    CHECK(darkest < 100.0);  // dark red, not mid-tone
    const auto rc_min = panel.cell_rect(1, 1);
    CHECK(png.luminance(rc_min.x + rc_min.w / 2, rc_min.y + rc_min.h / 2) > 225.0);
    // The colour bar is dark at the top and light at the bottom.
    const auto& bar = lay.colorbar;
    CHECK(png.luminance(bar.x + bar.w / 2, bar.y + 2) < 100.0);
    CHECK(png.luminance(bar.x + bar.w / 2, bar.y + bar.h - 2) > 225.0);
    // Something (text) is drawn left of the matrix where the query labels are.
    bool ink = false;
    for (double x = 0; x < panel.matrix.x - 4; x += 1.0) {
      for (double y = panel.matrix.y; y < panel.matrix.y + panel.matrix.h; y += 1.0) {
        ink = ink || png.luminance(x, y) < 128.0;
      }
    }
    CHECK(ink);
  }
  SECTION("SVG parses as XML and holds the token labels as text") {
    Heatmap m = make_map(3, 4, {"ça", "été", "œil"}, {"it", "was", "summer", "<eos>"});
    m.title = "enc-dec attention & more";
    const std::string path = dir.file("map.svg");
    nmt::plot::write_heatmap(m, path);
    const std::string svg = read_all(path);
    CHECK(svg.rfind("<?xml", 0) == 0);
    std::string why;
    CHECK(xml_well_formed(svg, &why));
    INFO(why);
    CHECK(svg.find(">ça</text>") != std::string::npos);
    CHECK(svg.find(">été</text>") != std::string::npos);
    CHECK(svg.find(">œil</text>") != std::string::npos);
    CHECK(svg.find(">&lt;eos&gt;</text>") != std::string::npos);
    CHECK(svg.find("<title>enc-dec attention &amp; more</title>") != std::string::npos);
    CHECK(svg.find(">Keys</text>") != std::string::npos);
    CHECK(svg.find(">Queries</text>") != std::string::npos);
    CHECK_FALSE(fs::exists(path + ".tmp"));
  }
  SECTION("PDF is written") {
    const std::string path = dir.file("map.PDF");
    nmt::plot::write_heatmap(make_map(2, 2, {"a", "b"}, {"c", "d"}), path);
    CHECK(read_all(path).rfind("%PDF", 0) == 0);
  }
  SECTION("1 token and 100 tokens both render") {
    const std::string one = dir.file("one.png");
    nmt::plot::write_heatmap(make_map(1, 1, {"x"}, {"<eos>"}), one);
    Png p1(one);
    REQUIRE(p1.ok());
    CHECK(p1.width() > 28);
    CHECK(p1.width() < 400);  // one 28-pixel cell, its labels and the colour bar
    const Heatmap big = make_map(100, 100, numbered("tok", 100), numbered("word", 100));
    const std::string hundred = dir.file("hundred.png");
    nmt::plot::write_heatmap(big, hundred);
    Png p100(hundred);
    REQUIRE(p100.ok());
    // 100 cells of 12 pixels (heatmap_cell_size(100)) plus labels and the colour bar, and less than the
    // 100 * 28 pixels that unshrunk cells would take.
    CHECK(p100.width() > 1200);
    CHECK(p100.width() < 1200 + 400);
    CHECK(p100.height() > 1200);
    CHECK(p100.height() < 1200 + 400);
  }
  SECTION("invalid UTF-8 and control characters in labels do not break rendering") {
    const std::string path = dir.file("bad_utf8.svg");
    nmt::plot::write_heatmap(make_map(2, 2, {"\xff\xfe", "a\x01"}, {"\xc3", "ok"}), path);
    std::string why;
    CHECK(xml_well_formed(read_all(path), &why));
    INFO(why);
    CHECK(read_all(path).find(">a\xEF\xBF\xBD</text>") != std::string::npos);
  }
  SECTION("rewriting an existing file replaces it") {
    const std::string path = dir.file("again.png");
    nmt::plot::write_heatmap(make_map(2, 2, {}, {}), path);
    nmt::plot::write_heatmap(make_map(5, 5, {}, {}), path);
    Png png(path);
    REQUIRE(png.ok());
    // The file holds the 5x5 image: one 28-pixel cell less than a 6x6 one in each direction (both matrices are
    // taller than the colour bar's minimum and wider than the axis labels, so the size grows by whole cells).
    const std::string six = dir.file("six.png");
    nmt::plot::write_heatmap(make_map(6, 6, {}, {}), six);
    Png p6(six);
    REQUIRE(p6.ok());
    CHECK(p6.width() - png.width() == 28);
    CHECK(p6.height() - png.height() == 28);
  }
}

TEST_CASE("plot write_heatmap errors", "[plot]") {
  TempDir dir;
  const Heatmap good = make_map(2, 3, {"a", "b"}, {"x", "y", "z"});
  SECTION("unsupported extension names the path") {
    const std::string path = dir.file("map.jpg");
    try {
      nmt::plot::write_heatmap(good, path);
      FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Matchers::Contains(path));
    }
    CHECK_THROWS_AS(nmt::plot::write_heatmap(good, dir.file("noext")), std::invalid_argument);
    CHECK_THROWS_AS(nmt::plot::write_curves({}, {}, "t", dir.file("c.gif")), std::invalid_argument);
    CHECK_FALSE(fs::exists(path));
  }
  SECTION("weights size mismatch") {
    Heatmap bad = good;
    bad.weights.pop_back();
    CHECK_THROWS_AS(nmt::plot::write_heatmap(bad, dir.file("m.png")), std::invalid_argument);
    CHECK_THROWS_WITH(nmt::plot::layout_heatmap(bad), Catch::Matchers::Contains("weights.size()=5"));
  }
  SECTION("label count mismatch") {
    Heatmap bad = good;
    bad.col_labels.push_back("extra");
    CHECK_THROWS_WITH(nmt::plot::write_heatmap(bad, dir.file("m.png")),
                      Catch::Matchers::Contains("4 column labels for 3 columns"));
    bad = good;
    bad.row_labels = {"only one"};
    CHECK_THROWS_AS(nmt::plot::write_heatmap(bad, dir.file("m.png")), std::invalid_argument);
  }
  SECTION("empty or out-of-range weights") {
    Heatmap bad = good;
    bad.rows = 0;
    bad.weights.clear();
    bad.row_labels.clear();
    CHECK_THROWS_AS(nmt::plot::write_heatmap(bad, dir.file("m.png")), std::invalid_argument);
    bad = good;
    bad.weights[4] = NAN;
    CHECK_THROWS_WITH(nmt::plot::write_heatmap(bad, dir.file("m.png")),
                      Catch::Matchers::Contains("row 1 col 1"));
    bad.weights[4] = 1.5f;
    CHECK_THROWS_AS(nmt::plot::write_heatmap(bad, dir.file("m.png")), std::invalid_argument);
  }
  SECTION("unwritable destination is a runtime_error naming the path") {
    for (const std::string ext : {".png", ".svg", ".pdf"}) {
      const std::string path = dir.file("missing_dir/map" + ext);
      try {
        nmt::plot::write_heatmap(good, path);
        FAIL("expected std::runtime_error for " + path);
      } catch (const std::runtime_error& e) {
        CHECK_THAT(e.what(), Catch::Matchers::Contains(path));
      }
    }
  }
}

TEST_CASE("plot write_heatmap_grid", "[plot]") {
  TempDir dir;
  std::vector<std::vector<Heatmap>> grid(2, std::vector<Heatmap>(4));
  for (size_t i = 0; i < 2; ++i) {
    for (size_t j = 0; j < 4; ++j) {
      grid[i][j] = make_map(5, 6, {"je", "suis", "là", ".", "<eos>"},
                            {"i", "am", "here", ".", "<eos>", "<pad>"});
      for (auto& w : grid[i][j].weights) w *= 0.5f;  // max 0.5 everywhere ...
    }
  }
  grid[1][2].weights[0] = 1.0f;  // ... except one cell of layer 2 head 3
  SECTION("layout is a 2x4 grid with shared scale") {
    const HeatmapLayout lay = nmt::plot::layout_heatmap_grid(grid, "decoder self-attention");
    REQUIRE(lay.panels.size() == 2);
    REQUIRE(lay.panels[0].size() == 4);
    CHECK_THAT(lay.vmax, Catch::Matchers::WithinAbs(1.0, 1e-9));
    CHECK(lay.panels[1][2].title == "layer 2 head 3");
    CHECK(lay.panels[0][1].matrix.x > lay.panels[0][0].matrix.x + lay.panels[0][0].matrix.w);
    CHECK(lay.panels[1][0].matrix.y > lay.panels[0][0].matrix.y + lay.panels[0][0].matrix.h);
    CHECK_FALSE(lay.panels[0][0].show_xlabel);
    CHECK(lay.panels[1][0].show_xlabel);
    CHECK(lay.panels[1][0].show_ylabel);
    CHECK_FALSE(lay.panels[1][1].show_ylabel);
  }
  SECTION("PNG matches the layout; shared colour scale across panels") {
    const std::string path = dir.file("grid.png");
    nmt::plot::write_heatmap_grid(grid, "decoder self-attention", path);
    const HeatmapLayout lay = nmt::plot::layout_heatmap_grid(grid, "decoder self-attention");
    Png png(path);
    REQUIRE(png.ok());
    CHECK(png.width() == lay.width);
    CHECK(png.height() == lay.height);
    const auto hot = lay.panels[1][2].cell_rect(0, 0);
    const auto other = lay.panels[0][0].cell_rect(0, 0);
    const double hot_lum = png.luminance(hot.x + hot.w / 2, hot.y + hot.h / 2);
    const double other_lum = png.luminance(other.x + other.w / 2, other.y + other.h / 2);
    CHECK(hot_lum + 40.0 < other_lum);
  }
  SECTION("SVG holds panel titles and figure title") {
    const std::string path = dir.file("grid.svg");
    nmt::plot::write_heatmap_grid(grid, "decoder self-attention", path);
    const std::string svg = read_all(path);
    std::string why;
    CHECK(xml_well_formed(svg, &why));
    INFO(why);
    CHECK(svg.find(">layer 2 head 3</text>") != std::string::npos);
    CHECK(svg.find(">decoder self-attention</text>") != std::string::npos);
    CHECK(svg.find(">là</text>") != std::string::npos);
  }
  SECTION("bad grids throw") {
    CHECK_THROWS_AS(nmt::plot::write_heatmap_grid({}, "t", dir.file("g.png")), std::invalid_argument);
    CHECK_THROWS_AS(nmt::plot::write_heatmap_grid({{grid[0][0]}, {}}, "t", dir.file("g.png")),
                    std::invalid_argument);
    auto bad = grid;
    bad[1][3].weights.resize(3);
    CHECK_THROWS_WITH(nmt::plot::write_heatmap_grid(bad, "t", dir.file("g.png")),
                      Catch::Matchers::Contains("[1][3]"));
  }
}

TEST_CASE("plot write_curves", "[plot]") {
  TempDir dir;
  Series train{"train loss", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {}};
  Series valid{"valid loss", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {}};
  for (int e = 1; e <= 10; ++e) {
    train.y.push_back(6.0 * std::exp(-0.3 * e));
    valid.y.push_back(6.5 * std::exp(-0.25 * e) + 0.2);
  }
  Series bleu{"valid BLEU", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 4, 8, 12, 15, 18, 20, 21, 22, 22.5}};
  SECTION("PNG with two panels matches the layout and draws the lines") {
    const std::string path = dir.file("curves.png");
    nmt::plot::write_curves({train, valid}, {bleu}, "fra-eng seq2seq", path);
    const auto lay = nmt::plot::layout_curves({train, valid}, {bleu}, "fra-eng seq2seq");
    REQUIRE(lay.has_scores);
    Png png(path);
    REQUIRE(png.ok());
    CHECK(png.width() == lay.width);
    CHECK(png.height() == lay.height);
    CHECK(lay.score_plot.x > lay.loss_plot.x + lay.loss_plot.w);
    CHECK(lay.loss_y.lo <= 6.0 * std::exp(-3.0));
    CHECK(lay.loss_y.hi >= 6.5 * std::exp(-0.25) + 0.2);
    CHECK_THAT(lay.loss_x.lo, Catch::Matchers::WithinAbs(1.0, 1e-12));
    CHECK_THAT(lay.loss_x.hi, Catch::Matchers::WithinAbs(10.0, 1e-12));
    // A coloured (non-grey) pixel lies on the train-loss line at epoch 5.5 and the BLEU line at 4.5.
    auto coloured_near = [&](bool score, double x, double y) {
      double px = 0, py = 0;
      lay.to_image(score, x, y, &px, &py);
      for (int dx = -3; dx <= 3; ++dx) {
        for (int dy = -3; dy <= 3; ++dy) {
          const uint32_t p = png.argb(px + dx, py + dy);
          const int r = (p >> 16) & 0xFF, g = (p >> 8) & 0xFF, b = p & 0xFF;
          if (std::max({r, g, b}) - std::min({r, g, b}) > 60) return true;
        }
      }
      return false;
    };
    CHECK(coloured_near(false, 5.5, (train.y[4] + train.y[5]) / 2));
    CHECK(coloured_near(true, 4.5, 13.5));
    // ... and no line passes through the empty lower-left corner of the loss panel.
    CHECK_FALSE(coloured_near(false, 1.5, lay.loss_y.lo + 0.05 * (lay.loss_y.hi - lay.loss_y.lo)));
  }
  SECTION("score panel is skipped when empty") {
    const auto two = nmt::plot::layout_curves({train}, {bleu}, "t");
    const auto one = nmt::plot::layout_curves({train}, {}, "t");
    const auto one_b = nmt::plot::layout_curves({train}, {Series{"valid BLEU", {}, {}}}, "t");
    CHECK_FALSE(one.has_scores);
    CHECK_FALSE(one_b.has_scores);
    CHECK(one.width < two.width);
    CHECK(one.height == two.height);
    const std::string path = dir.file("loss_only.png");
    nmt::plot::write_curves({train}, {}, "t", path);
    Png png(path);
    REQUIRE(png.ok());
    CHECK(png.width() == one.width);
  }
  SECTION("SVG parses and holds legend, title and ticks") {
    const std::string path = dir.file("curves.svg");
    nmt::plot::write_curves({train, valid}, {bleu}, "fra-eng <seq2seq>", path);
    const std::string svg = read_all(path);
    CHECK(svg.rfind("<?xml", 0) == 0);
    std::string why;
    CHECK(xml_well_formed(svg, &why));
    INFO(why);
    CHECK(svg.find(">train loss</text>") != std::string::npos);
    CHECK(svg.find(">valid BLEU</text>") != std::string::npos);
    CHECK(svg.find(">epoch</text>") != std::string::npos);
    CHECK(svg.find(">fra-eng &lt;seq2seq&gt;</text>") != std::string::npos);
    CHECK(svg.find(">20</text>") != std::string::npos);  // a BLEU tick
  }
  SECTION("degenerate inputs render: one epoch, NaN points, no series") {
    nmt::plot::write_curves({Series{"loss", {1}, {2.5}}}, {Series{"bleu", {1}, {3.0}}}, "", dir.file("one.png"));
    nmt::plot::write_curves({Series{"loss", {1, 2, 3}, {2.0, NAN, 1.0}}}, {}, "", dir.file("nan.png"));
    nmt::plot::write_curves({}, {}, "", dir.file("empty.pdf"));
    Png png(dir.file("one.png"));
    REQUIRE(png.ok());
    const auto lay = nmt::plot::layout_curves({Series{"loss", {1}, {2.5}}}, {Series{"bleu", {1}, {3.0}}}, "");
    double px = 0, py = 0;
    lay.to_image(false, 1.0, 2.5, &px, &py);
    CHECK(png.luminance(px, py) < 200.0);  // the single point is drawn as a dot
    CHECK(read_all(dir.file("empty.pdf")).rfind("%PDF", 0) == 0);
  }
  SECTION("x/y size mismatch throws naming the series") {
    Series bad{"broken", {1, 2, 3}, {1, 2}};
    CHECK_THROWS_WITH(nmt::plot::write_curves({train, bad}, {}, "t", dir.file("c.png")),
                      Catch::Matchers::Contains("broken"));
    CHECK_THROWS_AS(nmt::plot::write_curves({}, {bad}, "t", dir.file("c.svg")), std::invalid_argument);
  }
}
