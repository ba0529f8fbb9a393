#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nmt::data {

/// Returns true if `text` is well-formed UTF-8 (Unicode 15, Table 3-7): no overlong forms, no
/// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences. NUL bytes are valid.
bool is_valid_utf8(std::string_view text);

/// Byte offset of the first ill-formed UTF-8 sequence in `text`, or `std::string_view::npos` if the
/// whole text is valid.
std::size_t find_invalid_utf8(std::string_view text);

/// How raw text is normalised before it is split into words (config keys data.lowercase, data.d2l_punctuation).
/// The defaults are d2l's preprocess_nmt; with both off, text is left as written.
struct TextOptions {
  bool lowercase = true;        ///< every code point lowercased (utf8proc_tolower)
  bool d2l_punctuation = true;  ///< U+202F and U+00A0 become ' ', and a ' ' goes before `, . ! ?` (d2l §10.5)
};

/// One piece of text normalised as `options` say (UTF-8 in, UTF-8 out); with both options on this is
/// preprocess_nmt, with both off the text itself. Throws std::invalid_argument("invalid UTF-8 at byte offset N")
/// when `text` is not valid UTF-8.
std::string preprocess(std::string_view text, const TextOptions& options);

/// Undoes d2l's punctuation spacing: removes each ' ' that follows a non-space character and precedes one of
/// `, . ! ?` ("je suis chez moi ." -> "je suis chez moi.", ". . ." -> "..."). For text without U+202F, U+00A0
/// and without a space before those marks, detokenize_d2l(preprocess(text, {false, true})) == text. Used on
/// output meant to be read, or scored against untouched references (sacreBLEU's intended use).
/// Never throws except std::bad_alloc.
std::string detokenize_d2l(std::string_view text);

/// d2l.ai section 10.5 `preprocess_nmt`, applied to one piece of text (UTF-8 in, UTF-8 out):
///  1. U+202F (narrow no-break space) and U+00A0 (no-break space) become ' ';
///  2. every code point is lowercased with `utf8proc_tolower` ("Ça" -> "ça", "À" -> "à");
///  3. a ' ' is inserted before each of `, . ! ?` when the previous character (after steps 1-2) is not
///     ' ' and it is not the first character ("Go." -> "go .", "Hi !" unchanged).
/// Throws std::invalid_argument("invalid UTF-8 at byte offset N") when `text` is not valid UTF-8.
std::string preprocess_nmt(std::string_view text);

/// d2l.ai section 10.5 `tokenize_nmt` for one side of a pair: splits preprocessed text on ' ' and drops
/// empty tokens, so leading, trailing or repeated spaces produce no empty token. Only ' ' separates
/// tokens (tabs and other whitespace are kept inside tokens). Never throws except std::bad_alloc.
std::vector<std::string> tokenize(std::string_view preprocessed);

/// Inverse of tokenize for tokens without spaces: the tokens joined by single ' ' ("" for none).
/// Never throws except std::bad_alloc.
std::string join_tokens(const std::vector<std::string>& tokens);

namespace detail {
/// preprocess without the UTF-8 validity check; the caller guarantees `text` is valid UTF-8.
/// Appends the result to `out` (which is not cleared).
void preprocess_valid_utf8(std::string_view text, std::string& out, const TextOptions& options = {});
}  // namespace detail

}  // namespace nmt::data
