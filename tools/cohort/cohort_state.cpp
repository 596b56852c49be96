#include "cohort_state.hpp"

#include <unistd.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "sluice/atomic_file.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

constexpr std::string_view magic = "SLUICE-COHORT\n";
constexpr std::uint32_t version = 1;
constexpr std::size_t digest_size = 32;

template <typename Integer>
void put_integer(std::string& out, Integer value) {
  auto bits = static_cast<std::make_unsigned_t<Integer>>(value);
  for (std::size_t byte = 0; byte < sizeof(Integer); ++byte) {
    out.push_back(static_cast<char>((bits >> (8 * byte)) & 0xff));
  }
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_integer<std::uint32_t>(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads the container front to back; any overrun is a truncated file.
class Cursor {
 public:
  Cursor(std::string_view bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  template <typename Integer>
  Integer integer() {
    std::string_view raw = take(sizeof(Integer));
    std::make_unsigned_t<Integer> bits = 0;
    for (std::size_t byte = 0; byte < sizeof(Integer); ++byte) {
      bits |= static_cast<std::make_unsigned_t<Integer>>(static_cast<unsigned char>(raw[byte]))
              << (8 * byte);
    }
    return static_cast<Integer>(bits);
  }
  std::string_view bytes() { return take(integer<std::uint32_t>()); }
  std::string_view take(std::uint64_t count) {
    if (count > bytes_.size() - position_) fail("it is truncated");
    std::string_view part = bytes_.substr(position_, count);
    position_ += count;
    return part;
  }
  [[nodiscard]] bool at_end() const { return position_ == bytes_.size(); }
  [[noreturn]] void fail(std::string_view why) const {
    throw Error(exit_code::data, fmt::format("{}: not a usable cohort state: {}", path_, why));
  }

 private:
  std::string_view bytes_;
  const std::string& path_;
  std::size_t position_ = 0;
};

JsonValue optional_string(const std::optional<std::string>& value) {
  return value ? JsonValue::string(*value) : JsonValue::null();
}

std::optional<std::string> optional_text(const JsonValue& record, std::string_view key) {
  const JsonValue* value = record.find(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->text();
}

void put_bitmaps(std::string& out, const PeriodBitmaps& bitmaps, std::uint8_t kind) {
  for (const auto& [period, bitmap] : bitmaps) {
    put_integer<std::uint8_t>(out, kind);
    put_integer<std::int32_t>(out, period);
    std::size_t size = bitmap.getSizeInBytes(true);
    put_integer<std::uint64_t>(out, size);
    std::size_t at = out.size();
    out.resize(at + size);
    bitmap.write(out.data() + at, true);
  }
}

std::string serialize(const State& state) {
  std::string out(magic);
  put_integer<std::uint32_t>(out, version);
  put_bytes(out, state.bucketing.canonical());
  std::optional<Instant> latest = state.activity.latest();
  put_integer<std::uint8_t>(out, latest ? 1 : 0);
  put_integer<std::int64_t>(out, latest ? latest->time_since_epoch().count() : 0);
  put_integer<std::uint64_t>(out, state.users.size());
  for (std::uint32_t id = 0; id < state.users.size(); ++id) put_bytes(out, state.users.key_of(id));
  const Activity& activity = state.activity;
  put_integer<std::uint32_t>(
      out, static_cast<std::uint32_t>(activity.started().size() + activity.active().size()));
  put_bitmaps(out, activity.started(), 0);
  put_bitmaps(out, activity.active(), 1);
  Sha256Digest digest = sha256(out);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

void check_envelope(std::string_view bytes, Cursor& cursor) {
  if (bytes.substr(0, magic.size()) != magic) cursor.fail("it does not start with the magic");
  if (bytes.size() < magic.size() + digest_size) cursor.fail("it is truncated");
  Sha256Digest digest = sha256(bytes.substr(0, bytes.size() - digest_size));
  if (std::memcmp(digest.data(), bytes.data() + bytes.size() - digest_size, digest_size) != 0) {
    cursor.fail("its checksum does not match (damaged or truncated)");
  }
  cursor.take(magic.size());
  auto found = cursor.integer<std::uint32_t>();
  if (found != version)
    cursor.fail(fmt::format("version {} (this cohort reads {})", found, version));
}

// No return event is null (any event), one a string (as states before lists were), several
// an array.
JsonValue return_events_json(const std::vector<std::string>& names) {
  if (names.empty()) return JsonValue::null();
  if (names.size() == 1) return JsonValue::string(names.front());
  std::vector<JsonValue> items;
  for (const std::string& name : names) items.push_back(JsonValue::string(name));
  return JsonValue::array(std::move(items));
}

std::vector<std::string> return_events_of(const JsonValue& record) {
  const JsonValue* value = record.find("return_event");
  if (value == nullptr || value->kind() == JsonValue::Kind::null) return {};
  if (value->is_string()) return {std::string(value->text())};
  if (value->kind() != JsonValue::Kind::array)
    throw Error(exit_code::data, "the bucketing's return_event is malformed");
  std::vector<std::string> names;
  for (const JsonValue& item : value->items()) {
    if (!item.is_string())
      throw Error(exit_code::data, "the bucketing's return_event is malformed");
    names.emplace_back(item.text());
  }
  return names;
}

// Conditions as [[field, value], ...].
JsonValue conditions_json(const std::vector<Condition>& conditions) {
  std::vector<JsonValue> items;
  for (const Condition& condition : conditions) {
    items.push_back(
        JsonValue::array({JsonValue::string(condition.field), JsonValue::string(condition.value)}));
  }
  return JsonValue::array(std::move(items));
}

std::vector<Condition> conditions_of(const JsonValue& record, std::string_view key) {
  const JsonValue* value = record.find(key);
  if (value == nullptr) return {};
  std::vector<Condition> conditions;
  auto malformed = [key] {
    return Error(exit_code::data, fmt::format("the bucketing's {} is malformed", key));
  };
  if (value->kind() != JsonValue::Kind::array) throw malformed();
  for (const JsonValue& item : value->items()) {
    if (item.kind() != JsonValue::Kind::array || item.items().size() != 2 ||
        !item.items()[0].is_string() || !item.items()[1].is_string()) {
      throw malformed();
    }
    conditions.push_back({item.items()[0].text(), item.items()[1].text()});
  }
  return conditions;
}

}  // namespace

std::string Bucketing::canonical() const {
  std::vector<JsonValue::Member> members(
      {{"period", JsonValue::string(std::string(period_unit_name(unit)))},
       {"tz", JsonValue::string(tz)},
       // A day or a month does not depend on the week's first day: states
       // differing only in it are the same.
       {"week_start",
        JsonValue::integer(unit == PeriodUnit::week ? week_start.c_encoding()
                                                    : std::chrono::Monday.c_encoding())},
       {"windows", JsonValue::string(rolling ? "rolling" : "calendar")},
       {"start_event", optional_string(selection.start_event)},
       {"return_event", return_events_json(selection.return_events)}});
  // Only when there are some: the bucketing of states and stores from before conditions
  // keeps its text.
  if (!selection.start_where.empty())
    members.emplace_back("start_where", conditions_json(selection.start_where));
  if (!selection.return_where.empty())
    members.emplace_back("return_where", conditions_json(selection.return_where));
  return canonical_json(JsonValue::object(std::move(members)));
}

Bucketing Bucketing::from_canonical(std::string_view text) {
  JsonParser parser;
  ParseOutcome parsed = parser.parse_object(text);
  if (!parsed.value) throw Error(exit_code::data, "the bucketing is not JSON");
  const JsonValue& record = *parsed.value;
  Bucketing bucketing;
  with_context(exit_code::data, "the bucketing is malformed", [&] {
    bucketing.unit = parse_period_unit(optional_text(record, "period").value_or(""));
    bucketing.tz = optional_text(record, "tz").value_or("");
    const JsonValue* start = record.find("week_start");
    unsigned day = 7;
    if (start != nullptr && start->is_number()) {
      std::from_chars(start->text().data(), start->text().data() + start->text().size(), day);
    }
    if (day > 6) throw Error(exit_code::data, "no week_start from 0 to 6");
    bucketing.week_start = std::chrono::weekday(day);
  });
  bucketing.rolling = optional_text(record, "windows") == "rolling";
  bucketing.selection.start_event = optional_text(record, "start_event");
  bucketing.selection.return_events = return_events_of(record);
  bucketing.selection.start_where = conditions_of(record, "start_where");
  bucketing.selection.return_where = conditions_of(record, "return_where");
  return bucketing;
}

Calendar Bucketing::calendar() const {
  return Calendar(unit, TimeZone::named("--tz", tz), week_start);
}

void merge_into(State& into, const State& from) {
  std::vector<std::uint32_t> ids(from.users.size());
  for (std::uint32_t id = 0; id < from.users.size(); ++id) {
    ids[id] = into.users.intern(from.users.key_of(id));
  }
  into.activity.merge(from.activity, ids);
}

void write_state_file(const std::string& path, const State& state) {
  // A saved state holds every user id it counted: readable by its owner only.
  AtomicFile file(path, 0600);
  file.commit(serialize(state));
}

State read_state_file(const std::string& path) {
  InputFile input(path);
  std::string bytes = read_all(input.fd(), path, std::uint64_t{1} << 40);
  Cursor cursor(bytes, path);
  check_envelope(bytes, cursor);
  State state;
  try {
    state.bucketing = Bucketing::from_canonical(cursor.bytes());
  } catch (const Error& error) {
    cursor.fail(error.what());
  }
  bool has_latest = cursor.integer<std::uint8_t>() != 0;
  auto latest = cursor.integer<std::int64_t>();
  if (has_latest) state.activity.saw(Instant(Duration(latest)));
  auto users = cursor.integer<std::uint64_t>();
  for (std::uint64_t id = 0; id < users; ++id) {
    if (state.users.intern(cursor.bytes()) != id) cursor.fail("a user is listed twice");
  }
  auto bitmaps = cursor.integer<std::uint32_t>();
  for (std::uint32_t index = 0; index < bitmaps; ++index) {
    auto kind = cursor.integer<std::uint8_t>();
    auto period = cursor.integer<std::int32_t>();
    std::optional<Roaring> bitmap = portable_bitmap(cursor.take(cursor.integer<std::uint64_t>()));
    if (!bitmap) cursor.fail("a bitmap is malformed");
    if (kind > 1) cursor.fail("a bitmap has an unknown kind");
    if (!bitmap->isEmpty() && bitmap->maximum() >= users) cursor.fail("a bitmap names no user");
    state.activity.put(kind == 0, period, std::move(*bitmap));
  }
  cursor.take(digest_size);
  if (!cursor.at_end()) cursor.fail("it has bytes after its checksum");
  return state;
}

}  // namespace sluice::cohort
