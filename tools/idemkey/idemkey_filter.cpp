// `idemkey filter`: at-least-once stream deduplication. Claims are written in one write
// transaction per batch, and the transaction commits only after the batch's records have been
// written and flushed to stdout: a crash never loses a record (a claim is never committed
// before its record was delivered), at the price of re-emitting at most the last uncommitted
// batch on a rerun.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "idemkey.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/progress.hpp"
#include "sluice/signals.hpp"

namespace sluice::idemkey {
namespace {

bool is_integer_text(std::string_view text) {
  return text.find_first_of(".eE") == std::string_view::npos;
}

class DuplicateSink {
 public:
  explicit DuplicateSink(const std::string& path) {
    if (path.empty()) return;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw Error(exit_code::cannot_create,
                  fmt::format("cannot open duplicates file '{}': {}", path, std::strerror(errno)));
    }
    stream_ = std::make_unique<OutputStream>(fd_, path);
  }
  ~DuplicateSink() {
    stream_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  void write(std::string_view line) {
    if (stream_) stream_->write_line(line);
  }
  void flush() {
    if (stream_) stream_->flush();
  }

 private:
  int fd_ = -1;
  std::unique_ptr<OutputStream> stream_;
};

// A record read but not yet settled: claims are made a batch at a time, in index order (random
// keys inserted in sorted runs touch each index page once per batch, which doubled throughput
// on shuffled input), and the outcome is then applied in input order.
struct Pending {
  std::string text;
  std::string key;
  std::string fingerprint;
  std::size_t input = 0;
  long long line = 0;
  std::optional<std::string> stored;  // first occurrences: the fingerprint already stored
};

class Filter {
 public:
  Filter(Store& store, const Clock& clock, const FilterOptions& options, OutputStream& out)
      : store_(store),
        clock_(clock),
        options_(options),
        out_(out),
        reader_(options.inputs, options.input),
        duplicates_(options.duplicates_file) {}

  FilterCounts run();

 private:
  void read(const Record& record);
  std::optional<std::string> key_of(const Record& record);
  std::string fingerprint_of(const JsonValue& record) const;
  void settle();
  void claim(const std::vector<std::size_t>& firsts, std::size_t before);
  void deliver(db::WriteTransaction& transaction);

