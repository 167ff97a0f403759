// Copyright 2026 The ragperf Authors.

#include "ragperf/model_usage.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "ragperf/utf8.h"
#include "ragperf/saturating.h"

namespace ragperf {
namespace {

absl::Status ValidatePrice(absl::string_view model, const ModelPrice& price) {
  if (model.empty() || model.size() > ModelUsage::kMaxModelNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("model name must be 1 to ",
                     ModelUsage::kMaxModelNameLength, " bytes, got '",
                     Utf8Prefix(model, 40), "' (", model.size(), ")"));
  }
  for (const double p : {price.input_per_million, price.output_per_million}) {
    if (!(std::isfinite(p) && p >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prices of model '", model,
          "' must be finite numbers >= 0 (USD per 1M tokens), got ", p));
    }
  }
  return absl::OkStatus();
}

bool IsDigits(absl::string_view s) {
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

absl::string_view ModelUsage::WithoutDateSuffix(absl::string_view model) {
  // "-YYYY-MM-DD": 11 characters after a non-empty name.
  constexpr size_t kSuffix = 11;
  if (model.size() <= kSuffix) return model;
  const absl::string_view suffix = model.substr(model.size() - kSuffix);
  if (suffix[0] != '-' || suffix[5] != '-' || suffix[8] != '-' ||
      !IsDigits(suffix.substr(1, 4)) || !IsDigits(suffix.substr(6, 2)) ||
      !IsDigits(suffix.substr(9, 2))) {
    return model;
  }
  return model.substr(0, model.size() - kSuffix);
}

const ModelPrice* ModelUsage::LookUp(absl::string_view model,
                                     absl::string_view response_model) const {
  if (prices_.empty()) return nullptr;
  const absl::string_view names[] = {model, response_model,
                                     WithoutDateSuffix(model),
                                     WithoutDateSuffix(response_model)};
  for (const absl::string_view name : names) {
    if (name.empty()) continue;
    if (auto it = prices_.find(name); it != prices_.end()) return &it->second;
  }
  return nullptr;
}

void ModelUsage::AddResponseModel(Totals& t, absl::string_view response_model) {
  if (response_model.empty()) return;
  const absl::string_view name = Utf8Prefix(response_model, kMaxModelNameLength);
  auto it = std::lower_bound(t.response_models.begin(), t.response_models.end(),
                             name);
  if (it != t.response_models.end() && *it == name) return;
  if (t.response_models.size() >= kMaxResponseModels) return;
  t.response_models.insert(it, std::string(name));
}

std::optional<double> ModelUsage::CostWith(const ModelPrice& price,
                                           int64_t prompt_tokens,
                                           int64_t completion_tokens,
                                           int64_t total_tokens) {
  if (prompt_tokens == 0 && completion_tokens == 0 && total_tokens > 0) {
    // Only a total: its split is unknown, which matters only when the two
    // prices differ.
    if (price.input_per_million != price.output_per_million) {
      return std::nullopt;
    }
    return static_cast<double>(total_tokens) * price.input_per_million * 1e-6;
  }
  return (static_cast<double>(prompt_tokens) * price.input_per_million +
          static_cast<double>(completion_tokens) * price.output_per_million) *
         1e-6;
}

absl::Status ModelUsage::SetPrice(absl::string_view model, ModelPrice price) {
  if (absl::Status s = ValidatePrice(model, price); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  prices_[model] = price;
  ForgetLastLocked();
  return absl::OkStatus();
}

absl::Status ModelUsage::SetPrices(
    const std::vector<std::pair<std::string, ModelPrice>>& prices) {
  for (const auto& [model, price] : prices) {
    if (absl::Status s = ValidatePrice(model, price); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  prices_.clear();
  for (const auto& [model, price] : prices) prices_[model] = price;
  ForgetLastLocked();
  return absl::OkStatus();
}

std::optional<ModelPrice> ModelUsage::PriceOf(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  auto it = prices_.find(model);
  if (it == prices_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, ModelPrice>> ModelUsage::Prices() const {
  std::vector<std::pair<std::string, ModelPrice>> out;
  {
    absl::MutexLock lock(&mu_);
    out.assign(prices_.begin(), prices_.end());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::optional<ModelPrice> ModelUsage::PriceFor(
    absl::string_view model, absl::string_view response_model) const {
  absl::MutexLock lock(&mu_);
  const ModelPrice* price = LookUp(model, response_model);
  if (price == nullptr) return std::nullopt;
  return *price;
}

std::optional<double> ModelUsage::CostOf(absl::string_view model,
                                         absl::string_view response_model,
                                         int64_t prompt_tokens,
                                         int64_t completion_tokens,
                                         int64_t total_tokens) const {
  const std::optional<ModelPrice> price = PriceFor(model, response_model);
  if (!price) return std::nullopt;
  return CostWith(*price, prompt_tokens, completion_tokens, total_tokens);
}

std::optional<double> ModelUsage::Record(absl::string_view model,
                                         absl::string_view response_model,
                                         int64_t prompt_tokens,
                                         int64_t completion_tokens,
                                         int64_t total_tokens,
                                         double duration_s) {
  if (model.empty()) return std::nullopt;
  // Names are capped like operation names so a runaway label cannot grow
  // one entry without bound.
  const absl::string_view name = Utf8Prefix(model, kMaxModelNameLength);
  absl::MutexLock lock(&mu_);
  if (last_.totals == nullptr || last_.model != name ||
      last_.response_model != response_model) {
    last_.price = LookUp(model, response_model);
    last_.totals = &totals_[name];  // may grow the table: after LookUp
    last_.model.assign(name.data(), name.size());
    last_.response_model.assign(response_model.data(), response_model.size());
  }
  std::optional<double> cost;
  if (last_.price != nullptr) {
    cost = CostWith(*last_.price, prompt_tokens, completion_tokens, total_tokens);
  }
  Totals& t = *last_.totals;
  ++t.operations;
  t.prompt_tokens = SaturatingAdd(t.prompt_tokens, prompt_tokens);
  t.completion_tokens = SaturatingAdd(t.completion_tokens, completion_tokens);
  t.total_tokens = SaturatingAdd(t.total_tokens, total_tokens);
  t.duration_s += duration_s;
  if (cost) {
    ++t.priced_operations;
    t.cost_usd += *cost;
  } else {
    ++t.unpriced_operations;
  }
  if (!response_model.empty()) AddResponseModel(t, response_model);
  return cost;
}

std::vector<ModelTotals> ModelUsage::GetAll() const {
  std::vector<ModelTotals> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(totals_.size());
    for (const auto& [model, t] : totals_) {
      ModelTotals m;
      m.model = model;
      m.operations = t.operations;
      m.prompt_tokens = t.prompt_tokens;
      m.completion_tokens = t.completion_tokens;
      m.total_tokens = t.total_tokens;
      m.duration_s = t.duration_s;
      m.tokens_per_second =
          t.duration_s > 0 ? static_cast<double>(t.total_tokens) / t.duration_s
                           : 0;
      const ModelPrice* price = LookUp(
          model, t.response_models.empty() ? absl::string_view()
                                           : absl::string_view(t.response_models[0]));
      if (price != nullptr) {
        m.has_price = true;
        m.price = *price;
      }
      m.response_models = t.response_models;
      m.has_cost = t.priced_operations > 0;
      m.priced_operations = t.priced_operations;
      m.cost_usd = t.cost_usd;
      m.unpriced_operations = t.unpriced_operations;
      out.push_back(std::move(m));
    }
  }
  std::sort(out.begin(), out.end(), [](const ModelTotals& a, const ModelTotals& b) {
    return a.model < b.model;
  });
  return out;
}

void ModelUsage::MergeTotals(const ModelTotals& m) {
  if (m.model.empty()) return;
  absl::MutexLock lock(&mu_);
  ForgetLastLocked();  // the insertion below may move every entry
  Totals& t = totals_[Utf8Prefix(m.model, kMaxModelNameLength)];
  t.operations += m.operations;
  t.prompt_tokens = SaturatingAdd(t.prompt_tokens, m.prompt_tokens);
  t.completion_tokens = SaturatingAdd(t.completion_tokens, m.completion_tokens);
  t.total_tokens = SaturatingAdd(t.total_tokens, m.total_tokens);
  t.duration_s += m.duration_s;
  t.priced_operations += m.priced_operations;
  t.cost_usd += m.cost_usd;
  t.unpriced_operations += m.unpriced_operations;
  for (const std::string& r : m.response_models) AddResponseModel(t, r);
}

void ModelUsage::Clear() {
  absl::MutexLock lock(&mu_);
  ForgetLastLocked();
  totals_.clear();
}

}  // namespace ragperf
