-- POST /api/v1/organizations/{name}/heartbeat for a random organization of the bench fleet,
-- with that organization's own key (bench/gcc_fleet.py derives names and keys from an index).
-- BENCH_ORGANIZATIONS: the fleet's size; BENCH_BODY: the JSON body sent every time.
local organizations = tonumber(os.getenv("BENCH_ORGANIZATIONS") or "100000")
local body = os.getenv("BENCH_BODY")

function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
   local index = math.random(0, organizations - 1)
   local headers = {
      ["Authorization"] = string.format("Bearer gcc_bench-%07d", index),
      ["Content-Type"] = "application/json",
   }
   local path = string.format("/api/v1/organizations/org-%07d/heartbeat", index)
   return wrk.format("POST", path, headers, body)
end
