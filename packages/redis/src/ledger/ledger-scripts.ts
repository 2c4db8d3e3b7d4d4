import { createRedisScript } from '../connection/create-redis-script.js';

/**
 * Shared by every ledger script. ARGV[1] is the key prefix, ARGV[2] how long a final reservation
 * is kept for late settlements (ms). Amounts are integers (micro-dollars) and are handed to Redis
 * with `%d`, never `tostring` (which would print 15+ digit numbers in exponent form), and replied
 * as strings: an integer reply near 2^53 is read back one off by node-redis, whose integer parser
 * passes through a float.
 *
 * Layout: `ledger:key:{keyId}` hash (spent, reserved, calls, ds:{day}, dr:{day}),
 * `ledger:open` zset (every open reservation's id → its expiresAt, one per prefix: a reservation
 * is added and removed once, not once per key of its chain), `ledger:reservation:{id}` hash
 * (keys as JSON, day, micros, final, expiresAt, idem: its idempotency hash's name),
 * `ledger:idem:{rootKeyId}:{idempotencyKey}` hash (reservation, at). A key's hash expires (Redis TTL)
 * once the key is past its retention (its expiry plus `EXPIRED_KEY_RETENTION_MS`), a reservation's
 * once every key of its chain is; `ledger:open` holds open reservations (it empties, and so
 * disappears, as they are settled or swept; with an older version on the same prefix it may also
 * hold ones that version settled, until a sweep takes them out).
 *
 * Each `redis.call` from a script costs redis-server about a microsecond besides the command, so
 * the scripts make as few as they can: one `EXISTS` for a chain's revocation markers, one sweep,
 * one `ZADD` and one `ZREM` per reservation, and each key's totals read and written once.
 */
const PRELUDE = `
local P = ARGV[1]
local RETAIN = ARGV[2]
local function int(n) return string.format('%d', n) end
local function totals(id) return P .. 'ledger:key:' .. id end
local OPEN = P .. 'ledger:open'
local function reservation(rid) return P .. 'ledger:reservation:' .. rid end

-- Sets the final amount of a reservation on every key of its chain: an open one moves from
-- reserved to spent; a final one has its amount replaced (late reconciliation). The reservation is
-- then kept for RETAIN ms (a late price may still replace its amount) or, unless keep, deleted.
-- Settled (forget) at 0, it forgets its idempotency key: nothing was spent, so a retry is a new
-- call (settle does not forget for a call of unknown outcome: it may have run). Expired
-- unsettled, it keeps it and is marked unknown: its caller crashed, and the call may have run, so
-- a replay's answer may still raise it to what the call cost.
-- Each key's totals are read and written once (HMGET, HSET): the script runs atomically. An open
-- reservation settled with uncount (its call was never sent) also gives back the call it counted.
local function finalize(rid, micros, keep, forget, uncount)
  local key = reservation(rid)
  local r = redis.call('HMGET', key, 'keys', 'day', 'micros', 'final', 'idem')
  if not r[1] then return false end
  if forget and micros == 0 and r[5] and redis.call('HGET', r[5], 'reservation') == rid then redis.call('DEL', r[5]) end
  local old = tonumber(r[3])
  -- A credit (a negative settlement) lowers lifetime spend but no day's: it must not reopen a daily cap.
  local dayNew, dayOld = math.max(micros, 0), math.max(old, 0)
  local ds, dr = 'ds:' .. r[2], 'dr:' .. r[2]
  -- A key whose totals expired (past its retention: 'calls' is set from its first reservation on)
  -- is not brought back without a TTL: nothing reads it again.
  for _, id in ipairs(cjson.decode(r[1])) do
    local t = totals(id)
    if r[4] == '1' then
      if micros ~= old then
        local v = redis.call('HMGET', t, 'spent', ds, 'calls')
        if v[3] then
          -- The difference first: a sum past 2^53 on the way would be rounded.
          redis.call('HSET', t, 'spent', int((tonumber(v[1]) or 0) + (micros - old)), ds, int((tonumber(v[2]) or 0) + (dayNew - dayOld)))
        end
      end
    else
      local v = redis.call('HMGET', t, 'spent', 'reserved', ds, dr, 'calls')
      if v[5] then
        redis.call('HSET', t,
          'spent', int((tonumber(v[1]) or 0) + micros), 'reserved', int((tonumber(v[2]) or 0) - old),
          ds, int((tonumber(v[3]) or 0) + dayNew), dr, int((tonumber(v[4]) or 0) - old))
        if uncount then redis.call('HSET', t, 'calls', int(tonumber(v[5]) - 1)) end
      end
    end
  end
  if r[4] ~= '1' then redis.call('ZREM', OPEN, rid) end
  if keep then
    redis.call('HSET', key, 'micros', int(micros), 'final', '1')
    redis.call('PEXPIRE', key, RETAIN)
  else
    redis.call('DEL', key)
  end
  return true
end

-- Counts an open reservation past its expiry as spent at its amount, kept and marked unknown: its
-- caller never said what happened (it crashed, or its settlement failed), so a replay's answer may
-- re-price it.
local function expire(rid, micros)
  if finalize(rid, micros, true, false) then redis.call('HSET', reservation(rid), 'unknown', '1') end
end

-- Open reservations past their expiry count as spent: their caller crashed or hung. Whatever their
-- keys, and at most SWEEP_MAX per script (a backlog, after an outage, is swept over the next calls
-- instead of blocking Redis): an expired reservation counts against every cap of its chain either
-- way (as reserved until swept, then as spent), so when it is swept changes no decision, only the split.
local SWEEP_MAX = 256
local function sweep(now)
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', OPEN, '-inf', now, 'LIMIT', 0, SWEEP_MAX)) do
    local micros = redis.call('HGET', reservation(rid), 'micros')
    if micros then expire(rid, tonumber(micros)) end
    -- Also when it was no longer open (settled by an older version, which kept open sets per key).
    redis.call('ZREM', OPEN, rid)
  end
end
`;

