/**
 * The Lua scripts that make each room's log atomic in Redis. One script is
 * one atomic step on one shard: every key of a room carries the hash tag
 * `{room}`, so a room lives on one shard of a Redis Cluster.
 *
 * Keys of a room (prefix `chat:` by default):
 * - `{room}:meta`   hash: `epoch` (random, replaced if Redis lost the data)
 *                   and `seq` (the last seq handed out)
 * - `{room}:log`    stream: entry id `<seq>-0`, fields `m` (the message's
 *                   JSON, as delivered) and `k` (its dedupe key)
 * - `{room}:dedupe` hash: dedupe key → stream id, for the kept messages
 * - `{room}:events` sharded pub/sub channel: `c<epoch>\n<json>` for each
 *                   committed message, `e<json>` for other room events
 * - `{room}:sessions` hash: token hash → session record (JSON)
 * - `{room}:redacted` hash: seq → 1 for each deleted message, whose text
 *                   every read then returns empty (stream entries cannot be
 *                   changed in place)
 */

/** A script and the SHA1 Redis knows it by (EVALSHA before EVAL). */
export interface Script {
  readonly name: string;
  readonly source: string;
}

/** Creates the room's epoch if there is none (first use, or data lost). */
const ENSURE_EPOCH = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
`;

/**
 * Reads return a deleted message with its text emptied: `redact(json)`
 * with KEYS[3] the room's redacted hash. Messages are JSON that starts with
 * their seq, so only the redacted ones are decoded.
 */
const REDACT = `
local anyRedacted = redis.call('EXISTS', KEYS[3]) == 1
local function redact(json)
  if not anyRedacted then return json end
  local seq = string.match(json, '^{"seq":(%d+),')
  if seq and redis.call('HEXISTS', KEYS[3], seq) == 1 then
    local message = cjson.decode(json)
    message.text = ''
    return cjson.encode(message)
  end
  return json
end
`;

/**
 * KEYS: meta, log, dedupe, channel, redacted.
 * ARGV: new epoch, dedupe key, the message's JSON after its opening brace
 * (without seq), retention, and the seq a deletion removes ("" for none).
 * Returns {epoch, duplicate (0|1), message JSON}.
 */
export const APPEND: Script = {
  name: "append",
  source: ENSURE_EPOCH + `
local stored = redis.call('HGET', KEYS[3], ARGV[2])
if stored then
  local entry = redis.call('XRANGE', KEYS[2], stored, stored)
  if entry[1] then return {epoch, 1, entry[1][2][2]} end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local json = '{"seq":' .. seq .. ',' .. ARGV[3]
redis.call('XADD', KEYS[2], seq .. '-0', 'm', json, 'k', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], seq .. '-0')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[5], ARGV[5], 1) end
local retention = tonumber(ARGV[4])
if seq > retention then
  redis.call('HDEL', KEYS[5], tostring(seq - retention))
  local oldest = (seq - retention) .. '-0'
  local old = redis.call('XRANGE', KEYS[2], oldest, oldest)
  if old[1] then redis.call('HDEL', KEYS[3], old[1][2][4]) end
  redis.call('XTRIM', KEYS[2], 'MINID', seq - retention + 1)
end
redis.call('SPUBLISH', KEYS[4], 'c' .. epoch .. '\\n' .. json)
return {epoch, 0, json}
`,
};

/**
 * KEYS: meta, log, redacted.
 * ARGV: new epoch, recent, resume epoch ("" for none), after seq, limit.
 * Returns {epoch, last seq, recovered (0|1), message JSON...}: the gap
 * after `after seq` when it is all kept, else the `recent` newest.
 */
export const READ: Script = {
  name: "read",
  source: ENSURE_EPOCH + REDACT + `
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local after = tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
if ARGV[3] == epoch and after <= last and last - after <= limit then
  if after == last then return {epoch, last, 1} end
  local first = (after + 1) .. '-0'
  local entries = redis.call('XRANGE', KEYS[2], first, '+', 'COUNT', limit)
  if entries[1] and entries[1][1] == first then
    local out = {epoch, last, 1}
    for i, e in ipairs(entries) do out[i + 3] = redact(e[2][2]) end
    return out
  end
