#include "decoding/greedy.h"

#include <stdexcept>

#include <torch/torch.h>

#include "ops/projection.h"

namespace nmt::decoding {

SearchResult greedy_search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                           const torch::Tensor& src_valid_lens, int64_t bos, int64_t eos, int64_t max_len,
                           models::AttentionRecord* record) {
  if (max_len < 1) throw std::invalid_argument("max_len must be >= 1, got " + std::to_string(max_len));
  torch::NoGradGuard no_grad;
  const int64_t batch = src.size(0);
  models::DecoderState state = model.init_state(model.encode(src, src_valid_lens, record));
  state.record = record;
  SearchResult result;
  result.tokens.resize(static_cast<std::size_t>(batch));
  result.steps.assign(static_cast<std::size_t>(batch), max_len);
  // Rows of the batch being decoded, as indices into the original batch. Finished rows leave the batch (and
  // the decoder state) once they are an eighth of it: every removal copies the whole state (the Transformer's
  // key/value caches), while a finished row costs only its share of each step. With attention recorded,
  // whose chunks keep one row per sentence, they never leave. Rows are independent, so the results do not
  // depend on when they leave.
  std::vector<int64_t> active(static_cast<std::size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) active[static_cast<std::size_t>(b)] = b;
  std::vector<bool> finished(static_cast<std::size_t>(batch), false);
  auto input = torch::full({batch, 1}, bos, src.options().dtype(torch::kLong));
  for (int64_t t = 0; t < max_len; ++t) {
    const auto [weight, bias] = model.output_layer();
    auto next = ops::projected_argmax(model.decode_features(input, state), weight, bias);  // [rows, 1]
    const auto next_host = next.squeeze(1).to(torch::kCPU);
    const auto ids = next_host.accessor<int64_t, 1>();
    std::vector<int64_t> keep;
    for (std::size_t r = 0; r < active.size(); ++r) {
      const auto b = static_cast<std::size_t>(active[r]);
      if (finished[b]) continue;  // finished earlier, still in the batch: its token is ignored
      if (ids[static_cast<int64_t>(r)] == eos) {
        finished[b] = true;
        result.steps[b] = t + 1;
      } else {
        result.tokens[b].push_back(ids[static_cast<int64_t>(r)]);
        keep.push_back(static_cast<int64_t>(r));
      }
    }
    if (keep.empty()) break;
    if (record == nullptr && (active.size() - keep.size()) * 8 >= active.size()) {
      const auto index = torch::tensor(keep, torch::kLong).to(next.device());
      state.select(index);
      next = next.index_select(0, index);
      std::vector<int64_t> still;
      for (const int64_t r : keep) still.push_back(active[static_cast<std::size_t>(r)]);
      active.swap(still);
    }
    input = next;
  }
  return result;
}

}  // namespace nmt::decoding
