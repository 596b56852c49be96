#include "sluice/redis.hpp"

#include <dlfcn.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"

namespace sluice::redis {
namespace {

// The hiredis functions sluice calls, resolved from libhiredis.so.0.14 on first use. Their
// types come from hiredis.h, so a mismatch is a compile error rather than a crash.
struct Library {
  decltype(&redisConnectWithTimeout) connect_tcp;
  decltype(&redisConnectUnixWithTimeout) connect_unix;
  decltype(&redisSetTimeout) set_timeout;
  decltype(&redisCommandArgv) command_argv;
  decltype(&freeReplyObject) free_reply;
  decltype(&redisFree) free_context;
};

constexpr const char* library_name = "libhiredis.so.0.14";

template <typename Function>
void resolve(void* handle, Function& target, const char* name) {
  target = reinterpret_cast<Function>(::dlsym(handle, name));
  if (target == nullptr) {
    throw Error(exit_code::unavailable,
                fmt::format("{} has no {}: install libhiredis0.14", library_name, name));
  }
}

Library load_library() {
  void* handle = ::dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw Error(exit_code::unavailable,
                fmt::format("cannot load {} for a redis:// state URL ({}): install libhiredis0.14",
                            library_name, ::dlerror()));
  }
  Library library{};
  resolve(handle, library.connect_tcp, "redisConnectWithTimeout");
  resolve(handle, library.connect_unix, "redisConnectUnixWithTimeout");
  resolve(handle, library.set_timeout, "redisSetTimeout");
  resolve(handle, library.command_argv, "redisCommandArgv");
  resolve(handle, library.free_reply, "freeReplyObject");
  resolve(handle, library.free_context, "redisFree");
  return library;  // the handle stays open for the life of the process
}

const Library& hiredis() {
  static const Library library = load_library();
  return library;
}

redisContext* context_of(void* handle) {
  return static_cast<redisContext*>(handle);
}

timeval timeval_of(Duration duration) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  if (micros <= 0) micros = 1;
  return timeval{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

int parse_number(std::string_view text, std::string_view what, std::string_view url,
                 std::string_view option, int maximum) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > maximum) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' has no valid {} ('{}')", option, url, what, text));
  }
  return value;
}

// Error replies that mean "try again": the server is busy with a long script, loading its
// data, or cannot persist (a full disk under appendonly).
bool is_temporary(std::string_view message) {
  for (std::string_view prefix : {"BUSY", "LOADING", "MISCONF", "TRYAGAIN", "MASTERDOWN"}) {
    if (message.starts_with(prefix)) return true;
  }
  return false;
}

Reply convert(const redisReply& reply) {
  Reply result;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      result.kind = Reply::Kind::text;
      result.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      result.kind = Reply::Kind::integer;
      result.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      result.kind = Reply::Kind::array;
      result.elements.reserve(reply.elements);
      for (std::size_t index = 0; index < reply.elements; ++index) {
        result.elements.push_back(convert(*reply.element[index]));
      }
      break;
    default:
      result.kind = Reply::Kind::nil;
      break;
  }
  return result;
}

}  // namespace

bool is_url(std::string_view location) {
  return location.starts_with("redis://") || location.starts_with("unix://");
}

Location parse_url(std::string_view url, std::string_view option) {
  Location location;
  std::string_view rest = url;
  std::string_view query;
  if (std::size_t mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (rest.starts_with("unix://")) {
    location.socket_path = std::string(rest.substr(7));
    if (location.socket_path.empty() || location.socket_path.front() != '/') {
      throw Error(exit_code::usage,
                  fmt::format("{}: '{}' names no socket (unix:///PATH/redis.sock)", option, url));
    }
  } else if (rest.starts_with("redis://")) {
    rest = rest.substr(8);
    if (rest.find('@') != std::string_view::npos) {
      throw Error(exit_code::usage,
                  fmt::format("{}: '{}' carries credentials, which every user of this host can "
                              "read on the command line",
                              option, url));
    }
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
      std::string_view database = rest.substr(slash + 1);
      if (!database.empty()) {
        location.database = parse_number(database, "database number", url, option, 1000000);
      }
    }
    std::size_t colon = authority.rfind(':');
    location.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      location.port = parse_number(authority.substr(colon + 1), "port", url, option, 65535);
    }
    if (location.host.empty()) location.host = "127.0.0.1";
  } else {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a redis:// or unix:// URL", option, url));
  }
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query = pair.size() < query.size() ? query.substr(pair.size() + 1) : std::string_view();
    std::size_t equals = pair.find('=');
    std::string_view name = pair.substr(0, equals);
    std::string_view value = equals == std::string_view::npos ? "" : pair.substr(equals + 1);
    if (name == "db") {
      location.database = parse_number(value, "database number", url, option, 1000000);
    } else if (name == "namespace" && !value.empty()) {
      location.key_namespace = std::string(value);
    } else {
      throw Error(exit_code::usage, fmt::format("{}: '{}': unknown parameter '{}' (db, namespace)",
                                                option, url, name));
    }
  }
  return location;
}

