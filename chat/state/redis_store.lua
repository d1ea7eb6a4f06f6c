-- The Redis Store's changes, each one atomic: Redis runs a script to its end
-- before any other command. chat/state/redis_store.py loads this file once and
-- calls it as EVALSHA sha 0 prefix now grace ring_timeout left_memory process op args...
--
-- Keys (prefix "chat:" by default):
--   <p>holder:<name>   hash   owner, away (seconds since the epoch when its
--                             last socket went, "" while one is connected)
--   <p>sockets:<name>  hash   the connected socket ids of the name, each to
--                             the device it was attached from
--   <p>left:<name>     hash   owner, at: who left the name last, and when
--   <p>call:<id>       hash   caller, callee, state, epoch, started, answered
--                             (seconds since the epoch)
--   <p>call_of:<name>  string the id of the call the name is in
--   <p>deadlines       zset   "ring:<call id>" and "grace:<name>", scored by
--                             when they are due
--   <p>processes       zset   the id of every server process, scored by its
--                             last heartbeat
--   <p>process:<id>    set    "<name> <sid>" for every socket attached
--                             through that process (names have no spaces)
--
-- Channels: <p>signal:<name> carries the messages relayed to the name; every
-- process with a socket of the name attached subscribes to it
-- (chat/state/redis_channels.py).
--
-- The keys are built here from the prefix rather than passed in KEYS: this
-- works on one Redis server (or a primary with replicas), not on a Redis
-- Cluster. Replies are JSON: {"error": code} for a refusal, else the op's
-- result. `now` is the caller's clock when given (tests), else Redis's own
-- TIME, so that every process reads the same clock.