/**
 * Reserves against a whole key chain, or nothing: sweep, idempotency, check every limit, write.
 * ARGV: prefix, retain, reservation id, micros, now, expiresAt, day, idempotency key ('' for none),
 * idempotency window (ms), then per key of the chain: key id, cap, daily cap, max calls, and how
 * long from now its totals are kept (ms: the key's expiry plus the retention) ('' for none).
 * Reply: `{'reserved'}`, `{'replay', originalId, '1' if the original is still open else '0'}`,
 * `{'revoked', keyId}` or `{'denied', keyId, cap, limit, spent, reserved}`.
 */
export const reserveScript = createRedisScript(`${PRELUDE}
local rid, micros, now, expiresAt, day, idem, window = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local chain = {}
for i = 10, #ARGV, 5 do
  chain[#chain + 1] = { id = ARGV[i], cap = tonumber(ARGV[i + 1]), daily = tonumber(ARGV[i + 2]), calls = tonumber(ARGV[i + 3]), keep = tonumber(ARGV[i + 4]) }
end
-- A key revoked (by the Redis key store on the same prefix, \`revoked:{id}\`) refuses the call here,
-- atomically with the reservation: once the revocation is written, no call of its chain is reserved.
local markers = {}
for i, limit in ipairs(chain) do markers[i] = P .. 'revoked:' .. limit.id end
if redis.call('EXISTS', unpack(markers)) > 0 then
  for i, limit in ipairs(chain) do
    if redis.call('EXISTS', markers[i]) == 1 then return { 'revoked', limit.id } end
  end
end
sweep(now)

local idemKey
if idem ~= '' then
  idemKey = P .. 'ledger:idem:' .. chain[#chain].id .. ':' .. idem
  local seen = redis.call('HMGET', idemKey, 'reservation', 'at')
  if seen[1] and tonumber(seen[2]) + tonumber(window) > tonumber(now) then
    local original = redis.call('HMGET', reservation(seen[1]), 'final', 'expiresAt')
    local isOpen = original[1] == '0' and tonumber(original[2]) > tonumber(now)
    return { 'replay', seen[1], isOpen and '1' or '0' }
  end
end

local ds, dr = 'ds:' .. day, 'dr:' .. day
for _, limit in ipairs(chain) do
  local v = redis.call('HMGET', totals(limit.id), 'spent', 'reserved', 'calls', ds, dr)
  limit.v = v
  local spent, reserved, calls = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
  if limit.calls and calls + 1 > limit.calls then
    return { 'denied', limit.id, 'calls', int(limit.calls), int(calls), '0' }
  end
  if limit.cap and spent + reserved + micros > limit.cap then
    return { 'denied', limit.id, 'total', int(limit.cap), int(spent), int(reserved) }
  end
  if limit.daily then
    local daySpent, dayReserved = tonumber(v[4]) or 0, tonumber(v[5]) or 0
    if daySpent + dayReserved + micros > limit.daily then
      return { 'denied', limit.id, 'daily', int(limit.daily), int(daySpent), int(dayReserved) }
    end
  end
end

local ids = {}
-- The reservation is kept as long as the longest-kept key of its chain (forever if one has no expiry).
local keepAll = 0
for _, limit in ipairs(chain) do
  local v = limit.v
  redis.call('HSET', totals(limit.id), 'calls', int((tonumber(v[3]) or 0) + 1),
    'reserved', int((tonumber(v[2]) or 0) + micros), dr, int((tonumber(v[5]) or 0) + micros))
  if limit.keep then
    -- Set once, when the totals are new (a key's expiry never changes).
    if not v[3] then redis.call('PEXPIRE', totals(limit.id), int(limit.keep)) end
    if keepAll and limit.keep > keepAll then keepAll = limit.keep end
  else
    keepAll = nil
  end
  ids[#ids + 1] = limit.id
end
redis.call('ZADD', OPEN, expiresAt, rid)
redis.call('HSET', reservation(rid), 'keys', cjson.encode(ids), 'day', day, 'micros', ARGV[4], 'final', '0', 'expiresAt', expiresAt)
if keepAll then redis.call('PEXPIRE', reservation(rid), int(keepAll)) end
if idemKey then
  redis.call('HSET', reservation(rid), 'idem', idemKey)
  redis.call('HSET', idemKey, 'reservation', rid, 'at', now)
  redis.call('PEXPIRE', idemKey, window)
end
return { 'reserved' }
`);

