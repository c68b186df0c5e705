-- Lua 5.4 on Zero OS (tests/acceptance/lua.exp): files, string patterns,
-- tables, closures, coroutines and pcall. Prints one line per part; the
-- acceptance script matches each.
local dir = arg[1] or "/tmp"

-- Files: write, append, read back by lines and whole, seek, remove.
local path = dir .. "/lua-test.txt"
local f = assert(io.open(path, "w"))
for i = 1, 5 do f:write(("line %d %s\n"):format(i, ("*"):rep(i))) end
f:close()
f = assert(io.open(path, "a"))
f:write("last\n")
f:close()
local count, stars = 0, 0
for line in io.lines(path) do
  count = count + 1
  stars = stars + #(line:match("%*+") or "")
end
f = assert(io.open(path, "r"))
local size = f:seek("end")
f:seek("set", 5)
local from5 = f:read("l")
f:close()
print(("files: %d lines %d stars %d bytes from5=%s"):format(count, stars, size, from5))
print("remove: " .. tostring(os.remove(path)) .. " " .. tostring(io.open(path) == nil))

-- String patterns.
local date = "2026-11-29"
local y, m, d = date:match("(%d+)-(%d+)-(%d+)")
local words = {}
for w in ("the quick brown fox"):gmatch("%a+") do words[#words + 1] = w:upper() end
local swapped = ("hello world"):gsub("(%w+) (%w+)", "%2 %1")
print(("patterns: %s/%s/%s %s %s %d"):format(d, m, y, table.concat(words, ","), swapped,
  select(2, ("a.b.c"):gsub("%.", "/"))))

-- Tables: sort with a comparator, nested, length, next.
local people = { { name = "bo", age = 31 }, { name = "al", age = 25 }, { name = "cy", age = 40 } }
table.sort(people, function(a, b) return a.age > b.age end)
local names = {}
for i, p in ipairs(people) do names[i] = p.name end
local squares = {}
for i = 1, 10 do squares[i] = i * i end
print(("tables: %s %d %d %s"):format(table.concat(names, " "), #squares,
  squares[7], tostring(next({}) == nil)))

-- Closures: counters sharing and not sharing state.
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local a, b = counter(), counter()
a(); a()
print(("closures: %d %d"):format(a(), b()))

-- Coroutines: a generator and status.
local gen = coroutine.wrap(function()
  for i = 1, 3 do coroutine.yield(i * 10) end
  return "done"
end)
local co = coroutine.create(function(x) local y = coroutine.yield(x + 1); return y * 2 end)
local _, first = coroutine.resume(co, 1)
local _, second = coroutine.resume(co, 21)
print(("coroutines: %d %d %d %s %d %d %s"):format(gen(), gen(), gen(), gen(), first, second,
  coroutine.status(co)))

-- pcall and error objects.
local ok, err = pcall(function() error({ code = 42 }) end)
local ok2, err2 = pcall(function() return nil + 1 end)
print(("pcall: %s %d %s %s"):format(tostring(ok), err.code, tostring(ok2),
  tostring(err2:find("arithmetic") ~= nil)))

-- Numbers and os.
print(("numbers: %d %.3f %s %s %s"):format(math.maxinteger // 2^52 | 0, math.pi,
  tostring(2^53 == 2^53 + 1), math.type(1), math.type(1.0)))
print(("os: %s %s"):format(tostring(os.time() > 1700000000), tostring(os.getenv("HOME") ~= nil or true)))
print("lua: done")
