#include "train/ema.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace nmt::train {

double ema_factor(double decay, int64_t step) {
  const auto t = static_cast<double>(step);
  return std::max(decay, 1.0 - t / (t + 9.0));
}

namespace {

void check_same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  TORCH_CHECK(a.size() == b.size(), "weight average: ", a.size(), " tensors against ", b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    TORCH_CHECK(a[i].sizes() == b[i].sizes(), "weight average: tensor ", i, " has shape ", a[i].sizes(), " against ",
                b[i].sizes());
}

}  // namespace

ExponentialAverage::ExponentialAverage(const std::vector<torch::Tensor>& parameters, double decay) : decay_(decay) {
  if (!(decay > 0 && decay < 1))
    throw std::invalid_argument("train.ema_decay = " + std::to_string(decay) + " must be in (0, 1) for an average");
  torch::NoGradGuard no_grad;
  values_.reserve(parameters.size());
  for (const auto& p : parameters) values_.push_back(p.detach().clone());
}

void ExponentialAverage::update(const std::vector<torch::Tensor>& parameters, int64_t step) {
  check_same(values_, parameters);
  const double d = ema_factor(decay_, step);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < values_.size(); ++i) values_[i].lerp_(parameters[i].detach(), d);
}

ScopedWeights::ScopedWeights(const std::vector<torch::Tensor>& parameters, const std::vector<torch::Tensor>& values)
    : parameters_(parameters) {
  check_same(parameters, values);
  torch::NoGradGuard no_grad;
  saved_.reserve(parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    saved_.push_back(parameters[i].detach().clone());
    parameters_[i].detach().copy_(values[i]);
  }
}

ScopedWeights::~ScopedWeights() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < saved_.size(); ++i) parameters_[i].detach().copy_(saved_[i]);
}

}  // namespace nmt::train