local prefix = ARGV[1]
local now = tonumber(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local grace = tonumber(ARGV[3])
local ring_timeout = tonumber(ARGV[4])
local left_memory = tonumber(ARGV[5])
local process = ARGV[6]
local op = ARGV[7]

local DEADLINES = prefix .. 'deadlines'
local PROCESSES = prefix .. 'processes'

local function key(kind, id) return prefix .. kind .. ':' .. id end
local function num(x) return string.format('%.6f', x) end

local function refuse(code) return cjson.encode({error = code}) end

-- Presence

local function holder_of(name)
  local fields = redis.call('HMGET', key('holder', name), 'owner', 'away')
  if not fields[1] then return nil end
  return {owner = fields[1], away = fields[2]}
end

local function expired(name, holder)
  if holder.away == '' or redis.call('HLEN', key('sockets', name)) > 0 then return false end
  return now - tonumber(holder.away) >= grace
end

local function await_grace(name, since)
  redis.call('ZADD', DEADLINES, num(since + grace), 'grace:' .. name)
end

-- Calls

local function call_of_id(id)
  if type(id) ~= 'string' or id == '' then return nil end
  local f = redis.call('HMGET', key('call', id), 'caller', 'callee', 'state', 'epoch', 'started', 'answered')
  if not f[1] then return nil end
  return {id = id, caller = f[1], callee = f[2], state = f[3], epoch = tonumber(f[4]),
          started = tonumber(f[5]), answered = tonumber(f[6] or '')}
end

local function end_call(id, reason, by)
  local call = call_of_id(id)
  redis.call('ZREM', DEADLINES, 'ring:' .. id)
  if not call then return nil end
  redis.call('DEL', key('call', id))
  for _, party in ipairs({call.caller, call.callee}) do
    if redis.call('GET', key('call_of', party)) == id then redis.call('DEL', key('call_of', party)) end
  end
  return {call = call, reason = reason, by = by, at = now}
end

-- Forget `name` (its holder, sockets and grace deadline) and end its call.
local function drop(name, reason)
  redis.call('DEL', key('holder', name), key('sockets', name))
  redis.call('ZREM', DEADLINES, 'grace:' .. name)
  local id = redis.call('GET', key('call_of', name))
  if id then return end_call(id, reason, name) end
  return nil
end

-- Take `name` for `owner` (or keep it); returns (error code, ended call).
local function claim(name, owner)
  local holder = holder_of(name)
  local ended = nil
  if holder and holder.owner ~= owner then
    if not expired(name, holder) then return 'name_taken', nil end
    ended = drop(name, 'gone')
    holder = nil
  end
  if not holder then
    -- Held from now, but in its grace period until a socket attaches.
    redis.call('HSET', key('holder', name), 'owner', owner, 'away', num(now))
    redis.call('DEL', key('left', name))
    await_grace(name, now)
  end
  return nil, ended
end

local function party_call(name, id)
  local call = call_of_id(id)
  if not call or (name ~= call.caller and name ~= call.callee) then return nil, 'no_such_call' end
  return call, nil
end

local function ringing_call(name, id, must_be)
  local call, err = party_call(name, id)
  if err then return nil, err end
  if call.state ~= 'ringing' then return nil, 'not_ringing' end
  if (name == call.caller) ~= (must_be == 'caller') then return nil, 'not_allowed' end
  return call, nil
end

local function active_call(name, id)
  local call, err = party_call(name, id)
  if err then return nil, err end
  if call.state == 'ringing' then return nil, 'not_active' end
  return call, nil
end

local ops = {}

function ops.claim(name, owner)
  local err, ended = claim(name, owner)
  if err then return refuse(err) end
  return cjson.encode({ended = ended})
end

function ops.holder(name)
  local holder = holder_of(name)
  if not holder or expired(name, holder) then return cjson.encode({}) end
  return cjson.encode({owner = holder.owner})
end

function ops.attach(name, owner, sid, device)
  local err, ended = claim(name, owner)
  if err then return refuse(err) end
  redis.call('HSET', key('sockets', name), sid, device)
  redis.call('SADD', key('process', process), name .. ' ' .. sid)
  redis.call('HSET', key('holder', name), 'away', '')
  redis.call('ZREM', DEADLINES, 'grace:' .. name)
  return cjson.encode({ended = ended})
end

-- Forget socket `sid` of `name`, attached through process `via`; nil if it was not attached.
local function detach(name, sid, via)
  redis.call('SREM', key('process', via), name .. ' ' .. sid)
  if not holder_of(name) or redis.call('HDEL', key('sockets', name), sid) == 0 then return nil end
  local left = redis.call('HLEN', key('sockets', name))
  if left == 0 then
    redis.call('HSET', key('holder', name), 'away', num(now))
    await_grace(name, now)
  end
  return left
end

function ops.detach(name, sid)
  return cjson.encode({remaining = detach(name, sid, process)})
end

function ops.release(name, owner)
  local holder = holder_of(name)
  if not holder or holder.owner ~= owner then return cjson.encode({sids = {}}) end
  local sids = redis.call('HKEYS', key('sockets', name))
  redis.call('HSET', key('left', name), 'owner', owner, 'at', num(now))
  redis.call('PEXPIRE', key('left', name), math.ceil(left_memory * 1000))
  return cjson.encode({sids = sids, ended = drop(name, 'left')})
end

function ops.has_left(name, owner)
  local left = redis.call('HMGET', key('left', name), 'owner', 'at')
  return cjson.encode({left = left[1] == owner and now - tonumber(left[2]) < left_memory})
end

function ops.expire(name)
  local holder = holder_of(name)
  if not holder then
    redis.call('ZREM', DEADLINES, 'grace:' .. name)
    return cjson.encode({released = false})
  end
  if not expired(name, holder) then
    if holder.away ~= '' and redis.call('HLEN', key('sockets', name)) == 0 then
      await_grace(name, tonumber(holder.away))  -- not yet: due again when it is
    else
      redis.call('ZREM', DEADLINES, 'grace:' .. name)
    end
    return cjson.encode({released = false})
  end
  return cjson.encode({released = true, ended = drop(name, 'gone')})
end

function ops.start_call(caller, callee, id)
  if caller == callee then return refuse('self_call') end
  local holder = holder_of(callee)
  if not holder or expired(callee, holder) then return refuse('offline') end
  if redis.call('EXISTS', key('call_of', caller)) == 1 then return refuse('already_in_call') end
  if redis.call('EXISTS', key('call_of', callee)) == 1 then return refuse('busy') end
  redis.call('HSET', key('call', id), 'caller', caller, 'callee', callee, 'state', 'ringing', 'epoch', 0,
             'started', num(now))
  redis.call('SET', key('call_of', caller), id)
  redis.call('SET', key('call_of', callee), id)
  redis.call('ZADD', DEADLINES, num(now + ring_timeout), 'ring:' .. id)
  return cjson.encode({call = call_of_id(id)})
end

function ops.accept(name, id)
  local call, err = ringing_call(name, id, 'callee')
  if err then return refuse(err) end
  redis.call('HSET', key('call', id), 'state', 'active', 'answered', num(now))
  redis.call('ZREM', DEADLINES, 'ring:' .. id)
  return cjson.encode({call = call_of_id(id)})
end

function ops.decline(name, id)
  local _, err = ringing_call(name, id, 'callee')
  if err then return refuse(err) end
  return cjson.encode({ended = end_call(id, 'declined', name)})
end

function ops.cancel(name, id)
  local _, err = ringing_call(name, id, 'caller')
  if err then return refuse(err) end
  return cjson.encode({ended = end_call(id, 'cancelled', name)})
end

function ops.hangup(name, id, failed)
  local call, err = party_call(name, id)
  if err then return refuse(err) end
  local reason
  if call.state == 'ringing' then
    reason = (name == call.caller) and 'cancelled' or 'declined'
  else
    reason = (failed == '1') and 'failed' or 'hangup'
  end
  return cjson.encode({ended = end_call(id, reason, name)})
end

function ops.expire_ring(id)
  local call = call_of_id(id)
  if not call or call.state ~= 'ringing' then
    redis.call('ZREM', DEADLINES, 'ring:' .. id)
    return cjson.encode({})
  end
  return cjson.encode({ended = end_call(id, 'no_answer', nil)})
end

function ops.move(name, id)
  local _, err = active_call(name, id)
  if err then return refuse(err) end
  redis.call('HINCRBY', key('call', id), 'epoch', 1)
  return cjson.encode({call = call_of_id(id)})
end

-- Every relayed signal: checked against the call and published to the peer's channel in one
-- round trip. The reply is the peer's bare name (names never start with "{").
function ops.relay(name, id, message)
  local call, err = active_call(name, id)
  if err then return refuse(err) end
  local peer = (name == call.caller) and call.callee or call.caller
  redis.call('PUBLISH', prefix .. 'signal:' .. peer, message)
  return peer
end

function ops.call_of(name)
  local id = redis.call('GET', key('call_of', name))
  return cjson.encode({call = call_of_id(id)})
end

-- This process is alive; the sockets of processes silent for `timeout` seconds are detached.
-- Says whether this process was known (false after Redis lost its data, or at its first beat).
function ops.keep_alive(timeout)
  local known = redis.call('ZSCORE', PROCESSES, process) ~= false
  redis.call('ZADD', PROCESSES, num(now), process)
  local swept = 0
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', PROCESSES, '-inf', num(now - tonumber(timeout)))) do
    for _, entry in ipairs(redis.call('SMEMBERS', key('process', dead))) do
      local space = string.find(entry, ' ', 1, true)
      detach(string.sub(entry, 1, space - 1), string.sub(entry, space + 1), dead)
      swept = swept + 1
    end
    redis.call('DEL', key('process', dead))
    redis.call('ZREM', PROCESSES, dead)
  end
  return cjson.encode({known = known, swept = swept})
end

function ops.due(limit)
  return cjson.encode({due = redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', num(now), 'LIMIT', 0, tonumber(limit))})
end

return ops[op](unpack(ARGV, 8))
