-- Pipelined plaintext, as TechEmpower runs it: each connection writes
-- `depth` requests (default 16) at once, then reads the `depth` answers.
-- Usage: wrk ... -s pipeline.lua URL -- 16

init = function(args)
  local depth = tonumber(args[1]) or 16
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format()
  end
  requests = table.concat(batch)
end

request = function()
  return requests
end
