// stock's state on a Redis server: each operation one Lua script (EVALSHA, EVAL the first
// time), which the server runs atomically, as the seed's flash-sale design does. Keys, under
// the location's namespace (default "stock"):
//   NS:skus            set of SKUs
//   NS:item:SKU        hash total, available, held, sold, last_hold
//   NS:hold:ID         hash sku, number, quantity, customer, key, created, expires, state
//   NS:live:SKU        sorted set of the SKU's held holds by expiry (microseconds)
//   NS:holds:SKU       sorted set of all the SKU's holds by number
//   NS:key:KEY         the hold a --key made
//   NS:customer:SKU    hash customer -> units held and bought (for --limit-per-customer)
// Instants travel as strings of microseconds, never as Lua numbers (doubles print 14 digits).
#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/redis.hpp"
#include "stock_store.hpp"

namespace sluice::stock {
namespace {

constexpr std::string_view lua_prelude = R"lua(
local ns = ARGV[1]
local function item_key(sku) return ns .. ':item:' .. sku end
local function hold_key(id) return ns .. ':hold:' .. id end
local function expire_sku(sku, now)
  local live = ns .. ':live:' .. sku
  local ids = redis.call('ZRANGEBYSCORE', live, '-inf', now)
  local units = 0
  for _, id in ipairs(ids) do
    local fields = redis.call('HMGET', hold_key(id), 'quantity', 'customer')
    local quantity = tonumber(fields[1])
    redis.call('HSET', hold_key(id), 'state', 'expired', 'settled', now)
    if fields[2] then redis.call('HINCRBY', ns .. ':customer:' .. sku, fields[2], -quantity) end
    units = units + quantity
  end
  if #ids > 0 then
    redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
    redis.call('HINCRBY', item_key(sku), 'available', units)
    redis.call('HINCRBY', item_key(sku), 'held', -units)
  end
  return {#ids, units}
end
local function hold_reply(outcome, id)
  local f = redis.call('HMGET', hold_key(id), 'sku', 'quantity', 'customer', 'key', 'created',
                       'expires', 'state')
  return {outcome, id, f[1], f[2], f[3] or '', f[4] or '', f[5], f[6], f[7]}
end
local function item_reply(sku)
  local f = redis.call('HMGET', item_key(sku), 'total', 'available', 'held', 'sold')
  return {sku, f[1], f[2], f[3], f[4]}
end
local function sorted_skus(sku)
  if sku ~= '' then
    if redis.call('EXISTS', item_key(sku)) == 1 then return {sku} end
    return {}
  end
  local skus = redis.call('SMEMBERS', ns .. ':skus')
  table.sort(skus)
  return skus
end
)lua";

// ARGV: ns, now, then per request sku, quantity, expires, customer, limit, key ('' for none).
constexpr std::string_view reserve_lua = R"lua(
local now = ARGV[2]
local results, swept = {}, {}
for i = 3, #ARGV, 6 do
  local sku, quantity, expires = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local customer, limit, key = ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
  local item = item_key(sku)
  local result = nil
  if redis.call('EXISTS', item) == 0 then
    result = {'unknown_sku'}
  else
    if not swept[sku] then
      expire_sku(sku, now)
      swept[sku] = true
    end
    if key ~= '' then
      local earlier = redis.call('GET', ns .. ':key:' .. key)
      if earlier then
        local f = redis.call('HMGET', hold_key(earlier), 'sku', 'quantity', 'customer')
        local same = f[1] == sku and tonumber(f[2]) == quantity and (f[3] or '') == customer
        result = hold_reply(same and 'replayed' or 'key_conflict', earlier)
      end
    end
    if not result and customer ~= '' and limit > 0 then
      local has = tonumber(redis.call('HGET', ns .. ':customer:' .. sku, customer) or '0')
      if has + quantity > limit then result = {'over_limit', has} end
    end
    if not result then
      local available = tonumber(redis.call('HGET', item, 'available'))
      if available < quantity then
        result = {'sold_out', available}
      else
        local number = redis.call('HINCRBY', item, 'last_hold', 1)
        redis.call('HINCRBY', item, 'available', -quantity)
        redis.call('HINCRBY', item, 'held', quantity)
        local id = sku .. ':' .. number
        redis.call('HSET', hold_key(id), 'sku', sku, 'number', number, 'quantity', ARGV[i + 1],
                   'created', now, 'expires', expires, 'state', 'held')
        if customer ~= '' then
          redis.call('HSET', hold_key(id), 'customer', customer)
          redis.call('HINCRBY', ns .. ':customer:' .. sku, customer, quantity)
        end
        if key ~= '' then
          redis.call('HSET', hold_key(id), 'key', key)
          redis.call('SET', ns .. ':key:' .. key, id)
        end
        redis.call('ZADD', ns .. ':live:' .. sku, expires, id)
        redis.call('ZADD', ns .. ':holds:' .. sku, number, id)
        result = hold_reply('held', id)
      end
    end
  end
  results[#results + 1] = result
end
return results
)lua";

// ARGV: ns, now, hold, 'commit' or 'release'.
constexpr std::string_view settle_lua = R"lua(
local now, id = ARGV[2], ARGV[3]
if redis.call('EXISTS', hold_key(id)) == 0 then return {'unknown'} end
local sku = redis.call('HGET', hold_key(id), 'sku')
expire_sku(sku, now)
local f = redis.call('HMGET', hold_key(id), 'state', 'quantity', 'customer')
if f[1] ~= 'held' then return hold_reply('same', id) end
local quantity = tonumber(f[2])
redis.call('ZREM', ns .. ':live:' .. sku, id)
redis.call('HINCRBY', item_key(sku), 'held', -quantity)
if ARGV[4] == 'commit' then
  redis.call('HSET', hold_key(id), 'state', 'committed', 'settled', now)
  redis.call('HINCRBY', item_key(sku), 'sold', quantity)
else
  redis.call('HSET', hold_key(id), 'state', 'released', 'settled', now)
  redis.call('HINCRBY', item_key(sku), 'available', quantity)
  if f[3] then redis.call('HINCRBY', ns .. ':customer:' .. sku, f[3], -quantity) end
end
return hold_reply('changed', id)
)lua";

// ARGV: ns, now.
constexpr std::string_view expire_lua = R"lua(
local holds, units = 0, 0
for _, sku in ipairs(sorted_skus('')) do
  local done = expire_sku(sku, ARGV[2])
  holds, units = holds + done[1], units + done[2]
end
return {holds, units}
)lua";

