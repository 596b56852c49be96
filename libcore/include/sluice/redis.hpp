// redis: Redis connections through hiredis (docs/ARCHITECTURE.md, "State"), for tools whose
// state may live on a Redis server (stock). The only module that calls hiredis.
//
// hiredis is loaded with dlopen("libhiredis.so.0.14") when the first connection is opened,
// never at start-up, exactly as pg loads libpq: users of files and PostgreSQL never load it.
// Locations: redis://HOST[:PORT][/DB] and unix:///PATH/TO/redis.sock[?db=DB], each optionally
// with namespace=NAME (the prefix of the tool's keys, so that several sales or tests share a
// server). Every failure throws sluice::Error with the shared exit statuses: the server
// cannot be reached or hiredis is missing 69; the connection lost or timed out mid-command
// (the outcome is unknown), or the server busy, loading or unable to persist 75; a malformed
// location 2; anything else 70.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/timeutil.hpp"

namespace sluice::redis {

// Whether `location` names a Redis server (redis:// or unix://) rather than a state file.
bool is_url(std::string_view location);

// A parsed location. Error(2) naming `option` when it does not parse.
struct Location {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string socket_path;  // empty for TCP
  int database = 0;
  std::string key_namespace;  // empty unless namespace= was given
};
Location parse_url(std::string_view url, std::string_view option);

// One reply, converted from hiredis's: strings and status lines as text, integers, nil,
// arrays of replies. An error reply is thrown, never returned.
struct Reply {
  enum class Kind { text, integer, nil, array };
  Kind kind = Kind::nil;
  std::string text;
  long long integer = 0;
  std::vector<Reply> elements;
  // The text of a string reply, or an integer as text; Error(70) for nil or an array.
  [[nodiscard]] const std::string& string() const;
  [[nodiscard]] long long number() const;  // an integer reply, or a string of digits
};

// A Lua script and its SHA-1, for EVALSHA.
class Script {
 public:
  explicit Script(std::string source);
  [[nodiscard]] const std::string& source() const { return source_; }
  [[nodiscard]] const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class Connection {
 public:
  // Connects (and SELECTs the database). `timeout` bounds the connection and every command.
  Connection(const std::string& url, Duration timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Reply command(std::span<const std::string> arguments);
  // Runs `script` as one atomic operation on the server: EVALSHA, and EVAL when the server
  // does not know the script yet (NOSCRIPT: first use, or after a restart).
  Reply evaluate(const Script& script, std::span<const std::string> keys,
                 std::span<const std::string> arguments);

  [[nodiscard]] const Location& location() const { return location_; }
  // The URL, for messages.
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  Reply run(std::span<const std::string> arguments, bool* unknown_script);
  void* handle_ = nullptr;  // redisContext
  std::string url_;
  Location location_;
};

}  // namespace sluice::redis
