// libFuzzer target: bytes -> nmt::data::{find_invalid_utf8, is_valid_utf8, preprocess_nmt, tokenize}.
// Invalid UTF-8 must make preprocess_nmt throw std::invalid_argument (and nothing else), at the offset
// find_invalid_utf8 reports, which is cross-checked against an independent decoder. For valid input:
// the output is valid UTF-8 with no NBSP/NNBSP/ASCII capitals, every , . ! ? after the first character
// follows a space, preprocess_nmt is idempotent, and tokens are non-empty, space-free and rebuild the
// output with its space runs collapsed.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "data/preprocess.h"
#include "fuzz_common.h"

using nmt::fuzz::check;
using nmt::fuzz::fail;

namespace {

/// Reference: decodes by computing each code point, then rejects overlongs, surrogates and > U+10FFFF.
std::size_t reference_find_invalid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + static_cast<std::size_t>(len) > s.size()) {
      // Truncated at the end: still invalid at i (whatever the reason).
      return i;
    }
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += static_cast<std::size_t>(len);
  }
  return std::string_view::npos;
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t j = std::min(s.find(' ', i), s.size());
    if (!out.empty()) out.push_back(' ');
    out.append(s.substr(i, j - i));
    i = j;
  }
  return out;
}

void check_tokens(std::string_view text) {
  const std::vector<std::string> tokens = nmt::data::tokenize(text);
  std::string joined;
  for (const auto& t : tokens) {
    check(!t.empty(), "tokenize produced an empty token");
    check(t.find(' ') == std::string::npos, "tokenize produced a token with a space: " + t);
    if (!joined.empty()) joined.push_back(' ');
    joined += t;
  }
  check(joined == collapse_spaces(text), "tokens do not rebuild the text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::size_t bad = nmt::data::find_invalid_utf8(text);
  const std::size_t ref = reference_find_invalid(text);
  check(bad == ref, "find_invalid_utf8 = " + std::to_string(bad) + " but the reference decoder says " +
                        std::to_string(ref));
  check(nmt::data::is_valid_utf8(text) == (bad == std::string_view::npos), "is_valid_utf8 disagrees");

  check_tokens(text);  // tokenize takes any bytes

  std::string out;
  try {
    out = nmt::data::preprocess_nmt(text);
  } catch (const std::invalid_argument& e) {
    check(bad != std::string_view::npos, std::string("valid UTF-8 rejected: ") + e.what());
    check(std::string(e.what()) == "invalid UTF-8 at byte offset " + std::to_string(bad),
          std::string("wrong offset in: ") + e.what());
    return 0;
  } catch (const std::exception& e) {
    fail(std::string("preprocess_nmt threw a non-invalid_argument exception: ") + e.what());
  }
  check(bad == std::string_view::npos, "invalid UTF-8 accepted at offset " + std::to_string(bad));

  check(nmt::data::is_valid_utf8(out), "preprocess_nmt output is not valid UTF-8");
  check(out.find("\xC2\xA0") == std::string::npos, "NBSP left in output");
  check(out.find("\xE2\x80\xAF") == std::string::npos, "NNBSP left in output");
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    check(!(c >= 'A' && c <= 'Z'), "ASCII capital left in output");
    if (i > 0 && (c == ',' || c == '.' || c == '!' || c == '?'))
      check(out[i - 1] == ' ', "punctuation not preceded by a space at byte " + std::to_string(i));
  }
  try {
    const std::string twice = nmt::data::preprocess_nmt(out);
    check(twice == out, "preprocess_nmt is not idempotent: \"" + out + "\" -> \"" + twice + "\"");
  } catch (const std::exception& e) {
    fail(std::string("preprocess_nmt threw on its own output: ") + e.what());
  }
  check_tokens(out);
  return 0;
}
