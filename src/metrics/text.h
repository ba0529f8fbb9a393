#pragma once
// Python's text primitives that sacreBLEU's metrics build on (str.split, str.rstrip, str.lower, len/slicing by
// code point), on UTF-8 strings, so that BLEU and chrF match sacreBLEU on any Unicode input.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nmt::metrics {

/// Byte length of the whitespace code point starting at s[i] (Python str.isspace: ASCII \t-\r, \x1c-\x1f, ' ',
/// U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), or 0. Requires i < s.size().
std::size_t space_len(std::string_view s, std::size_t i);

/// Index just past the code point starting at s[i] (skips UTF-8 continuation bytes). Requires i < s.size().
std::size_t next_code_point(std::string_view s, std::size_t i);

/// Python str.split() with no argument: splits on runs of whitespace, drops empty pieces. Never throws except
/// std::bad_alloc.
std::vector<std::string> split_whitespace(std::string_view s);

/// Python str.rstrip() with no argument. Never throws.
std::string_view rstrip(std::string_view s);

/// Python str.strip() with no argument. Never throws.
std::string_view strip(std::string_view s);

/// Every code point lowercased with utf8proc_tolower (Python's str.lower for all but the few code points whose
/// lowercase is two code points, such as U+0130). Invalid UTF-8 bytes are kept. Never throws except std::bad_alloc.
std::string lowercase(std::string_view s);

}  // namespace nmt::metrics