const std::string& Reply::string() const {
  if (kind != Kind::text) {
    throw Error(exit_code::internal, "the Redis server sent no string where one was expected");
  }
  return text;
}

long long Reply::number() const {
  if (kind == Kind::integer) return integer;
  long long value = 0;
  const std::string& digits = string();
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    throw Error(exit_code::internal,
                fmt::format("the Redis server sent '{}' where a number was expected", digits));
  }
  return value;
}

Script::Script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

Connection::Connection(const std::string& url, Duration timeout)
    : url_(url), location_(parse_url(url, "--db")) {
  const Library& library = hiredis();
  timeval limit = timeval_of(timeout);
  redisContext* context = location_.socket_path.empty()
                              ? library.connect_tcp(location_.host.c_str(), location_.port, limit)
                              : library.connect_unix(location_.socket_path.c_str(), limit);
  if (context == nullptr || context->err != 0) {
    std::string reason = context == nullptr ? "out of memory" : context->errstr;
    if (context != nullptr) library.free_context(context);
    throw Error(exit_code::unavailable,
                fmt::format("cannot connect to the Redis server '{}': {}", url_, reason));
  }
  handle_ = context;
  library.set_timeout(context, limit);
  if (location_.database != 0) {
    std::vector<std::string> select{"SELECT", std::to_string(location_.database)};
    command(select);
  }
}

Connection::~Connection() {
  if (handle_ != nullptr) hiredis().free_context(context_of(handle_));
}

Reply Connection::run(std::span<const std::string> arguments, bool* unknown_script) {
  std::vector<const char*> words;
  std::vector<std::size_t> lengths;
  for (const std::string& argument : arguments) {
    words.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  const Library& library = hiredis();
  auto* reply = static_cast<redisReply*>(library.command_argv(
      context_of(handle_), static_cast<int>(words.size()), words.data(), lengths.data()));
  if (reply == nullptr) {
    // The command may or may not have run: the caller's work must be safe to run again.
    throw Error(exit_code::temporary,
                fmt::format("lost the Redis server '{}' mid-command (its outcome is unknown): {}",
                            url_, context_of(handle_)->errstr));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string message(reply->str, reply->len);
    library.free_reply(reply);
    if (unknown_script != nullptr && message.starts_with("NOSCRIPT")) {
      *unknown_script = true;
      return {};
    }
    throw Error(is_temporary(message) ? exit_code::temporary : exit_code::internal,
                fmt::format("the Redis server '{}' refused {}: {}", url_, arguments.front(),
                            single_line(message)));
  }
  Reply result = convert(*reply);
  library.free_reply(reply);
  return result;
}

Reply Connection::command(std::span<const std::string> arguments) {
  return run(arguments, nullptr);
}

Reply Connection::evaluate(const Script& script, std::span<const std::string> keys,
                           std::span<const std::string> arguments) {
  std::vector<std::string> words{"EVALSHA", script.sha1(), std::to_string(keys.size())};
  words.insert(words.end(), keys.begin(), keys.end());
  words.insert(words.end(), arguments.begin(), arguments.end());
  bool unknown_script = false;
  Reply reply = run(words, &unknown_script);
  if (!unknown_script) return reply;
  // EVAL also loads the script into the server's cache: the next EVALSHA finds it.
  words[0] = "EVAL";
  words[1] = script.source();
  return run(words, nullptr);
}

}  // namespace sluice::redis
