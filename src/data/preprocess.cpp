#include "data/preprocess.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace nmt::data {

std::size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong
      if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

bool is_valid_utf8(std::string_view text) { return find_invalid_utf8(text) == std::string_view::npos; }

namespace detail {

void preprocess_valid_utf8(std::string_view text, std::string& out, const TextOptions& options) {
  if (!options.lowercase && !options.d2l_punctuation) {
    out.append(text);
    return;
  }
  const bool lower = options.lowercase, spacing = options.d2l_punctuation;
  const auto* s = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  bool first = true;
  utf8proc_int32_t prev = 0;
  utf8proc_uint8_t buf[4];
  while (i < n) {
    utf8proc_int32_t cp;
    if (s[i] < 0x80) {
      cp = s[i];
      if (lower && cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
      ++i;
    } else {
      const utf8proc_ssize_t used =
          utf8proc_iterate(s + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
      if (used <= 0) {  // cannot happen for validated input; keep the guarantee anyway
        throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(i));
      }
      i += static_cast<std::size_t>(used);
      if (spacing && (cp == 0x202F || cp == 0x00A0)) cp = ' ';
      else if (lower) cp = utf8proc_tolower(cp);
    }
    if (spacing && !first && prev != ' ' && (cp == ',' || cp == '.' || cp == '!' || cp == '?')) {
      out.push_back(' ');
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      const utf8proc_ssize_t w = utf8proc_encode_char(cp, buf);
      out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(w));
    }
    prev = cp;
    first = false;
  }
}

}  // namespace detail

std::string preprocess(std::string_view text, const TextOptions& options) {
  const std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(bad));
  }
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 4);
  detail::preprocess_valid_utf8(text, out, options);
  return out;
}

std::string detokenize_d2l(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' && i > 0 && text[i - 1] != ' ' && i + 1 < text.size()) {
      const char next = text[i + 1];
      if (next == ',' || next == '.' || next == '!' || next == '?') continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string preprocess_nmt(std::string_view text) { return preprocess(text, TextOptions{}); }

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string text;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) text += ' ';
    text += tokens[i];
  }
  return text;
}

std::vector<std::string> tokenize(std::string_view preprocessed) {
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<std::size_t>(std::count(preprocessed.begin(), preprocessed.end(), ' ')) + 1);
  std::size_t i = 0;
  const std::size_t n = preprocessed.size();
  while (i < n) {
    while (i < n && preprocessed[i] == ' ') ++i;
    if (i >= n) break;
    std::size_t j = preprocessed.find(' ', i);
    if (j == std::string_view::npos) j = n;
    tokens.emplace_back(preprocessed.substr(i, j - i));
    i = j;
  }
  return tokens;
}

}  // namespace nmt::data
