#!/usr/bin/python3
"""Minimal syslog receiver for the test world's Sendmail (which only logs through syslog(3)).

  sm_syslog.py --socket PATH --log FILE --pidfile F

Reads datagrams "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG" on a unix datagram socket (the
target of /dev/log in Sendmail's namespace) and appends "Mmm dd hh:mm:ss sender.test
TAG[PID]: MSG" lines to FILE, like a classic /var/log/mail.log.
"""
import argparse
import os
import re
import signal
import socket
import sys
import time

LINE = re.compile(rb"^<\d+>(?:(\w{3} [ \d]\d \d\d:\d\d:\d\d) )?(.*)$", re.S)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--host", default="sender.test")
    a = ap.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    os.chmod(a.socket, 0o666)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = open(a.log, "ab", buffering=0)
    while True:
        data = s.recv(65536)
        m = LINE.match(data)
        stamp, msg = (m.group(1), m.group(2)) if m else (None, data)
        if not stamp:
            stamp = time.strftime("%b %d %H:%M:%S").encode()
        out.write(stamp + b" " + a.host.encode() + b" " + msg.rstrip(b"\n\0") + b"\n")


if __name__ == "__main__":
    main()
