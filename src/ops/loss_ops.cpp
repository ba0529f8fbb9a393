#include "ops/loss_ops.h"

#include <torch/torch.h>

#include "common/blas.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/dispatch.h"
#include "ops/projection.h"

namespace nmt::ops {

namespace {

/// Softmax cross-entropy of every row of `logits` `[rows, vocab]` (contiguous float, plus `bias` `[vocab]` when
/// defined) against `labels` `[rows]`: returns the loss `[rows]` and writes ∂loss/∂logits into `grad`
/// `[rows, vocab]` (contiguous; may be `logits` itself), one kernels::softmax_cross_entropy_row per row.
/// Throws c10::Error when a label is outside [0, vocab).
torch::Tensor cross_entropy_rows(const torch::Tensor& logits, const torch::Tensor& bias, torch::Tensor& grad,
                                 const torch::Tensor& labels, double label_smoothing) {
  const auto y = labels.contiguous();
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const int64_t* yp = y.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    TORCH_CHECK(yp[r] >= 0 && yp[r] < vocab, "softmax_cross_entropy: label ", yp[r], " at row ", r,
                " is outside [0, ", vocab, ")");
  const auto b = bias.defined() ? bias.contiguous() : bias;
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  const float* xp = logits.data_ptr<float>();
  float* gp = grad.data_ptr<float>();
  auto loss = torch::empty({rows}, logits.options());
  float* lp = loss.data_ptr<float>();
  // Rows split between the kernel threads (OpenBLAS's, idle here), from 2^18 logits per thread on.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(vocab, 1));
  kernels::parallel_range(rows, common::kernel_threads(), grain, [&](int64_t, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      lp[r] = kernels::softmax_cross_entropy_row(xp + r * vocab, bp, gp + r * vocab, vocab, yp[r],
                                                 static_cast<float>(label_smoothing));
  });
  return loss;
}

/// Autograd function whose forward computes both the loss and its gradient with respect to the logits
/// (kernels::softmax_cross_entropy_row); backward scales that gradient by the incoming one.
struct FusedSoftmaxCrossEntropy : public torch::autograd::Function<FusedSoftmaxCrossEntropy> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& labels, double label_smoothing) {
    const auto x = logits.contiguous();
    auto grad = torch::empty_like(x);
    auto loss = cross_entropy_rows(x, torch::Tensor(), grad, labels, label_smoothing);
    ctx->save_for_backward({grad});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto grad = ctx->get_saved_variables()[0];
    return {grad * grad_outputs[0].unsqueeze(1), torch::Tensor(), torch::Tensor()};
  }
};

/// Autograd function for the output layer and softmax cross-entropy together (CPU float32): features
/// `[rows, num_hiddens]`, weight `[vocab, num_hiddens]`, bias `[vocab]`, labels `[rows]` -> loss `[rows]`.
/// Forward: one GEMM for features · weightᵀ, then per row the bias, the loss and ∂loss/∂logits, written over the
/// logits (kernels::softmax_cross_entropy_row), which are never kept. Backward, with g the incoming
/// gradient `[rows]` and G the saved ∂loss/∂logits: ∂/∂features = g ⊙ (G · W), ∂/∂W = Gᵀ · (g ⊙ features),
/// ∂/∂b = Gᵀ · g. The scaling by g lands on the `[rows, num_hiddens]` side, so no pass over the
/// `[rows, vocab]` matrix runs outside the GEMMs (the chain rule through logits = features·Wᵀ + b).
struct ProjectedSoftmaxCrossEntropy : public torch::autograd::Function<ProjectedSoftmaxCrossEntropy> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& features,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& labels,
                               double label_smoothing) {
    auto grad = torch::mm(features, weight.t());  // the logits, then ∂loss/∂logits in place
    auto loss = cross_entropy_rows(grad, bias, grad, labels, label_smoothing);
    ctx->save_for_backward({features, weight, grad});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &features = saved[0], &weight = saved[1], &grad = saved[2];
    const auto g = grad_outputs[0].contiguous();  // [rows]
    torch::Tensor d_features, d_weight, d_bias;
    if (ctx->needs_input_grad(0)) d_features = torch::mm(grad, weight).mul_(g.unsqueeze(1));
    if (ctx->needs_input_grad(1)) d_weight = torch::mm(grad.t(), features * g.unsqueeze(1));
    if (ctx->needs_input_grad(2)) d_bias = torch::mv(grad.t(), g);
    return {d_features, d_weight, d_bias, torch::Tensor(), torch::Tensor()};
  }
};

void check_label_smoothing(double label_smoothing) {
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0, "label_smoothing must be in [0, 1), got ",
              label_smoothing);
}

}  // namespace

torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  TORCH_CHECK(logits.dim() == 2, "softmax_cross_entropy: logits must be [rows, vocab], got ", logits.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "softmax_cross_entropy: labels ",
              labels.sizes(), " do not match logits ", logits.sizes());
  check_label_smoothing(label_smoothing);
  if (use_fused({logits}) && labels.scalar_type() == torch::kLong && logits.size(1) > 0)
    return FusedSoftmaxCrossEntropy::apply(logits, labels, label_smoothing);
  namespace F = torch::nn::functional;
  // bf16/fp16 logits (autocast's output layer) are widened: the softmax and the loss are computed in float32.
  return F::cross_entropy(widen_reduced(logits), labels,
                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing));
}

torch::Tensor projected_cross_entropy(const torch::Tensor& features, const torch::Tensor& weight,
                                      const torch::Tensor& bias, const torch::Tensor& labels, double label_smoothing) {
  TORCH_CHECK(features.dim() == 2 && weight.dim() == 2 && bias.dim() == 1 && features.size(1) == weight.size(1) &&
                  bias.size(0) == weight.size(0),
              "projected_cross_entropy: features ", features.sizes(), ", weight ", weight.sizes(), " and bias ",
              bias.sizes(), " do not match");
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == features.size(0), "projected_cross_entropy: labels ",
              labels.sizes(), " do not match features ", features.sizes());
  check_label_smoothing(label_smoothing);
  if (use_fused({features, weight, bias}) && labels.scalar_type() == torch::kLong && weight.size(0) > 0)
    return ProjectedSoftmaxCrossEntropy::apply(features, weight, bias, labels, label_smoothing);
  return softmax_cross_entropy(vocab_projection(features, weight, bias), labels, label_smoothing);
}

}  // namespace nmt::ops