/**
 * Settles (or re-settles) a reservation. Unknown ids are ignored. The reservation is kept (for
 * `retain` ms) only if a late price is awaited or its outcome is unknown (marked \`unknown\`, for
 * the reprice script), else deleted. It does not sweep: expired reservations count against every
 * cap either way (as reserved until swept, then as spent), and the reserve and balance scripts
 * sweep them.
 * ARGV: prefix, retain, reservation id, micros, now, awaits late price ('1' or '0'), outcome unknown
 * ('1' or '0'), never sent ('1' or '0': an open, unexpired reservation gives back the call it counted).
 * Reply: 1 if settled, 0 if unknown.
 */
export const settleScript = createRedisScript(`${PRELUDE}
local unknown = ARGV[7] == '1'
-- Only an open reservation gives its call back: an expired one counts as spent, swept or not.
local uncount = ARGV[8] == '1' and (tonumber(redis.call('HGET', reservation(ARGV[3]), 'expiresAt')) or 0) > tonumber(ARGV[5])
-- A call of unknown outcome keeps its idempotency key even at 0: its retry is a replay.
if not finalize(ARGV[3], tonumber(ARGV[4]), ARGV[6] == '1' or unknown, not unknown, uncount) then return 0 end
if unknown then redis.call('HSET', reservation(ARGV[3]), 'unknown', '1') end
return 1
`);

/**
 * Raises a reservation settled with its outcome unknown to what a replay's answer says the call
 * cost, if that is more, and ends it; anything else is left alone.
 * ARGV: prefix, retain, reservation id, micros, now. Reply: the micros added, as a string ('0' if nothing changed).
 */
export const repriceScript = createRedisScript(`${PRELUDE}
local r = redis.call('HMGET', reservation(ARGV[3]), 'micros', 'final', 'unknown', 'expiresAt')
local micros, old = tonumber(ARGV[4]), tonumber(r[1])
-- Expired but not swept yet (a sweep takes at most SWEEP_MAX): of unknown outcome all the same.
if old and r[2] == '0' and tonumber(r[4]) <= tonumber(ARGV[5]) then
  expire(ARGV[3], old)
  r[2], r[3] = '1', '1'
end
if r[3] ~= '1' or r[2] ~= '1' or not old or micros <= old then return '0' end
finalize(ARGV[3], micros, false, false)
return int(micros - old)
`);

/**
 * One key's balance after sweeping it. ARGV: prefix, retain, key id, now, day.
 * Reply: `{spent, reserved, daySpent, dayReserved, calls}`, as strings.
 */
export const balanceScript = createRedisScript(`${PRELUDE}
sweep(ARGV[4])
local v = redis.call('HMGET', totals(ARGV[3]), 'spent', 'reserved', 'ds:' .. ARGV[5], 'dr:' .. ARGV[5], 'calls')
return { v[1] or '0', v[2] or '0', v[3] or '0', v[4] or '0', v[5] or '0' }
`);
