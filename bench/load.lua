-- wrk script of the load benchmark (bench/load.py): every endpoint of the companion shop.
--
--   wrk -t1 -c50 -d30s --latency --timeout 10s -s bench/load.lua http://127.0.0.1:PORT \
--       -- mix=products_list:28,orders_get:18 run=RUNID seed=1 \
--          customers=1:10000 products=1:1000 categories=1:12 orders=1:100000
--
-- Arguments (key=value after "--"):
--   mix         name:weight,... the endpoints to send and their weights (one name: alone)
--   run         an id unique to this wrk run: new emails, SKUs and names stay unique
--   seed        seed of the random choices (ids, the order of the mix)
--   customers, products, categories, orders   lo:hi ranges of existing ids (seeded rows)
--
-- Every write is made to succeed: unique emails, SKUs and names (run id, thread, counter),
-- orders of 1 to 3 distinct seeded products (their stock is 100,000+) by seeded customers.
-- The mix is a shuffled cycle of sum(weights) slots, so its proportions are exact.
-- done() prints one line "LOAD_RESULT {json}": requests, errors, latency percentiles (us)
-- and how many requests of each endpoint were sent. No response() callback: wrk then does
-- not buffer bodies, and counts statuses >= 400 in errors.status.

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

local JSON = { ["Content-Type"] = "application/json" }
local run = "run"
local ranges = {}
local schedule = {}
local position = 0
local counter = 0
sent = {} -- global: read by done() through thread:get

local function range(text)
   local lo, hi = string.match(text, "^(%d+):(%d+)$")
   assert(lo, "a range is lo:hi, not " .. text)
   return { tonumber(lo), tonumber(hi) }
end

local function pick(name)
   local r = ranges[name]
   return math.random(r[1], r[2])
end

local function post(path, body)
   return wrk.format("POST", path, JSON, body)
end

local builders = {
   health = function()
      return wrk.format("GET", "/health")
   end,
   customers_create = function(n)
      return post("/customers", string.format(
         '{"email":"load-%s-%d-%d@example.com","name":"Load customer %d"}', run, tid, n, n))
   end,
   categories_create = function(n)
      return post("/categories", string.format('{"name":"Load %s %d %d"}', run, tid, n))
   end,
   products_create = function(n)
      return post("/products", string.format(
         '{"sku":"LOAD-%s-%d-%d","name":"Load product %d","category_id":%d,'
            .. '"price_cents":%d,"stock":1000000}',
         run, tid, n, n, pick("categories"), 100 + n % 9000))
   end,
   products_list = function()
      local after = math.random(0, ranges.products[2])
      if math.random(2) == 1 then
         return wrk.format("GET", string.format("/products?limit=20&after=%d", after))
      end
      return wrk.format("GET", string.format(
         "/products?category_id=%d&limit=20&after=%d", pick("categories"), after))
   end,
   products_top = function()
      local days = ({ 1, 7, 30, 90 })[math.random(4)]
      return wrk.format("GET", string.format("/products/top?days=%d&limit=10", days))
   end,
   orders_create = function()
      local items, seen, count = {}, {}, math.random(3)
      while #items < count do
         local product = pick("products")
         if not seen[product] then
            seen[product] = true
            items[#items + 1] = string.format(
               '{"product_id":%d,"quantity":%d}', product, math.random(2))
         end
      end
      return post("/orders", string.format(
         '{"customer_id":%d,"items":[%s]}', pick("customers"), table.concat(items, ",")))
   end,
   orders_get = function()
      return wrk.format("GET", string.format("/orders/%d", pick("orders")))
   end,
   customer_orders = function()
      return wrk.format("GET", string.format("/customers/%d/orders?limit=10", pick("customers")))
   end,
}

function init(args)
   local options = {}
   for _, arg in pairs(args) do
      local key, value = string.match(arg, "^([%w_]+)=(.*)$")
      if key then
         options[key] = value
      end
   end
   run = options.run or run
   for _, name in ipairs({ "customers", "products", "categories", "orders" }) do
      ranges[name] = range(assert(options[name], "missing argument " .. name .. "=lo:hi"))
   end
   math.randomseed(tonumber(options.seed or "1") * 1000 + tid)
   for item in string.gmatch(assert(options.mix, "missing argument mix="), "[^,]+") do
      local name, weight = string.match(item, "^([%w_]+):(%d+)$")
      assert(name and builders[name], "unknown endpoint in mix: " .. item)
      for _ = 1, tonumber(weight) do
         schedule[#schedule + 1] = name
      end
   end
   assert(#schedule > 0, "empty mix")
   for i = #schedule, 2, -1 do -- Fisher-Yates
      local j = math.random(i)
      schedule[i], schedule[j] = schedule[j], schedule[i]
   end
end

function request()
   position = position % #schedule + 1
   counter = counter + 1
   local name = schedule[position]
   sent[name] = (sent[name] or 0) + 1
   return builders[name](counter)
end

local function json_object(fields)
   local parts = {}
   for key, value in pairs(fields) do
      local text = type(value) == "table" and json_object(value) or string.format("%.17g", value)
      parts[#parts + 1] = string.format('"%s":%s', key, text)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      for name, n in pairs(thread:get("sent") or {}) do
         total[name] = (total[name] or 0) + n
      end
   end
   local us = {
      min = latency.min, max = latency.max, mean = latency.mean, stdev = latency.stdev,
   }
   for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
      us["p" .. p] = latency:percentile(p)
   end
   io.write("LOAD_RESULT ", json_object({
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      errors = summary.errors,
      latency_us = us,
      sent = total,
   }), "\n")
end
