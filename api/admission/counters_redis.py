"""The limit counters on Redis, for several replicas: the same rules as `LocalCounters`, each step one
Lua script (atomic on the server). Names are under the cache's KEY_PREFIX and `:lim:` (`gateway:lim:`
by default); one Redis, not a cluster."""

from __future__ import annotations

import redis

from api.admission.counters import HOLD_LIFETIME, Check, Outcome, retry_after

# KEYS: the hold, then one counter per check. ARGV: now (s), hold lifetime, then 5 per check:
# window (0: budget), limit, amount, settles (0/1), money (0/1). Windows are hashes second -> amount; budgets are
# hashes a (amount) and e (expiry, in the callers' clock, so time can be injected as for the SQLite store).
_RESERVE = """
local now = tonumber(ARGV[1])
local second = math.floor(now)
local missing = {}
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 5
  local window, limit, amount = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if window > 0 then
    local used, oldest = 0, nil
    local fields = redis.call('HGETALL', KEYS[i])
    for j = 1, #fields, 2 do
      local s = tonumber(fields[j])
      if s < second - window then
        redis.call('HDEL', KEYS[i], fields[j])
      else
        used = used + tonumber(fields[j + 1])
        if oldest == nil or s < oldest then oldest = s end
      end
    end
    if used + amount > limit then return {'refused', i - 1, used, oldest or -1} end
  else
    local held = redis.call('HMGET', KEYS[i], 'a', 'e')
    if not held[1] or tonumber(held[2]) <= now then
      table.insert(missing, i - 1)
    elseif tonumber(held[1]) + amount > limit then
      return {'refused', i - 1, tonumber(held[1]), -1}
    end
  end
end
if #missing > 0 then return {'missing', unpack(missing)} end
local entries = {}
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 5
  local window, amount = tonumber(ARGV[a]), tonumber(ARGV[a + 2])
  if window > 0 then
    redis.call('HINCRBY', KEYS[i], second, amount)
    redis.call('EXPIRE', KEYS[i], window + 5)
    if ARGV[a + 3] == '1' then table.insert(entries, {KEYS[i], amount, second, ARGV[a + 4] == '1'}) end
  else
    redis.call('HINCRBY', KEYS[i], 'a', amount)
    if ARGV[a + 3] == '1' then table.insert(entries, {KEYS[i], amount, false, ARGV[a + 4] == '1'}) end
  end
end
if #entries > 0 then redis.call('SET', KEYS[1], cjson.encode(entries), 'EX', ARGV[2]) end
return {'ok'}
"""

# KEYS: the budget. ARGV: now, value, ttl. Kept unless its period has ended (expiry `e`, in the caller's time).
_SEED = """
local now = tonumber(ARGV[1])
local expires = redis.call('HGET', KEYS[1], 'e')
if expires and tonumber(expires) > now then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[2], 'e', now + tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
return 1
"""

# KEYS: the hold. ARGV: the real amount in tokens, then in micro-dollars (for money counters). Counters
# the hold names are reached from its entries.
_SETTLE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
redis.call('DEL', KEYS[1])
local tokens, money = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, e in ipairs(cjson.decode(raw)) do
  local amount = tokens
  if e[4] then amount = money end
  local name, delta, second = e[1], amount - e[2], e[3]
  if second then
    local current = redis.call('HGET', name, second)
    if current then redis.call('HSET', name, second, math.max(0, tonumber(current) + delta)) end
  else
    local current = redis.call('HGET', name, 'a')
    if current then redis.call('HSET', name, 'a', math.max(0, tonumber(current) + delta)) end
  end
end
return 1
"""

# KEYS: the circuits hash. ARGV: provider, expected state ('' when absent), new state ('' to delete).
_SWAP = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""


class RedisCounters:
    blocking = True

    def __init__(self, url: str, prefix: str = "gateway") -> None:
        self.prefix = f"{prefix}:lim:"
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._reserve = self._client.register_script(_RESERVE)
        self._settle = self._client.register_script(_SETTLE)
        self._seed = self._client.register_script(_SEED)
        self._swap = self._client.register_script(_SWAP)

    def reserve(self, hold_id: str, checks: list[Check], now: float) -> Outcome:
        args: list = [repr(now), HOLD_LIFETIME]
        for c in checks:
            args += [c.window, c.limit, c.amount, int(c.settles), int(c.money)]
        keys = [self.prefix + "hold:" + hold_id, *(self.prefix + c.name for c in checks)]
        reply = self._reserve(keys=keys, args=args)
        verdict = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        if verdict == "ok":
            return Outcome(True)
        if verdict == "missing":
            return Outcome(False, missing=tuple(checks[int(i) - 1].name for i in reply[1:]))
        check, oldest = checks[int(reply[1]) - 1], int(reply[3])
        wait = retry_after(oldest, check.window, now) if check.window and oldest >= 0 else None
        return Outcome(False, check, int(reply[2]), wait)

    def seed(self, name: str, value: int, ttl: int, now: float) -> None:
        self._seed(keys=[self.prefix + name], args=[repr(now), value, ttl])

    def settle(self, hold_id: str, amount: int, money: int = 0) -> bool:
        return bool(self._settle(keys=[self.prefix + "hold:" + hold_id], args=[amount, money]))

    def peek(self, name: str, now: float) -> int | None:
        amount, expires = self._client.hmget(self.prefix + name, "a", "e")
        return None if amount is None or float(expires) <= now else int(amount)

    def circuits(self) -> dict[str, bytes]:
        return {k.decode(): v for k, v in self._client.hgetall(self.prefix + "circuits").items()}

    def swap_circuit(self, name: str, expected: bytes | None, new: bytes | None) -> bool:
        return bool(self._swap(keys=[self.prefix + "circuits"], args=[name, expected or b"", new or b""]))

    def drop_budgets(self) -> None:
        self._delete_matching(self.prefix + "budget:*")

    def clear(self) -> None:
        self._delete_matching(self.prefix + "*")

    def _delete_matching(self, pattern: str) -> None:
        names = list(self._client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(names), 1000):
            self._client.delete(*names[start : start + 1000])
