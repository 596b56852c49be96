// `idemkey filter`: at-least-once stream deduplication. Claims are written in one write
// transaction per batch, and the transaction commits only after the batch's records have been
// written and flushed to stdout: a crash never loses a record (a claim is never committed
// before its record was delivered), at the price of re-emitting at most the last uncommitted
// batch on a rerun.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
      throw Error(exit_code::cannot_create, fmt::format("cannot open duplicates file '{}': {}",
                                                        path, std::strerror(errno)));
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

class Filter {
 public:
  Filter(Store& store, const Clock& clock, const FilterOptions& options, OutputStream& out)
      : store_(store), clock_(clock), options_(options), out_(out),
        reader_(options.inputs, options.skip_invalid), duplicates_(options.duplicates_file) {}

  FilterCounts run();

 private:
  void process(const Record& record);
  std::optional<std::string> key_of(const Record& record);
  std::string fingerprint_of(const JsonValue& record) const;
  void commit_batch();

  Store& store_;
  const Clock& clock_;
  const FilterOptions& options_;
  OutputStream& out_;
  JsonlReader reader_;
  DuplicateSink duplicates_;
  std::optional<db::WriteTransaction> transaction_;
  std::size_t in_batch_ = 0;
  FilterCounts counts_;
};

std::optional<std::string> Filter::key_of(const Record& record) {
  const JsonValue* field = record.value.find(options_.key_field);
  std::string problem;
  if (field == nullptr) {
    problem = fmt::format("missing key field '{}'", options_.key_field);
  } else if ((field->is_string() || (field->is_number() && is_integer_text(field->text()))) &&
             is_valid_key(field->text())) {
    return field->text();
  } else if (field->is_string()) {
    problem = fmt::format("key field '{}' is not a valid key (1 to 255 printable ASCII "
                          "characters without spaces)",
                          options_.key_field);
  } else {
    problem = fmt::format("key field '{}' must be a string or an integer, not {}",
                          options_.key_field, kind_name(field->kind()));
  }
  reader_.reject(record, problem);
  return std::nullopt;
}

std::string Filter::fingerprint_of(const JsonValue& record) const {
  if (options_.fingerprint_fields.empty()) return to_hex(sha256(canonical_json(record)));
  std::vector<JsonValue::Member> selected;
  for (const auto& name : options_.fingerprint_fields) {
    if (const JsonValue* value = record.find(name)) selected.emplace_back(name, *value);
  }
  return to_hex(sha256(canonical_json(JsonValue::object(std::move(selected)))));
}

void Filter::process(const Record& record) {
  auto key = key_of(record);
  if (!key) return;
  std::string fingerprint = fingerprint_of(record.value);
  if (!transaction_) transaction_.emplace(store_.database());
  Instant now = clock_.now();
  auto known = store_.live_fingerprint(options_.scope, *key, now);
  if (!known) {
    store_.remember(options_.scope, *key, fingerprint, now, options_.ttl);
    out_.write_line(record.text);
    ++counts_.passed;
  } else if (*known == fingerprint) {
    duplicates_.write(record.text);
    ++counts_.duplicates;
  } else {
    reader_.reject(record, fmt::format("key '{}' was first seen with different content", *key));
  }
  if (++in_batch_ >= options_.batch) commit_batch();
}

void Filter::commit_batch() {
  // Output first, then the claims: a crash in between re-emits rather than loses.
  out_.flush();
  duplicates_.flush();
  if (transaction_) transaction_->commit();
  transaction_.reset();
  in_batch_ = 0;
}

FilterCounts Filter::run() {
  // Do not hold records (or the writer lock) while the input is idle.
  reader_.on_idle([this] { commit_batch(); });
  Progress progress(options_.progress, "idemkey filter", total_input_bytes(options_.inputs));
  std::uint64_t records = 0;
  try {
    while (auto record = reader_.next()) {
      process(*record);
      throw_if_interrupted();
      progress.update(reader_.bytes_read(), ++records);
    }
  } catch (const Error& error) {
    // A bad line or Ctrl-C stops the run cleanly: deliver what was accepted and commit its
    // claims, so state and output agree. Output errors (a closed pipe, a full disk) must not
    // commit: those records were not delivered, and the transaction rolls back.
    if (error.code() == exit_code::data || pending_signal() != 0) commit_batch();
    throw;
  }
  commit_batch();
  counts_.invalid = reader_.skipped();
  return counts_;
}

}  // namespace

FilterCounts filter(Store& store, const Clock& clock, const FilterOptions& options, OutputStream& out) {
  Filter filter(store, clock, options, out);
  return filter.run();
}

}  // namespace sluice::idemkey
