#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-config-docs.py CONFIG.C PAGE.scd EXAMPLE.yaml JETSNAPD

Fails when a key that daemon/config.c accepts (its KeyTable rows) is not
documented as "*key*:" in jetsnapd.yaml(5), when the page documents a key
the loader does not know, when the shipped example leaves a key out, or
when the page's EXAMPLE does not pass `jetsnapd --check-config`.
"""
import re
import subprocess
import sys
import tempfile

source, page, example = (open(p).read() for p in sys.argv[1:4])
keys = set(re.findall(r'^\s*\{ "([a-z-]+)", parse_\w+,', source, re.M))
documented = set(re.findall(r'^\*([a-z-]+)\*: ', page, re.M))
shown = set(re.findall(r'^\s*(?:- )?([a-z-]+):', example, re.M))
problems = [f"key '{k}' is not documented in {sys.argv[2]}" for k in sorted(keys - documented)]
problems += [f"{sys.argv[2]} documents '{k}', which config.c does not accept" for k in sorted(documented - keys)]
problems += [f"the example {sys.argv[3]} does not show '{k}'" for k in sorted(keys - shown)]
m = re.search(r"^# EXAMPLE\n.*?^```\n(.*?)^```", page, re.M | re.S)
if not m:
    problems.append(f"{sys.argv[2]} has no EXAMPLE listing")
else:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(m.group(1))
        f.flush()
        r = subprocess.run([sys.argv[4], "--check-config", "--config", f.name],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            problems.append(f"the EXAMPLE of {sys.argv[2]} fails --check-config: {r.stdout}{r.stderr}".strip())
for p in problems:
    print("FAIL:", p)
print(f"{len(keys)} keys checked, {len(problems)} problems")
sys.exit(1 if problems or not keys else 0)
