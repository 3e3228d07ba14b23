-- wrk script: every request is a DDI poll of a different registered device with its own
-- TargetToken, walking all DEVICES ids with a prime stride.
local n = tonumber(os.getenv("DEVICES") or "100000")
local i = 0

request = function()
  i = (i + 7919) % n
  return wrk.format("GET", "/DEFAULT/controller/v1/dev-" .. i, {
    ["Authorization"] = "TargetToken tok-" .. i,
    ["Accept"] = "application/json",
  })
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), summary.duration))
end
