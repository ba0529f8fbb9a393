#pragma once
// nmt_spm: a plain C interface around SentencePiece (libsentencepiece, libsentencepiece_train), built as the shared
// library libnmt_spm.so. nmt never links SentencePiece: Debian's libsentencepiece carries its own protobuf-lite and
// exports google::protobuf symbols that clash with the protobuf LibTorch loads (google/sentencepiece#723), so
// data::SubwordModel loads this library with dlmopen(LM_ID_NEWLM) into a link namespace of its own. Only C types
// cross the boundary, and every buffer the library returns is freed with nmt_spm_free (the namespace has its own
// malloc).
//
// Piece lists travel as "framed" buffers: a little-endian uint32 count, then per item a uint32 byte length and the
// bytes. Functions return 0 on success; on failure they return non-zero and set *error to a message (free it).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nmt_spm_processor nmt_spm_processor;

/// Frees a buffer returned by this library (NULL is allowed).
void nmt_spm_free(void* buffer);

/// Trains a SentencePiece model on `sentences` (`count` texts, item i of `texts` with `lengths[i]` bytes) with
/// the trainer flags `keys[i]=values[i]` (as spm_train's --key=value), and returns the serialised ModelProto in
/// *model / *model_len. Nothing is written to disk.
int nmt_spm_train(const char* const* texts, const size_t* lengths, size_t count, const char* const* keys,
                  const char* const* values, size_t n_options, char** model, size_t* model_len, char** error);

/// Loads a processor from a serialised ModelProto. Returns NULL and sets *error on failure.
nmt_spm_processor* nmt_spm_load(const char* model, size_t model_len, char** error);

/// Releases a processor from nmt_spm_load (NULL is allowed).
void nmt_spm_unload(nmt_spm_processor* processor);

/// Encodes `count` texts as pieces. *pieces receives, per text, a framed list of its pieces. With alpha > 0 the
/// segmentation is sampled (subword regularisation, nbest_size -1) from a generator seeded with `seed` on a
/// fresh thread, so equal (texts, alpha, seed) give equal pieces.
int nmt_spm_encode(const nmt_spm_processor* processor, const char* const* texts, const size_t* lengths, size_t count,
                   float alpha, uint32_t seed, char** pieces, size_t* pieces_len, char** error);

/// Decodes `count` piece lists (framed, back to back, as nmt_spm_encode writes them) into texts: *texts receives
/// one framed list of `count` strings.
int nmt_spm_decode(const nmt_spm_processor* processor, const char* pieces, size_t pieces_len, size_t count,
                   char** texts, size_t* texts_len, char** error);

/// The model's pieces in id order as one framed list; *kinds receives one byte per piece: 0 normal, 1 unknown,
/// 2 control, 3 byte, 4 unused (malloc'd here, free with nmt_spm_free).
int nmt_spm_pieces(const nmt_spm_processor* processor, char** pieces, size_t* pieces_len, char** kinds, char** error);

#ifdef __cplusplus
}
#endif
