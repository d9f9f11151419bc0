#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-config-docs.py CONFIG.C PAGE.scd EXAMPLE.yaml

Fails when a key that daemon/config.c accepts (its KeyTable rows) is not
documented as "*key*:" in jetsnapd.yaml(5), when the page documents a key
the loader does not know, or when the shipped example leaves a key out.
"""
import re
import sys

source, page, example = (open(p).read() for p in sys.argv[1:4])
keys = set(re.findall(r'^\s*\{ "([a-z-]+)", parse_\w+,', source, re.M))
documented = set(re.findall(r'^\*([a-z-]+)\*: ', page, re.M))
shown = set(re.findall(r'^\s*(?:- )?([a-z-]+):', example, re.M))
problems = [f"key '{k}' is not documented in {sys.argv[2]}" for k in sorted(keys - documented)]
problems += [f"{sys.argv[2]} documents '{k}', which config.c does not accept" for k in sorted(documented - keys)]
problems += [f"the example {sys.argv[3]} does not show '{k}'" for k in sorted(keys - shown)]
for p in problems:
    print("FAIL:", p)
print(f"{len(keys)} keys checked, {len(problems)} problems")
sys.exit(1 if problems or not keys else 0)