  Store& store_;
  const Clock& clock_;
  const FilterOptions& options_;
  OutputStream& out_;
  JsonlReader reader_;
  DuplicateSink duplicates_;
  std::vector<Pending> pending_;
  std::size_t pending_bytes_ = 0;                            // the text of pending_'s records
  std::unordered_map<std::string_view, std::size_t> first_;  // key -> index of its first record
  FilterCounts counts_;
};

std::optional<std::string> Filter::key_of(const Record& record) {
  FilterKey found = filter_key(record.value, options_.key_field);
  if (!found.key) reader_.reject(record, found.problem);
  return std::move(found.key);
}

std::string Filter::fingerprint_of(const JsonValue& record) const {
  if (options_.fingerprint_fields.empty()) return to_hex(sha256(canonical_json(record)));
  std::vector<JsonValue::Member> selected;
  for (const auto& name : options_.fingerprint_fields) {
    if (const JsonValue* value = record.find(name)) selected.emplace_back(name, *value);
  }
  return to_hex(sha256(canonical_json(JsonValue::object(std::move(selected)))));
}

void Filter::read(const Record& record) {
  auto key = key_of(record);
  if (!key) return;
  pending_.push_back({std::string(record.text), std::move(*key), fingerprint_of(record.value),
                      reader_.current_input(), record.line, std::nullopt});
  pending_bytes_ += record.text.size();
  if (pending_.size() >= options_.batch || pending_bytes_ >= options_.batch_bytes) settle();
}

// Claims the first occurrences among pending_[0, before) in key order.
void Filter::claim(const std::vector<std::size_t>& firsts, std::size_t before) {
  std::vector<std::size_t> claimed;
  std::vector<Store::Sighting> sightings;
  for (std::size_t index : firsts) {
    if (index >= before) continue;
    claimed.push_back(index);
    sightings.push_back({pending_[index].key, pending_[index].fingerprint});
  }
  auto answers = store_.remember_all(options_.scope, sightings, clock_.now(), options_.ttl);
  for (std::size_t position = 0; position < claimed.size(); ++position) {
    pending_[claimed[position]].stored = std::move(answers[position]);
  }
}

void Filter::settle() {
  if (pending_.empty()) return;
  first_.clear();
  std::vector<std::size_t> firsts;
  for (std::size_t index = 0; index < pending_.size(); ++index) {
    if (first_.try_emplace(pending_[index].key, index).second) firsts.push_back(index);
  }
  // In index order: each index page is then visited once per batch, in sequence.
  std::vector<std::pair<std::int64_t, std::size_t>> order;
  order.reserve(firsts.size());
  for (std::size_t index : firsts) {
    order.emplace_back(key_hash(options_.scope, pending_[index].key), index);
  }
  std::sort(order.begin(), order.end());
  for (std::size_t position = 0; position < order.size(); ++position) {
    firsts[position] = order[position].second;
  }
  db::WriteTransaction transaction(store_.database());
  claim(firsts, pending_.size());
  deliver(transaction);
}

// Applies the claims in input order: new keys are written out, exact repeats are duplicates,
// anything else is a conflict. The claims commit only after the output is flushed, so a crash
// in between re-emits records rather than losing them.
void Filter::deliver(db::WriteTransaction& transaction) {
  for (std::size_t index = 0; index < pending_.size(); ++index) {
    const Pending& record = pending_[index];
    const Pending& first = pending_[first_.at(record.key)];
    const std::string& known = first.stored ? *first.stored : first.fingerprint;
    if (&first == &record && !record.stored) {
      out_.write_line(record.text);
      ++counts_.passed;
    } else if (known == record.fingerprint) {
      duplicates_.write(record.text);
      ++counts_.duplicates;
    } else if (options_.input.skip_invalid) {
      reader_.reject_at(reader_.location_of(record.input, record.line),
                        fmt::format("key '{}' was first seen with different content", record.key));
    } else {
      // Stop here: keep only the claims of the records before this one, then report it.
      std::string location = reader_.location_of(record.input, record.line);
      std::string key = record.key;
      transaction.rollback();
      db::WriteTransaction prefix(store_.database());
      std::vector<std::size_t> firsts;
      for (std::size_t earlier = 0; earlier < index; ++earlier) {
        if (first_.at(pending_[earlier].key) == earlier) firsts.push_back(earlier);
      }
      claim(firsts, index);
      out_.flush();
      duplicates_.flush();
      prefix.commit();
      pending_.clear();
      pending_bytes_ = 0;
      throw Error(exit_code::data,
                  fmt::format("key '{}' was first seen with different content", key), location);
    }
  }
  out_.flush();
  duplicates_.flush();
  transaction.commit();
  pending_.clear();
  pending_bytes_ = 0;
}

FilterCounts Filter::run() {
  // Do not hold records (or the writer lock) while the input is idle.
  reader_.on_idle([this] { settle(); });
  Progress progress(options_.progress, "idemkey filter", total_input_bytes(options_.inputs));
  std::uint64_t records = 0;
  try {
    while (auto record = reader_.next()) {
      read(*record);
      throw_if_interrupted();
      progress.update(reader_.bytes_read(), ++records);
    }
  } catch (const Error& error) {
    // A bad line or Ctrl-C stops the run cleanly: deliver the records read before it and
    // commit their claims, so state and output agree. Output errors (a closed pipe, a full
    // disk) must not commit: those records were not delivered.
    if (error.code() == exit_code::data || pending_signal() != 0) settle();
    throw;
  }
  settle();
  counts_.invalid = reader_.skipped();
  return counts_;
}

}  // namespace

FilterKey filter_key(const JsonValue& record, const std::string& key_field) {
  const JsonValue* field = record.find(key_field);
  if (field == nullptr) return {std::nullopt, fmt::format("missing key field '{}'", key_field)};
  if ((field->is_string() || (field->is_number() && is_integer_text(field->text()))) &&
      is_valid_key(field->text())) {
    return {field->text(), {}};
  }
  if (field->is_string()) {
    return {std::nullopt, fmt::format("key field '{}' is not a valid key (1 to 255 printable "
                                      "ASCII characters without spaces)",
                                      key_field)};
  }
  return {std::nullopt, fmt::format("key field '{}' must be a string or an integer, not {}",
                                    key_field, kind_name(field->kind()))};
}

FilterCounts filter(Store& store, const Clock& clock, const FilterOptions& options,
                    OutputStream& out) {
  Filter filter(store, clock, options, out);
  return filter.run();
}

}  // namespace sluice::idemkey
