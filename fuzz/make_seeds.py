#!/usr/bin/env python3
"""Write the seed corpus (fuzz/seeds/<target>/) from the advisories in the
project's reference notes (section 4) and the examples of RFC 9110/9112.

Run from anywhere: python3 fuzz/make_seeds.py. The files are kept in the
repository; a fuzzing run copies them into its working corpus (fuzz/corpus/,
not kept)."""
import hashlib, os

HERE = os.path.dirname(os.path.abspath(__file__))

# Request heads and whole requests: RFC examples first, then one per advisory.
REQUESTS = [
    # RFC 9110 section 6 / RFC 9112 section 2.1 examples
    b"GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\nAccept-Language: en, mi\r\n\r\n",
    b"GET /where?q=now HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
    b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nExpires: never\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /caf%C3%A9/a%2Fb?q=%20x HTTP/1.1\r\nHost: h\r\nX-Many: 1\r\nx-many: 2\r\nX_Sneaky: 1\r\n\r\n",
    # waitress CVE-2019-16785, Puma CVE-2021-41136: bare LF / CR
    b"GET / HTTP/1.1\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\nContent-Length: 0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
    # waitress 1.4.0, tiny-http #173: space before the colon; obs-fold
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    # waitress CVE-2019-16786, gunicorn CVE-2024-1135, hyper RUSTSEC-2021-0020
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
    # waitress CVE-2019-16792, CVE-2022-24761; hyper CVE-2021-32715; h11 0.15
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10, 10\r\n\r\n0123456789",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\nGET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:4\r\n\r\nabcd",
    # waitress CVE-2019-16789: non-OWS whitespace
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \xa03\r\n\r\nabc",
    # CL + TE (waitress #465, gunicorn 22)
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # chunked framing: waitress 1.4.0, h11 CVE-2025-43859, hyper CVE-2021-32714, gunicorn 2026
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
    # X_ headers (waitress PR #80), duplicate Host, versions, target forms (gunicorn 22/23/2026)
    b"GET / HTTP/1.1\r\nHost: h\r\nX_Auth_User: admin\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.10\r\nHost: h\r\n\r\n",
    b"GET  HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
    b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GE#T / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /%FF HTTP/1.1\r\nHost: h\r\n\r\nGET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n",
]

# Chunked bodies (after the head): RFC 9112 section 7.1 and the advisories.
CHUNKED = [
    b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
    b"3;name=value;x=\"q\"\r\nabc\r\n0\r\nT: v\r\n\r\nNEXT",
    b"5\nhello\n0\n\n",
    b"5\r\nhelloXX0\r\n\r\n",
    b"\r\nhello\r\n0\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"5_\r\nhello\r\n0\r\n\r\n",
    b"FFFFFFFFFFFFFFFFF\r\nhello\r\n",
    b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    b"0\r\nBad Trailer\r\n\r\n",
    b"0\r\nContent-Length: 5\r\n\r\n",
    b"1;" + b"x" * 400 + b"\r\na\r\n" + b"0\r\n\r\n",
]

CONTENT_LENGTHS = [b"0", b"5", b"007", b"+5", b"-1", b"0x5", b"1_0", b"1 0", b"", b"5, 5",
                   b"18446744073709551616", b"1073741824", b"1073741825", b" 5\t", b"\x0b5", b"\xa05"]

ENVIRON = [  # target, then header lines, separated by \n
    b"/caf%C3%A9/a%2Fb?q=%20x\nX-Many: 1\nx-many: 2",
    b"/%FF",
    b"/a%2",
    b"/a%zz%41?%41",
    b"http://other:81/x?y\nContent-Type: text/plain\nContent-Length: 0",
    b"/\nX-Name: caf\xe9\nX_Sneaky: 1\nAccept: */*",
    b"*",
]


def connection(name, stream):
    """The connection target's input: piece lengths first (none: whole)."""
    write("connection", name, b"\x00" + stream)
    write("connection", name + "-split", b"\x03\x07\x01\x11" + stream)


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    with open(os.path.join(folder, f"{name}-{digest}"), "wb") as f:
        f.write(data)


def main():
    for i, raw in enumerate(REQUESTS):
        write("request_head", f"req{i:02}", raw)
        connection(f"req{i:02}", raw)
    pipelined = b"".join(r for r in REQUESTS[:5])
    connection("pipelined", pipelined)
    for i, body in enumerate(CHUNKED):
        write("body_framing", f"chunked{i:02}", b"\x00\x00" + body)
        write("body_framing", f"chunked{i:02}-split", b"\x00\x03\x01\x02\x05" + body)
        connection(f"chunked{i:02}",
                   b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    for i, value in enumerate(CONTENT_LENGTHS):
        write("body_framing", f"length{i:02}", b"\x01" + value)
    for i, rest in enumerate(ENVIRON):
        write("environ", f"env{i:02}", b"\x00" + rest)
        write("environ", f"env{i:02}-10", b"\x82" + rest)


if __name__ == "__main__":
    main()
