#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-cli-docs.py JETSNAPCTL jetsnapctl.1.scd JETSNAPD jetsnapd.8.scd

Fails when a man page misses what the program's own --help shows: every
jetsnapctl command (as *command*) and every long option of every command
(as *--option*), every jetsnapd option, and jetsnapctl's exit statuses.
"""
import re
import subprocess
import sys


def run_help(*cmd):
    r = subprocess.run(list(cmd) + ["--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} --help failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def options(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def main():
    ctl, ctl_page, daemon, daemon_page = sys.argv[1:5]
    ctl_text, daemon_text = open(ctl_page).read(), open(daemon_page).read()
    problems = []

    top = run_help(ctl)
    section = top.split("Commands", 1)[1].split("\n\n", 1)[0]
    verbs = sorted(set(re.findall(r"^  ([a-z][a-z-]*)\b", section, re.M)))
    for verb in verbs:
        if f"*{verb}*" not in ctl_text:
            problems.append(f"jetsnapctl(1): command '{verb}' is not documented")
        for opt in sorted(options(run_help(ctl, verb)) - {"--help"}):
            if f"*{opt}*" not in ctl_text:
                problems.append(f"jetsnapctl(1): option {opt} of '{verb}' is not documented")
    for opt in sorted(options(top.split("Options", 1)[1]) if "Options" in top else set()):
        if f"*{opt}*" not in ctl_text:
            problems.append(f"jetsnapctl(1): global option {opt} is not documented")
    for status in sorted(set(re.findall(r"\b(\d+) ", top.split("Exit status", 1)[1]))):
        if f"*{status}*" not in ctl_text:
            problems.append(f"jetsnapctl(1): exit status {status} is not documented")

    for opt in sorted(options(run_help(daemon))):
        if f"*{opt}*" not in daemon_text:
            problems.append(f"jetsnapd(8): option {opt} is not documented")

    for p in problems:
        print("FAIL:", p)
    print(f"{len(verbs)} commands checked, {len(problems)} problems")
    return 1 if problems or not verbs else 0


sys.exit(main())
