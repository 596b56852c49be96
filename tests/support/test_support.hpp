// Helpers shared by the unit tests.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "sluice/db.hpp"
#include "sluice/error.hpp"
#include "sluice/pg.hpp"

namespace sluice::testing {

// A temporary directory removed (recursively) at the end of the test.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/sluice-test-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The exit status carried by the sluice::Error that `action` throws, or 0 when it throws none.
inline int exit_status_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.code();
  }
  return 0;
}

// The message of the sluice::Error that `action` throws, or "" when it throws none.
inline std::string error_message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// The exit status and location of the sluice::Error that `action` throws ({0, ""} if none).
inline std::pair<int, std::string> failure_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return {error.code(), error.location()};
  }
  return {0, ""};
}

// Writes `text` as the whole content of the file at `path`.
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The whole content of a file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The URL of the test PostgreSQL server (SLUICE_TEST_PG_URL, which scripts/test sets through
// scripts/pg) with a new, empty schema of its own first on the search path, so that tests
// running at once never share state; nullopt when no server was started.
inline std::optional<std::string> fresh_pg_schema() {
  const char* base = std::getenv("SLUICE_TEST_PG_URL");
  if (base == nullptr || *base == 0) return std::nullopt;
  static int created = 0;
  std::string schema = "t_" + std::to_string(::getpid()) + "_" + std::to_string(++created);
  pg::Connection connection(base, std::chrono::seconds(10));
  connection.execute_script("DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " +
                            schema);
  std::string url = base;
  url += url.find('?') == std::string::npos ? '?' : '&';
  return url + "options=-csearch_path%3D" + schema;
}

// A place for one test's state on `backend`: a file "state.db" in a temporary directory, or
// a fresh schema on the test server (nullopt when no server was started: skip the test).
// Parameterised store tests (TEST_P over db::Backend) run the same assertions on both.
class StateLocation {
 public:
  explicit StateLocation(db::Backend backend) {
    if (backend == db::Backend::sqlite) {
      location_ = directory_.file("state.db");
    } else {
      location_ = fresh_pg_schema();
    }
  }
  [[nodiscard]] bool available() const { return location_.has_value(); }
  [[nodiscard]] const std::string& location() const { return *location_; }

 private:
  TempDir directory_;
  std::optional<std::string> location_;
};

// The name gtest gives a backend's instance of a parameterised test.
inline std::string backend_name(db::Backend backend) {
  return backend == db::Backend::sqlite ? "sqlite" : "postgresql";
}

}  // namespace sluice::testing