// ARGV: ns, sku, total (set) or quantity (add), 'set' or 'add'.
constexpr std::string_view stock_lua = R"lua(
local sku, item = ARGV[2], item_key(ARGV[2])
local exists = redis.call('EXISTS', item) == 1
if ARGV[4] == 'add' then
  if not exists then return {'unknown'} end
  redis.call('HINCRBY', item, 'total', ARGV[3])
  redis.call('HINCRBY', item, 'available', ARGV[3])
  return {'ok', item_reply(sku)}
end
if not exists then
  redis.call('HSET', item, 'total', ARGV[3], 'available', ARGV[3], 'held', 0, 'sold', 0,
             'last_hold', 0)
  redis.call('SADD', ns .. ':skus', sku)
  return {'ok', item_reply(sku)}
end
local f = redis.call('HMGET', item, 'held', 'sold')
local held, sold = tonumber(f[1]), tonumber(f[2])
if held + sold > tonumber(ARGV[3]) then return {'refused', item_reply(sku)} end
redis.call('HSET', item, 'total', ARGV[3])
redis.call('HINCRBY', item, 'available', tonumber(ARGV[3]) - held - sold -
           tonumber(redis.call('HGET', item, 'available')))
return {'ok', item_reply(sku)}
)lua";

// ARGV: ns, what ('items', 'holds', 'audit', 'unknown'), then a SKU ('' for all) or SKUs.
constexpr std::string_view read_lua = R"lua(
local what, result = ARGV[2], {}
if what == 'unknown' then
  for i = 3, #ARGV do
    if redis.call('EXISTS', item_key(ARGV[i])) == 0 then result[#result + 1] = ARGV[i] end
  end
  return result
end
for _, sku in ipairs(sorted_skus(ARGV[3])) do
  if what == 'items' then
    result[#result + 1] = item_reply(sku)
  elseif what == 'holds' then
    for _, id in ipairs(redis.call('ZRANGE', ns .. ':holds:' .. sku, 0, -1)) do
      result[#result + 1] = hold_reply('', id)
    end
  else
    local held, committed = 0, 0
    for _, id in ipairs(redis.call('ZRANGE', ns .. ':holds:' .. sku, 0, -1)) do
      local f = redis.call('HMGET', hold_key(id), 'state', 'quantity')
      if f[1] == 'held' then held = held + tonumber(f[2]) end
      if f[1] == 'committed' then committed = committed + tonumber(f[2]) end
    end
    local row = item_reply(sku)
    row[#row + 1] = held
    row[#row + 1] = committed
    result[#result + 1] = row
  end
end
return result
)lua";

const redis::Script& script_of(std::string_view body) {
  // One Script (and SHA-1) per body for the life of the process.
  static std::vector<std::unique_ptr<redis::Script>> scripts;
  std::string source = std::string(lua_prelude) + std::string(body);
  for (const auto& script : scripts) {
    if (script->source() == source) return *script;
  }
  scripts.push_back(std::make_unique<redis::Script>(std::move(source)));
  return *scripts.back();
}

std::optional<std::string> unless_empty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

Instant instant_of(const redis::Reply& reply) {
  return instant_from_micros(reply.number());
}

// {outcome, id, sku, quantity, customer, key, created, expires, state}
Hold hold_from(const redis::Reply& reply) {
  const auto& f = reply.elements;
  if (f.size() < 9) throw Error(exit_code::internal, "a Redis hold reply is short");
  return Hold{f[1].string(),
              f[2].string(),
              f[3].number(),
              unless_empty(f[4].string()),
              unless_empty(f[5].string()),
              instant_of(f[6]),
              instant_of(f[7]),
              *hold_state_names.find(f[8].string())};
}

// {sku, total, available, held, sold}
Item item_from(const redis::Reply& reply) {
  const auto& f = reply.elements;
  return Item{f[0].string(), f[1].number(), f[2].number(), f[3].number(), f[4].number()};
}

constexpr NameTable<ReserveOutcome, 6> outcome_names({{{"held", ReserveOutcome::held},
                                                       {"replayed", ReserveOutcome::replayed},
                                                       {"sold_out", ReserveOutcome::sold_out},
                                                       {"over_limit", ReserveOutcome::over_limit},
                                                       {"unknown_sku", ReserveOutcome::unknown_sku},
                                                       {"key_conflict",
                                                        ReserveOutcome::key_conflict}}});

class RedisStore final : public Store {
 public:
  RedisStore(const std::string& url, Duration timeout)
      : connection_(url, timeout),
        namespace_(connection_.location().key_namespace.empty()
                       ? "stock"
                       : connection_.location().key_namespace) {}

  Clock clock(const Clock& requested) override { return requested; }

  Item set(std::string_view sku, std::int64_t total) override {
    redis::Reply reply = run(stock_lua, {std::string(sku), std::to_string(total), "set"});
    Item item = item_from(reply.elements.at(1));
    if (reply.elements.at(0).string() == "refused") {
      throw Error(exit_code::data,
                  fmt::format("cannot set '{}' to {}: {} are held and {} sold (the total cannot "
                              "be less than {})",
                              sku, total, item.held, item.sold, item.held + item.sold));
    }
    return item;
  }

  Item add(std::string_view sku, std::int64_t quantity) override {
    redis::Reply reply = run(stock_lua, {std::string(sku), std::to_string(quantity), "add"});
    if (reply.elements.at(0).string() == "unknown") {
      throw Error(exit_code::data,
                  fmt::format("unknown SKU '{}' (create it with 'stock set')", sku));
    }
    return item_from(reply.elements.at(1));
  }

  std::vector<Item> items(std::string_view sku) override {
    std::vector<Item> result;
    for (const redis::Reply& row : run(read_lua, {"items", std::string(sku)}).elements) {
      result.push_back(item_from(row));
    }
    return result;
  }

  std::vector<std::string> unknown_skus(std::span<const std::string> skus) override {
    std::vector<std::string> arguments{"unknown"};
    arguments.insert(arguments.end(), skus.begin(), skus.end());
    std::vector<std::string> result;
    for (const redis::Reply& sku : run(read_lua, arguments).elements) {
      result.push_back(sku.string());
    }
    return result;
  }

  std::vector<Reservation> reserve(std::span<const ReserveRequest> requests, Instant now) override {
    std::vector<std::string> arguments{std::to_string(micros(now))};
    for (const ReserveRequest& request : requests) {
      arguments.push_back(request.sku);
      arguments.push_back(std::to_string(request.quantity));
      arguments.push_back(std::to_string(micros(now + request.hold)));
      arguments.push_back(request.customer.value_or(""));
      arguments.push_back(std::to_string(request.customer ? request.limit_per_customer : 0));
      arguments.push_back(request.key.value_or(""));
    }
    redis::Reply reply = run(reserve_lua, arguments);
    std::vector<Reservation> results;
    for (const redis::Reply& answer : reply.elements) {
      Reservation result;
      result.outcome = *outcome_names.find(answer.elements.at(0).string());
      switch (result.outcome) {
        case ReserveOutcome::sold_out:
          result.available = answer.elements.at(1).number();
          break;
        case ReserveOutcome::over_limit:
          result.customer_has = answer.elements.at(1).number();
          break;
        case ReserveOutcome::unknown_sku:
          break;
        default:
          result.hold = hold_from(answer);
      }
      results.push_back(std::move(result));
    }
    return results;
  }

  Settlement commit(std::string_view hold, Instant now) override {
    return settle(hold, now, "commit");
  }
  Settlement release(std::string_view hold, Instant now) override {
    return settle(hold, now, "release");
  }

  Expiry expire(Instant now) override {
    redis::Reply reply = run(expire_lua, {std::to_string(micros(now))});
    return Expiry{reply.elements.at(0).number(), reply.elements.at(1).number()};
  }

  std::vector<Hold> holds(std::string_view sku, Instant now) override {
    std::vector<Hold> result;
    for (const redis::Reply& row : run(read_lua, {"holds", std::string(sku)}).elements) {
      Hold hold = hold_from(row);
      if (hold.state == HoldState::held && hold.expires <= now) hold.state = HoldState::expired;
      result.push_back(std::move(hold));
    }
    return result;
  }

  std::vector<Audit> audit() override {
    std::vector<Audit> result;
    for (const redis::Reply& row : run(read_lua, {"audit", ""}).elements) {
      result.push_back(
          Audit{item_from(row), row.elements.at(5).number(), row.elements.at(6).number()});
    }
    return result;
  }

 private:
  redis::Reply run(std::string_view body, std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), namespace_);
    return connection_.evaluate(script_of(body), {}, arguments);
  }

  Settlement settle(std::string_view hold, Instant now, std::string_view how) {
    redis::Reply reply =
        run(settle_lua, {std::to_string(micros(now)), std::string(hold), std::string(how)});
    Settlement result;
    std::string outcome = reply.elements.at(0).string();
    if (outcome == "unknown") return result;
    result.hold = hold_from(reply);
    result.changed = outcome == "changed";
    return result;
  }

  redis::Connection connection_;
  std::string namespace_;
};

}  // namespace

std::unique_ptr<Store> open_redis_store(const std::string& url, Duration timeout) {
  return std::make_unique<RedisStore>(url, timeout);
}

}  // namespace sluice::stock
