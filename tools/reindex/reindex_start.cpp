// reindex start: check the source, create V2, install the forward triggers and record the job,
// all in one transaction.
#include <fmt/format.h>

#include "reindex_commands.hpp"
#include "reindex_schema.hpp"
#include "reindex_sync.hpp"
#include "reindex_transform.hpp"
#include "sluice/error.hpp"

namespace sluice::reindex {

namespace {

TableInfo checked_source(Context& context, const StartOptions& options) {
  TableInfo source = table_info(context.database, options.table);
  if (!source.exists)
    refuse(fmt::format("no table '{}' in '{}'", options.table, context.database.path()));
  if (source.kind != "table") {
    refuse(fmt::format("'{}' is a {}, not an ordinary table", source.name, source.kind));
  }
  if (auto active = context.store.active_on(source.name)) {
    refuse(fmt::format("table '{}' already has a reindex job running: '{}' ({})", source.name,
                       active->name, phase_name(active->phase)));
  }
  auto referencing = referencing_tables(context.database, source.name);
  if (!referencing.empty() && !options.allow_foreign_keys) {
    refuse(
        fmt::format("table '{}' is referenced by foreign keys of {}: after the switch they "
                    "would point at the new table; pass --allow-fk if that is what you want",
                    source.name, joined(referencing)));
  }
  auto triggers = user_triggers(context.database, source.name);
  if (!triggers.empty()) {
    refuse(
        fmt::format("table '{}' has triggers ({}): they would stay on the old table at the "
                    "switch; drop them, and create them on the new table after it",
                    source.name, joined(triggers)));
  }
  return source;
}

void check_free_name(Context& context, const std::string& name, std::string_view what) {
  if (schema_object_exists(context.database, name)) {
    refuse(fmt::format("cannot use '{}' as the {}: the name is taken (a job not cleaned up?)", name,
                       what));
  }
}

// View mode: the alias must be a view (kept, and restored by rollback) or a free name (start
// creates it over the source, so the application can start using it).
void prepare_alias(Context& context, Job& job) {
  if (job.alias.empty()) refuse("--alias-mode view needs --alias NAME (the view to switch)");
  TableInfo alias = table_info(context.database, job.alias);
  if (alias.exists && alias.kind != "view") {
    refuse(fmt::format("--alias: '{}' is a {}, not a view", job.alias, alias.kind));
  }
  if (alias.exists) {
    auto query = context.database.query(
        "SELECT sql FROM sqlite_schema WHERE type = 'view' AND lower(name) = lower(?1)", job.alias);
    if (query.step()) job.alias_sql = query->text(0);
    return;
  }
  context.database.execute_script(fmt::format("CREATE VIEW {} AS SELECT * FROM {}",
                                              db::quote_identifier(job.alias),
                                              db::quote_identifier(job.source)));
}

// The new table's DDL from --like, column operations or --dest-ddl; column operations also
// give the projection.
std::string destination_ddl(Context& context, const StartOptions& options, const TableInfo& source,
                            Job& job) {
  if (options.like) return copied_definition(context.database, job.source, job.dest, "__v2");
  if (options.changes.empty()) return with_name(options.dest_ddl, job.dest);
  Transformed transformed = transformed_table(context.database, source, options.changes);
  job.select = transformed.select;
  return with_name(transformed.ddl, job.dest);
}

void create_destination(Context& context, const StartOptions& options, const std::string& ddl) {
  try {
    context.database.execute_creating_script(ddl);
  } catch (const Error& error) {
    // A mistake in the user's DDL is bad input, named with its file (none with --like).
    throw Error(exit_code::data, fmt::format("the new table's DDL failed: {}", error.what()),
                options.dest_ddl_name);
  }
}

void check_destination(Context& context, const Job& job) {
  TableInfo dest = table_info(context.database, job.dest);
  if (!dest.exists || (dest.kind != "table" && dest.kind != "virtual")) {
    refuse(fmt::format("the DDL did not create table {{name}} ('{}')", job.dest));
  }
  for (const auto& column : job.columns) {
    if (dest.column(column) == nullptr && !same_name(column, "rowid")) {
      refuse(fmt::format("the projection fills column '{}', which the new table '{}' lacks", column,
                         job.dest));
    }
  }
  if (!is_unique_key(context.database, dest, job.dest_key)) {
    refuse(
        fmt::format("the new table '{}' has no unique key on ({}), the columns the source "
                    "key is copied to",
                    job.dest, joined(job.dest_key)));
  }
}

void check_reverse(Context& context, Job& job) {
  if (table_info(context.database, job.dest).kind == "virtual") {
    refuse(
        fmt::format("--reverse-select: the new table '{}' is virtual, and SQLite has no "
                    "triggers on virtual tables",
                    job.dest));
  }
  Projection reverse =
      check_projection(context.database, job.reverse_select, job.dest, job.dest_key);
  for (std::size_t index = 0; index < job.key.size(); ++index) {
    if (!same_name(reverse.carried_key[index], job.key[index])) {
      refuse(fmt::format("--reverse-select must carry '{}' back as '{}'", job.dest_key[index],
                         job.key[index]));
    }
  }
  TableInfo source = table_info(context.database, job.source);
  for (const auto& column : reverse.columns) {
    if (source.column(column) == nullptr) {
      refuse(
          fmt::format("--reverse-select fills column '{}', which '{}' lacks", column, job.source));
    }
  }
  job.reverse_columns = reverse.columns;
}

}  // namespace

namespace {

// The job of this name that is neither done nor aborted, if any.
std::optional<Job> running_job(Context& context) {
  std::optional<Job> existing = context.store.find(context.job);
  if (existing && (existing->phase == Phase::done || existing->phase == Phase::aborted)) {
    return std::nullopt;
  }
  return existing;
}

// Everything start does but recording the job, inside the caller's write transaction.
Job create_job(Context& context, const StartOptions& options) {
  TableInfo source = checked_source(context, options);
  Job job;
  job.name = context.job;
  job.source = source.name;
  job.dest = options.dest.empty() ? source.name + "__v2" : options.dest;
  job.old_name = source.name + "__v1";
  job.mode = options.mode;
  job.alias = options.mode == AliasMode::view ? options.alias : source.name;
  job.key = stable_key(context.database, source, options.key);
  job.select = options.select.empty() ? all_columns(source) : options.select;
  job.reverse_select = options.reverse_select;
  check_free_name(context, job.dest, "new table");
  if (job.mode == AliasMode::rename) check_free_name(context, job.old_name, "old table's name");
  std::string ddl = destination_ddl(context, options, source, job);
  Projection projection = check_projection(context.database, job.select, job.source, job.key);
  job.columns = projection.columns;
  job.dest_key = projection.carried_key;
  if (job.mode == AliasMode::view) prepare_alias(context, job);
  create_destination(context, options, ddl);
  check_destination(context, job);
  if (!job.reverse_select.empty()) check_reverse(context, job);
  create_sync_triggers(context.database, job, forward_sync(job));
  return job;
}

std::int64_t integer_of(db::Database& database, const std::string& sql) {
  auto query = database.query(sql);
  return query.step() ? query->integer(0) : 0;
}

}  // namespace

Job start(Context& context, const StartOptions& options, bool join_running, Inserts inserts) {
  db::WriteTransaction transaction(context.database);
  if (auto existing = running_job(context)) {
    if (join_running) return *existing;
    refuse(fmt::format("job '{}' exists and is {}", context.job, phase_name(existing->phase)));
  }
  Job job = create_job(context, options);
  if (inserts == Inserts::must_fit) refuse_breaking_inserts(context.database, job);
  context.store.save(job, context.clock.now());
  transaction.commit();
  return job;
}

void note_breaking_inserts(Context& context, const Job& job) {
  std::vector<std::string> breaking;
  {
    db::ReadTransaction read(context.database);
    breaking = columns_breaking_inserts(context.database, job);
  }
  if (breaking.empty()) return;
  note(
      fmt::format("job '{}': the application's INSERTs into '{}' will fail after the switch "
                  "unless they fill {} (NOT NULL, no default, new): the switch refuses without "
                  "--allow-breaking-inserts",
                  job.name, job.source, joined(breaking)));
}

JsonValue plan(Context& context, const StartOptions& options, std::int64_t batch) {
  db::WriteTransaction transaction(context.database);  // never committed
  if (auto existing = running_job(context)) {
    refuse(fmt::format("job '{}' exists and is {}: a dry run plans a new job", context.job,
                       phase_name(existing->phase)));
  }
  // sqlite_schema numbers its rows in the order objects are created.
  const std::int64_t before = integer_of(context.database, "SELECT max(rowid) FROM sqlite_schema");
  Job job = create_job(context, options);
  std::vector<std::string> created = first_column(context.database.query(
      "SELECT sql FROM sqlite_schema WHERE rowid > ?1 AND sql IS NOT NULL ORDER BY rowid", before));
  std::vector<std::string> switching = switch_statements(context.database, job);
  std::vector<std::string> breaking = columns_breaking_inserts(context.database, job);
  transaction.rollback();
  // Counted after the rollback: a scan of the whole table must not keep the application's
  // writers waiting, as the write lock would.
  std::int64_t rows = 0;
  {
    db::ReadTransaction read(context.database);
    rows = integer_of(context.database, "SELECT count(*) FROM " + db::quote_identifier(job.source));
  }
  return JsonValue::object({
      {"job", JsonValue::string(job.name)},
      {"dry_run", JsonValue::boolean(true)},
      {"table", JsonValue::string(job.source)},
      {"mode", JsonValue::string(std::string(mode_name(job.mode)))},
      {"alias", JsonValue::string(job.alias)},
      {"new_table", JsonValue::string(job.dest)},
      {"old_table", JsonValue::string(job.mode == AliasMode::rename ? job.old_name : job.source)},
      {"key", strings_json(job.key)},
      {"select", JsonValue::string(job.select)},
      {"reverse_select",
       job.reverse_select.empty() ? JsonValue::null() : JsonValue::string(job.reverse_select)},
      {"create", strings_json(created)},
      {"rows", JsonValue::integer(rows)},
      {"batch", JsonValue::integer(batch)},
      {"batches", JsonValue::integer((rows + batch - 1) / batch)},
      {"switch", strings_json(switching)},
      {"breaking_inserts", strings_json(breaking)},
  });
}

}  // namespace sluice::reindex
