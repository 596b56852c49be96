// The lower-level and administrative subcommands: begin, finish, release, show, list, gc, stats.
#include <unistd.h>

#include <fmt/format.h>

#include "idemkey.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::idemkey {
namespace {

void add_instant(std::vector<JsonValue::Member>& members, std::string_view name,
                 const std::optional<Instant>& instant) {
  members.emplace_back(name,
                       instant ? JsonValue::string(format_instant(*instant)) : JsonValue::null());
}

JsonValue row_json(const KeyRow& row, Instant now) {
  std::vector<JsonValue::Member> members;
  members.emplace_back("scope", JsonValue::string(row.scope));
  members.emplace_back("key", JsonValue::string(row.key));
  members.emplace_back("state", JsonValue::string(std::string(row.state_at(now))));
  members.emplace_back("attempt", JsonValue::integer(row.attempt));
  members.emplace_back("fingerprint", JsonValue::string(row.fingerprint));
  add_instant(members, "created_at", row.created_at);
  add_instant(members, "lease_until", row.lease_until);
  add_instant(members, "completed_at", row.completed_at);
  add_instant(members, "expires_at", row.expires_at);
  members.emplace_back("exit",
                       row.exit_status ? JsonValue::integer(*row.exit_status) : JsonValue::null());
  members.emplace_back("stored_bytes", JsonValue::integer(row.stored_bytes));
  members.emplace_back("output_stored", JsonValue::boolean(row.output_stored));
  return JsonValue::object(std::move(members));
}

std::string read_response(const FinishOptions& options) {
  if (options.response_file.empty()) return {};
  InputFile input(options.response_file);
  return read_all(input.fd(), input.name(), options.max_output);
}

}  // namespace

int begin(Store& store, const Clock& clock, const BeginOptions& options, OutputStream& out) {
  ClaimRequest request{options.scope, options.key, options.fingerprint,
                       options.lease, options.ttl, StalePolicy::steal};
  Claim claim = store.claim(request, clock.now());
  const KeyRow& row = *claim.row;
  ObjectWriter json;
  switch (claim.decision) {
    case Decision::proceed:
      json.add_string("decision", "proceed")
          .add_string("key", options.key)
          .add_string("token", row.token)
          .add_int("attempt", row.attempt);
      out.write_line(json.finish());
      return exit_code::success;
    case Decision::replay:
      json.add_string("decision", "replay")
          .add_string("key", options.key)
          .add_int("status", row.exit_status.value_or(0));
      // A response that is not text comes back losslessly as base64.
      if (is_valid_utf8(row.stdout_bytes)) {
        json.add_string("response", row.stdout_bytes);
      } else {
        json.add_string("response_base64", to_base64(row.stdout_bytes));
      }
      json.add_bool("output_stored", row.output_stored);
      out.write_line(json.finish());
      return exit_code::definite_no;
    case Decision::conflict:
      throw Error(exit_code::data,
                  fmt::format("key '{}' was first used for a different request", options.key));
    case Decision::busy:
    case Decision::still_running:
    case Decision::stale_locked:
      throw Error(exit_code::temporary,
                  fmt::format("key '{}' is in progress (attempt {}); try again later", options.key,
                              row.attempt));
  }
  return exit_code::internal;
}

int finish(Store& store, const Clock& clock, const FinishOptions& options) {
  std::string response = read_response(options);
  if (!store.complete(options.scope, options.key, options.token, options.status, response, {},
                      clock.now())) {
    throw Error(exit_code::data,
                fmt::format("token '{}' does not hold key '{}' (it was released, taken over by a "
                            "newer attempt, or already finished)",
                            options.token, options.key));
  }
  return exit_code::success;
}

int release(Store& store, const std::string& scope, const std::string& key,
            const std::optional<std::string>& token, OutputStream& out) {
  if (token) {
    auto row = store.find(scope, key, false);
    if (row && row->token != *token) {
      throw Error(exit_code::data,
                  fmt::format("token '{}' does not hold key '{}'; nothing released", *token, key));
    }
  }
  bool released =
      store.release(scope, key, token ? std::optional<std::string_view>(*token) : std::nullopt);
  out.write_line(ObjectWriter().add_string("key", key).add_bool("released", released).finish());
  return exit_code::success;
}

int show(Store& store, const Clock& clock, const std::string& scope, const std::string& key,
         Format format, OutputStream& out) {
  auto row = store.find(scope, key, false);
  if (!row) {
    print_diagnostic(Severity::error, {}, fmt::format("no key '{}' in scope '{}'", key, scope));
    return exit_code::definite_no;
  }
  RecordPrinter printer(out, format);
  printer.print(row_json(*row, clock.now()));
  printer.finish();
  return exit_code::success;
}

int list(Store& store, const Clock& clock, const std::string& scope,
         const std::string& state_filter, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  Instant now = clock.now();
  store.list(scope, [&](const KeyRow& row) {
    std::string_view state = row.state_at(now);
    if (state_filter.empty() || state_filter == state) printer.print(row_json(row, now));
  });
  printer.finish();
  return exit_code::success;
}

int collect_garbage(Store& store, const Clock& clock, int batch, OutputStream& out) {
  std::int64_t deleted = store.collect_garbage(clock.now(), batch);
  out.write_line(ObjectWriter().add_int("deleted", deleted).finish());
  return exit_code::success;
}

int stats(Store& store, const Clock& clock, const std::string& scope, Format format,
          OutputStream& out) {
  std::int64_t keys = 0, in_progress = 0, completed = 0, expired = 0, bytes = 0;
  Instant now = clock.now();
  store.list(scope, [&](const KeyRow& row) {
    ++keys;
    bytes += row.stored_bytes;
    if (row.is_expired(now)) {
      ++expired;
    } else if (row.state == KeyState::completed) {
      ++completed;
    } else {
      ++in_progress;
    }
  });
  RecordPrinter printer(out, format);
  printer.print(JsonValue::object({{"keys", JsonValue::integer(keys)},
                                   {"in_progress", JsonValue::integer(in_progress)},
                                   {"completed", JsonValue::integer(completed)},
                                   {"expired", JsonValue::integer(expired)},
                                   {"stored_bytes", JsonValue::integer(bytes)}}));
  printer.finish();
  return exit_code::success;
}

}  // namespace sluice::idemkey
