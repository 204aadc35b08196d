#!/usr/bin/python3
"""Black hole for the test world: receives on UDP and TCP and never answers.

  blackhole.py --udp 127.0.0.99:53 --tcp 127.0.0.99:53 --tcp 127.0.0.22:443 --pidfile F

UDP datagrams are read and dropped; TCP connections are accepted, read and held open
until the peer closes them (at most MAX_HELD at once). One log line per event on stdout.
"""
import argparse
import os
import selectors
import signal
import socket
import sys
import time

MAX_HELD = 512


def addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--udp", action="append", type=addr, default=[])
    ap.add_argument("--tcp", action="append", type=addr, default=[])
    ap.add_argument("--pidfile")
    args = ap.parse_args()

    sel = selectors.DefaultSelector()
    for a in args.udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(a)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", a))
    for a in args.tcp:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(a)
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", a))
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("listening udp=%s tcp=%s" % (args.udp, args.tcp))
    held = {}
    while True:
        for key, _ in sel.select():
            kind, a = key.data
            s = key.fileobj
            try:
                if kind == "udp":
                    data, peer = s.recvfrom(65535)
                    log(f"udp {a[0]}:{a[1]} <- {peer[0]}:{peer[1]} {len(data)} bytes, dropped")
                elif kind == "listen":
                    c, peer = s.accept()
                    if len(held) >= MAX_HELD:
                        c.close()
                        continue
                    c.setblocking(False)
                    held[c] = peer
                    sel.register(c, selectors.EVENT_READ, ("conn", a))
                    log(f"tcp {a[0]}:{a[1]} <- {peer[0]}:{peer[1]} accepted, holding")
                else:
                    if not s.recv(65536):
                        sel.unregister(s)
                        held.pop(s, None)
                        s.close()
            except OSError:
                if kind == "conn":
                    sel.unregister(s)
                    held.pop(s, None)
                    s.close()


if __name__ == "__main__":
    main()
