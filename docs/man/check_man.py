#!/usr/bin/env python3
"""The built man pages against the programs: every config key that a program's --help lists
is in tlsfence.conf(5), every subcommand of `tlsfence --help` is in tlsfence(8), each
program's page has an EXIT STATUS section and names --config/--help/--version, and groff
renders every page without a warning.

usage: check_man.py MANDIR TLSFENCED TLSFENCE_RPTD TLSFENCE
"""
import os
import re
import subprocess
import sys

mandir, tlsfenced, rptd, cli = sys.argv[1:5]
failures = []


def render(page):
    """The page as plain text (groff, as man(1) runs it, without hyphenation and with long
    lines, so that names are not split), and groff's warnings (-ww: all of them)."""
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-rHY=0", "-rLL=250n", "-P-cbou",
                        os.path.join(mandir, page)], capture_output=True, text=True,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    if r.returncode != 0:
        failures.append(f"{page}: groff exited {r.returncode}: {r.stderr.strip()}")
    warnings = [l for l in r.stderr.splitlines() if l.strip()]
    if warnings:
        failures.append(f"{page}: groff warns: " + "; ".join(warnings[:5]))
    # groff -Tutf8 prints '-' as U+2010 and '\-' as U+2212: compare with ASCII hyphens.
    return r.stdout.replace("\u2010", "-").replace("\u2212", "-")


def help_of(program):
    r = subprocess.run([program, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        failures.append(f"{program} --help exited {r.returncode}")
    return r.stdout


pages = {p: render(p) for p in ["tlsfenced.8", "tlsfence-rptd.8", "tlsfence.8", "tlsfence.conf.5"]}
conf = pages["tlsfence.conf.5"]
# The rendered key reference joins lines; compare without line breaks or hyphenation.
flat_conf = re.sub(r"\s+", " ", conf)

keys = set()
for program in (tlsfenced, rptd, cli):
    for m in re.finditer(r"^\s+--([a-z-]+)\.([a-z-]+) VALUE", help_of(program), re.M):
        keys.add((m.group(1), m.group(2)))
if len(keys) < 40:
    failures.append(f"only {len(keys)} keys found in --help: the help format changed?")
for section, key in sorted(keys):
    if f"--{section}.{key}=VALUE" not in flat_conf:
        failures.append(f"tlsfence.conf(5) lacks key {section}.{key}")
    if f"[{section}]" not in flat_conf:
        failures.append(f"tlsfence.conf(5) lacks section [{section}]")

# Every subcommand of `tlsfence --help`'s Commands block is described in tlsfence(8).
commands = []
block = help_of(cli).split("Commands:", 1)[-1].split("Exit status", 1)[0]
for line in block.splitlines():
    m = re.match(r"^  ([a-z]+)(?: ([a-z|]+))?", line)
    if not m:
        continue
    for sub in (m.group(2) or "").split("|"):
        if sub and sub.isalpha() and sub.islower() and m.group(1) in ("cache", "report", "db"):
            commands.append(f"{m.group(1)} {sub}")
        elif not sub or m.group(1) not in ("cache", "report", "db"):
            commands.append(m.group(1))
if len(commands) < 8:
    failures.append(f"only {len(commands)} subcommands found in tlsfence --help: {commands}")
flat_cli = re.sub(r"\s+", " ", pages["tlsfence.8"])
for c in sorted(set(commands)):
    if not re.search(r"(^|\s)" + re.escape(c) + r"(\s|$)", flat_cli):
        failures.append(f"tlsfence(8) does not describe '{c}'")

for page in ("tlsfenced.8", "tlsfence-rptd.8", "tlsfence.8"):
    text = pages[page]
    if "EXIT STATUS" not in text:
        failures.append(f"{page} has no EXIT STATUS section")
    for opt in ("--config", "--help", "--version"):
        if opt not in text:
            failures.append(f"{page} does not mention {opt}")

for f in failures:
    print("FAIL:", f)
print(f"checked {len(keys)} keys, {len(set(commands))} subcommands, {len(pages)} pages")
sys.exit(1 if failures else 0)
