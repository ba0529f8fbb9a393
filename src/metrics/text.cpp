#include "metrics/text.h"

#include <utf8proc.h>

namespace nmt::metrics {

/// Byte length of the whitespace code point (Python str.isspace) starting at s[i] in UTF-8, or 0.
std::size_t space_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c < 0xc2) return 0;
  const std::size_t n = s.size();
  auto at = [&](std::size_t j) { return j < n ? static_cast<unsigned char>(s[j]) : 0u; };
  if (c == 0xc2) return (at(i + 1) == 0x85 || at(i + 1) == 0xa0) ? 2 : 0;  // U+0085, U+00A0
  if (c == 0xe1) return (at(i + 1) == 0x9a && at(i + 2) == 0x80) ? 3 : 0;  // U+1680
  if (c == 0xe2) {
    const unsigned b1 = at(i + 1), b2 = at(i + 2);
    if (b1 == 0x80 && ((b2 >= 0x80 && b2 <= 0x8a) || b2 == 0xa8 || b2 == 0xa9 || b2 == 0xaf)) return 3;
    if (b1 == 0x81 && b2 == 0x9f) return 3;  // U+205F
    return 0;
  }
  if (c == 0xe3) return (at(i + 1) == 0x80 && at(i + 2) == 0x80) ? 3 : 0;  // U+3000
  return 0;
}

/// Index just past the code point starting at s[i] (skips UTF-8 continuation bytes).
std::size_t next_code_point(std::string_view s, std::size_t i) {
  ++i;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) ++i;
  return i;
}

/// Python str.split() with no argument: splits on runs of whitespace, drops empty pieces.
std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    std::size_t w;
    while (i < n && (w = space_len(s, i)) > 0) i += w;
    if (i >= n) break;
    const std::size_t start = i;
    while (i < n && space_len(s, i) == 0) i = next_code_point(s, i);
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

/// Python str.rstrip() with no argument.
std::string_view rstrip(std::string_view s) {
  std::size_t i = 0, end = 0;
  while (i < s.size()) {
    const std::size_t w = space_len(s, i);
    if (w > 0) {
      i += w;
    } else {
      i = next_code_point(s, i);
      end = i;
    }
  }
  return s.substr(0, end);
}

std::string_view strip(std::string_view s) {
  s = rstrip(s);
  std::size_t i = 0;
  std::size_t w;
  while (i < s.size() && (w = space_len(s, i)) > 0) i += w;
  return s.substr(i);
}

std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  std::size_t i = 0;
  utf8proc_uint8_t buf[4];
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t used = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (used <= 0) {  // not UTF-8: keep the byte
      out.push_back(s[i++]);
      continue;
    }
    const utf8proc_ssize_t w = utf8proc_encode_char(utf8proc_tolower(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(w));
    i += static_cast<std::size_t>(used);
  }
  return out;
}

}  // namespace nmt::metrics
