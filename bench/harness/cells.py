"""The load shapes ("cells") every server is measured in."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    name: str
    path: str
    connections: int
    close: bool = False    # `Connection: close`: a new TCP connection per request
    pipeline: int = 0      # requests in flight per connection (wrk Lua script)
    meaning: str = ""


CELLS = [
    Cell("plain-c1", "/", 1, meaning="keep-alive plaintext, 1 connection: pure latency, no batching"),
    Cell("plain-c16", "/", 16, meaning="keep-alive plaintext, 16 connections"),
    Cell("plain-c64", "/", 64, meaning="keep-alive plaintext, 64 connections"),
    Cell("plain-c256", "/", 256, meaning="keep-alive plaintext, 256 connections"),
    Cell("close-c16", "/", 16, close=True,
         meaning="`Connection: close` plaintext, 16 connections: accept + one request + close each time"),
    Cell("json-c16", "/json", 16, meaning="keep-alive json (serde_json / json.dumps per request), 16 connections"),
    Cell("json-c256", "/json", 256, meaning="keep-alive json, 256 connections"),
    Cell("pipe-c256", "/", 256, pipeline=16,
         meaning="pipelined plaintext, 256 connections x 16 requests in flight (TechEmpower's plaintext shape)"),
]
BY_NAME = {cell.name: cell for cell in CELLS}