end
local out = {epoch, last, 0}
local recent = tonumber(ARGV[2])
if recent > 0 then
  local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', recent)
  local n = #entries
  for i = n, 1, -1 do out[3 + n - i + 1] = redact(entries[i][2][2]) end
end
return out
`,
};

/**
 * KEYS: meta, log, redacted. ARGV: epoch, after seq, count.
 * Returns {epoch, message JSON...}: what follows `after seq`, or from the
 * start when the epoch is not the caller's (the history was replaced).
 * Used to fill a gap in what pub/sub delivered.
 */
export const AFTER: Script = {
  name: "after",
  source: REDACT + `
local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
local from = tonumber(ARGV[2]) + 1
if epoch ~= ARGV[1] then from = 1 end
local out = {epoch}
local entries = redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', tonumber(ARGV[3]))
for i, e in ipairs(entries) do out[i + 1] = redact(e[2][2]) end
return out
`,
};

/**
 * KEYS: meta, log, redacted. ARGV: before seq, count.
 * Returns {epoch, start (0|1), message JSON...}: up to `count` messages
 * before `before seq`, oldest first; start when nothing older is kept.
 */
export const BEFORE: Script = {
  name: "before",
  source: REDACT + `
local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
local entries = redis.call('XREVRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '-', 'COUNT', tonumber(ARGV[2]))
local n = #entries
local out = {epoch, 1}
if n > 0 then
  local older = redis.call('XREVRANGE', KEYS[2], '(' .. entries[n][1], '-', 'COUNT', 1)
  if older[1] then out[2] = 0 end
end
for i = n, 1, -1 do out[2 + n - i + 1] = redact(entries[i][2][2]) end
return out
`,
};

/**
 * KEYS: meta, log, dedupe, redacted. ARGV: the new epoch. Empties the room's log and
 * starts the new epoch from seq 0. Returns the epoch.
 */
export const CLEAR: Script = {
  name: "clear",
  source: `
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0)
return ARGV[1]
`,
};

/**
 * KEYS: dedupe, log, redacted. ARGV: dedupe key. Returns the message JSON
 * or nil.
 */
export const FIND: Script = {
  name: "find",
  source: REDACT + `
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return false end
local entry = redis.call('XRANGE', KEYS[2], stored, stored)
if entry[1] then return redact(entry[1][2][2]) end
return false
`,
};

/**
 * KEYS: names (hash: skeleton → user id).
 * ARGV: skeleton, user id, previous skeleton ("" for none), stale holder
 * ("" for none). Returns 1 if the name is now this user's, 0 if taken.
 */
export const CLAIM_NAME: Script = {
  name: "claim name",
  source: `
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[2] and holder ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' and ARGV[3] ~= ARGV[1] then
  if redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[2] then
    redis.call('HDEL', KEYS[1], ARGV[3])
  end
end
return 1
`,
};

/** KEYS: names. ARGV: skeleton, user id. Frees the name if theirs. */
export const RELEASE_NAME: Script = {
  name: "release name",
  source: `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
`,
};

/** KEYS: the instance's key. ARGV: ttl ms. Says "this instance is up". */
export const HEARTBEAT: Script = {
  name: "heartbeat",
  source: `return redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]))`,
};

/** KEYS: an instance's key. Returns 1 while it keeps its heartbeat. */
export const ALIVE: Script = {
  name: "alive",
  source: `return redis.call('EXISTS', KEYS[1])`,
};

/**
 * KEYS: the adoption key of one (room, user, dead instance).
 * ARGV: this instance, ttl ms. Returns 1 for the one instance that takes
 * over the sessions a dead instance left, 0 for every other.
 */
export const ADOPT: Script = {
  name: "adopt",
  source: `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then
  return 1
end
return 0
`,
};
