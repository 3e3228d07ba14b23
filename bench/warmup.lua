-- wrk script: polls every one of DEVICES devices exactly once (registration and cache fill), then stops.
local n = tonumber(os.getenv("DEVICES") or "100000")
local i = -1
local done_count = 0

request = function()
  i = i + 1
  local id = i % n
  return wrk.format("GET", "/DEFAULT/controller/v1/dev-" .. id, {
    ["Authorization"] = "TargetToken tok-" .. id,
    ["Accept"] = "application/json",
  })
end

response = function(status, headers, body)
  done_count = done_count + 1
  if done_count >= n then
    wrk.thread:stop()
  end
end
