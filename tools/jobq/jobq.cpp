// The subcommands that read or change jobs directly: add, claim, ack, fail, heartbeat, show,
// list, stats, cancel, retry, reap, purge, result, results.
#include "jobq.hpp"

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/json.hpp"

namespace sluice::jobq {
namespace {

JsonValue instant_value(const std::optional<Instant>& instant) {
  return instant ? JsonValue::string(format_instant(*instant)) : JsonValue::null();
}

JsonValue word(std::string_view text) {
  return JsonValue::string(std::string(text));
}

JsonValue payload_value(const std::string& payload) {
  JsonParser parser;
  ParseOutcome parsed = parser.parse_object(payload);
  return parsed.value ? *parsed.value : JsonValue::string(payload);
}

JsonValue job_json(const JobRow& job) {
  std::vector<JsonValue::Member> members;
  members.emplace_back("id", JsonValue::integer(job.id));
  members.emplace_back("queue", word(job.queue));
  members.emplace_back("state", word(job_state_names.name(job.state)));
  members.emplace_back("priority", JsonValue::integer(job.priority));
  members.emplace_back("group", word(job.group));
  members.emplace_back("key", job.key ? word(*job.key) : JsonValue::null());
  members.emplace_back("attempt", JsonValue::integer(job.attempt));
  members.emplace_back("max_attempts", JsonValue::integer(job.max_attempts));
  members.emplace_back("token", JsonValue::integer(job.token));
  members.emplace_back("run_at", instant_value(job.run_at));
  members.emplace_back("created_at", instant_value(job.created_at));
  members.emplace_back("lease_until", instant_value(job.lease_until));
  members.emplace_back("finished_at", instant_value(job.finished_at));
  members.emplace_back("worker", word(job.worker));
  members.emplace_back("batch", word(job.batch));
  members.emplace_back("cancel_requested", JsonValue::boolean(job.cancel_requested));
  members.emplace_back("exit_status",
                       job.exit_status ? JsonValue::integer(*job.exit_status) : JsonValue::null());
  members.emplace_back("error", word(job.last_error));
  members.emplace_back("payload", payload_value(job.payload));
  return JsonValue::object(std::move(members));
}

// A token that no longer holds its job: its own status, and the job's state for the record.
int refuse_token(Store& store, std::int64_t id, std::int64_t token, Fence fence) {
  if (fence == Fence::missing) throw Error(exit_code::no_input, fmt::format("no job {}", id));
  std::optional<JobRow> job = store.find(id);
  std::string state = job ? std::string(job_state_names.name(job->state)) : "gone";
  print_diagnostic(Severity::error, {},
                   fmt::format("token {} no longer holds job {} (the job is {}, token {})", token,
                               id, state, job ? job->token : 0));
  return stale_token;
}

std::string trimmed_line(std::string_view text) {
  if (text.ends_with('\r')) text.remove_suffix(1);
  return std::string(text);
}

std::vector<NewJob> read_jobs(const AddOptions& options, Instant run_at) {
  std::vector<NewJob> jobs;
  auto with_payload = [&](std::string payload, std::string where) {
    NewJob job = options.job;
    job.payload = std::move(payload);
    job.run_at = run_at;
    job.where = std::move(where);
    jobs.push_back(std::move(job));
  };
  if (options.payload) {
    JsonParser parser;
    ParseOutcome parsed = parser.parse_object(*options.payload);
    if (!parsed.value) {
      throw Error(exit_code::usage, fmt::format("--payload: {}", parsed.error));
    }
    with_payload(*options.payload, "--payload");
    return jobs;
  }
  InputOptions input = options.input;
  input.skip_invalid = false;  // a batch is added whole or not at all
  JsonlReader reader(options.inputs, input);
  while (std::optional<Record> record = reader.next()) {
    with_payload(trimmed_line(record->text),
                 reader.location_of(reader.current_input(), record->line));
  }
  return jobs;
}

void print_added(const std::vector<AddedJob>& added, OutputStream& out) {
  for (const AddedJob& job : added) {
    ObjectWriter line;
    line.add_int("id", job.id)
        .add_string("queue", job.queue)
        .add_string("state", job_state_names.name(job.state))
        .add_string("run_at", format_instant(job.run_at))
        .add_string("outcome", add_outcome_names.name(job.outcome));
    out.write_line(line.finish());
  }
}

}  // namespace

int add(Store& store, const Clock& clock, const AddOptions& options, OutputStream& out) {
  Instant now = clock.now();
  Instant run_at = options.at ? *options.at : now + options.delay.value_or(Duration::zero());
  std::vector<NewJob> jobs = read_jobs(options, run_at);
  print_added(store.add(jobs, options.on_duplicate, now), out);
  return exit_code::success;
}

int claim(Store& store, const Clock& clock, const ClaimOptions& options, OutputStream& out) {
  std::vector<ClaimedJob> jobs =
      store.claim(options.queues, options.count, options.lease, options.worker, clock.now());
  for (const ClaimedJob& job : jobs) {
    ObjectWriter line;
    line.add_int("id", job.id)
        .add_string("queue", job.queue)
        .add_string("group", job.group)
        .add_int("token", job.token)
        .add_int("attempt", job.attempt)
        .add_int("max_attempts", job.max_attempts)
        .add_string("lease_until", format_instant(job.lease_until))
        .add_raw("payload", job.payload);
    out.write_line(line.finish());
  }
  return jobs.empty() ? nothing_due : exit_code::success;
}

int ack(Store& store, const Clock& clock, std::int64_t id, std::int64_t token, OutputStream& out) {
  Fence fence = store.ack(id, token, std::nullopt, std::nullopt, clock.now());
  if (fence != Fence::held) return refuse_token(store, id, token, fence);
  out.write_line(ObjectWriter().add_int("id", id).add_string("state", "done").finish());
  return exit_code::success;
}

namespace {

// The field's whole number, or the line refused (65, naming the line and the field).
std::int64_t whole_field(JsonlReader& reader, const Record& record, std::string_view name,
                         std::int64_t min) {
  try {
    return whole_number_in_field(field_in(record.value, name), name, min, INT64_MAX);
  } catch (const Error& error) {
    if (error.code() != exit_code::data) throw;
    reader.reject(record, error.what());
    return -1;
  }
}

}  // namespace

int ack_lines(Store& store, const Clock& clock, const std::vector<std::string>& inputs,
              const InputOptions& input, OutputStream& out) {
  InputOptions strict = input;
  strict.skip_invalid = false;
  JsonlReader reader(inputs, strict);
  std::vector<Store::Holder> holders;
  while (std::optional<Record> record = reader.next()) {
    std::int64_t id = whole_field(reader, *record, "id", 1);
    std::int64_t token = whole_field(reader, *record, "token", 0);
    holders.push_back({id, token});
  }
  std::vector<Fence> fences = store.ack_all(holders, clock.now());
  int status = exit_code::success;
  for (std::size_t index = 0; index < holders.size(); ++index) {
    const Store::Holder& holder = holders[index];
    if (fences[index] == Fence::held) {
      out.write_line(ObjectWriter().add_int("id", holder.id).add_string("state", "done").finish());
    } else if (fences[index] == Fence::missing) {
      print_diagnostic(Severity::error, {}, fmt::format("no job {}", holder.id));
      status = std::max(status, exit_code::no_input);
    } else {
      status = std::max(status, refuse_token(store, holder.id, holder.token, Fence::stale));
    }
  }
  return status;
}

int fail(Store& store, const Clock& clock, std::int64_t id, std::int64_t token,
         const FailOptions& options, OutputStream& out) {
  FailOutcome outcome = store.fail(id, token, options.retry_after, options.permanent, options.error,
                                   std::nullopt, clock.now());
  if (outcome.fence != Fence::held) return refuse_token(store, id, token, outcome.fence);
  ObjectWriter line;
  line.add_int("id", id)
      .add_string("state", job_state_names.name(outcome.state))
      .add_int("attempt", outcome.attempt);
  if (outcome.state == JobState::waiting) {
    line.add_string("run_at", format_instant(outcome.run_at));
  } else {
    line.add_null("run_at");
  }
  out.write_line(line.finish());
  return exit_code::success;
}

int heartbeat(Store& store, const Clock& clock, std::int64_t id, std::int64_t token, Duration lease,
              OutputStream& out) {
  HeartbeatOutcome outcome = store.heartbeat(id, token, clock.now() + lease);
  if (outcome.fence != Fence::held) return refuse_token(store, id, token, outcome.fence);
  out.write_line(ObjectWriter()
                     .add_int("id", id)
                     .add_string("lease_until", format_instant(outcome.lease_until))
                     .add_bool("cancel_requested", outcome.cancel_requested)
                     .finish());
  return exit_code::success;
}

int show(Store& store, std::int64_t id, Format format, OutputStream& out) {
  std::optional<JobRow> job = store.find(id);
  if (!job) throw Error(exit_code::no_input, fmt::format("no job {}", id));
  JsonValue record = job_json(*job);
  std::vector<JsonValue> history;
  for (const Event& event : store.history(id)) {
    history.push_back(JsonValue::object({{"at", instant_value(event.at)},
                                         {"event", word(event.event)},
                                         {"state", word(job_state_names.name(event.state))},
                                         {"attempt", JsonValue::integer(event.attempt)},
                                         {"token", JsonValue::integer(event.token)},
                                         {"detail", word(event.detail)}}));
  }
  std::vector<JsonValue::Member> members = record.members();
  members.emplace_back("history", JsonValue::array(std::move(history)));
  print_record(out, format, JsonValue::object(std::move(members)));
  return exit_code::success;
}

int list(Store& store, const ListFilter& filter, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  store.list(filter, [&](const JobRow& job) { printer.print(job_json(job)); });
  printer.finish();
  return exit_code::success;
}

int stats(Store& store, const Clock& clock, Format format, OutputStream& out) {
  Instant now = clock.now();
  RecordPrinter printer(out, format);
  for (const QueueCounts& counts : store.stats(now)) {
    std::vector<JsonValue::Member> members;
    members.emplace_back("queue", word(counts.queue));
    for (const auto& entry : job_state_names.entries()) {
      members.emplace_back(entry.name,
                           JsonValue::integer(counts.counts[static_cast<int>(entry.value)]));
    }
    JsonValue age = JsonValue::null();
    if (counts.oldest_due) {
      age = JsonValue::integer(
          std::chrono::duration_cast<std::chrono::seconds>(now - *counts.oldest_due).count());
    }
    members.emplace_back("oldest_waiting_seconds", age);
    printer.print(JsonValue::object(std::move(members)));
  }
  printer.finish();
  return exit_code::success;
}

namespace {

void print_states(const std::vector<JobRow>& rows, OutputStream& out) {
  for (const JobRow& job : rows) {
    out.write_line(ObjectWriter()
                       .add_int("id", job.id)
                       .add_string("state", job_state_names.name(job.state))
                       .add_bool("cancel_requested", job.cancel_requested)
                       .finish());
  }
}

}  // namespace

int cancel(Store& store, const Clock& clock, const std::vector<std::int64_t>& ids,
           OutputStream& out) {
  print_states(store.cancel(ids, clock.now()), out);
  return exit_code::success;
}

int retry(Store& store, const Clock& clock, const std::vector<std::int64_t>& ids,
          OutputStream& out) {
  print_states(store.retry(ids, clock.now()), out);
  return exit_code::success;
}

int reap(Store& store, const Clock& clock, OutputStream& out) {
  out.write_line(ObjectWriter().add_int("reaped", store.reap(clock.now())).finish());
  return exit_code::success;
}

int purge(Store& store, const Clock& clock, Duration older_than, int batch, OutputStream& out) {
  out.write_line(
      ObjectWriter().add_int("purged", store.purge(clock.now() - older_than, batch)).finish());
  return exit_code::success;
}

int print_result(Store& store, std::int64_t id, OutputStream& out) {
  std::optional<JobResult> result = store.result(id);
  if (!result) throw Error(exit_code::no_input, fmt::format("no job {}", id));
  const std::string_view state = job_state_names.name(result->state);
  if (result->state == JobState::waiting || result->state == JobState::running) {
    throw Error(exit_code::temporary, fmt::format("job {} is {}, not done yet", id, state));
  }
  if (result->state != JobState::done) {
    // Final: asking again will not help (a retry would make it waiting first).
    throw Error(exit_code::data, fmt::format("job {} is {}: it has no result", id, state));
  }
  out.write(result->result);
  return exit_code::success;
}

int print_batch_results(Store& store, const std::string& batch, OutputStream& out) {
  std::vector<JobResult> results = store.batch_results(batch);
  if (results.empty()) throw Error(exit_code::no_input, fmt::format("no batch '{}'", batch));
  std::size_t unfinished = 0;
  for (const JobResult& result : results) {
    unfinished += result.state == JobState::waiting || result.state == JobState::running;
  }
  if (unfinished > 0) {
    throw Error(exit_code::temporary, fmt::format("{} of the {} jobs of batch '{}' are not "
                                                  "finished",
                                                  unfinished, results.size(), batch));
  }
  for (const JobResult& result : results) {
    ObjectWriter line;
    line.add_int("id", result.id).add_string("state", job_state_names.name(result.state));
    if (result.exit_status) {
      line.add_int("exit_status", *result.exit_status);
    } else {
      line.add_null("exit_status");
    }
    line.add_string("result", result.result);
    out.write_line(line.finish());
  }
  return exit_code::success;
}

}  // namespace sluice::jobq
