#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-dbus-docs.py JETSNAPD PAGE.scd

Fails when org.jetsnap1(5) and the daemon disagree: every method, property
and signal that `jetsnapd --bus-introspect=IFACE` prints must appear in the
page's introspection-style listing of that interface with the same
arguments (direction, type, name) or type and access, must be described in
the prose, and the listing may show nothing the daemon lacks. The idea is
systemd's tools/update-dbus-docs.py --test.
"""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

INTERFACES = ("org.jetsnap1.Manager", "org.jetsnap1.Snapshot", "org.jetsnap1.Instance")


def introspect(jetsnapd, iface):
    r = subprocess.run([jetsnapd, "--bus-introspect=" + iface], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"{jetsnapd} --bus-introspect={iface} failed ({r.returncode}): {r.stderr.strip()}")
    # sd-bus prints a DOCTYPE; ElementTree does not need it.
    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", r.stdout))
    for node in root.iter("interface"):
        if node.get("name") == iface:
            return node
    sys.exit(f"--bus-introspect={iface} printed no interface {iface}")


def members_from_xml(node):
    out = {}
    for m in node.findall("method"):
        out[("method", m.get("name"))] = [(a.get("direction", "in"), a.get("type"), a.get("name"))
                                          for a in m.findall("arg")]
    for s in node.findall("signal"):
        out[("signal", s.get("name"))] = [("", a.get("type"), a.get("name")) for a in s.findall("arg")]
    for p in node.findall("property"):
        access = "readonly" if p.get("access") == "read" else "readwrite"
        out[("property", p.get("name"))] = [(access, p.get("type"), "")]
    return out


def members_from_page(text, iface):
    m = re.search(r"^\s*interface " + re.escape(iface) + r" \{\n(.*?)^\s*\};", text, re.M | re.S)
    if not m:
        return None
    out = {}
    section = None
    stmt = ""
    for line in m.group(1).splitlines():
        s = line.strip()
        if s in ("methods:", "signals:", "properties:"):
            section = s[:-1]
            continue
        if not s or s.startswith("@"):
            continue
        stmt += " " + s
        if not stmt.endswith(";"):
            continue
        stmt, body = "", stmt.strip()[:-1]
        if section in ("methods", "signals"):
            mm = re.fullmatch(r"(\w+)\((.*)\)", body)
            if not mm:
                raise SystemExit(f"{iface}: cannot parse listing line: {body}")
            args = []
            for a in filter(None, (x.strip() for x in mm.group(2).split(","))):
                parts = a.split()
                if section == "methods":
                    args.append((parts[0], parts[1], parts[2]))
                else:
                    args.append(("", parts[0], parts[1]))
            out[(section[:-1], mm.group(1))] = args
        elif section == "properties":
            mm = re.fullmatch(r"(readonly|readwrite) (\S+) (\w+)( = .*)?", body)
            if not mm:
                raise SystemExit(f"{iface}: cannot parse listing line: {body}")
            out[("property", mm.group(3))] = [(mm.group(1), mm.group(2), "")]
    return out


def main():
    jetsnapd, page = sys.argv[1], sys.argv[2]
    text = open(page).read()
    # The prose is everything outside the ``` listings.
    prose = "".join(re.split(r"^```.*?^```", text, flags=re.M | re.S))
    problems = []
    checked = 0
    for iface in INTERFACES:
        real = members_from_xml(introspect(jetsnapd, iface))
        documented = members_from_page(text, iface)
        if documented is None:
            problems.append(f"{iface}: no 'interface {iface} {{' listing in the page")
            continue
        for key, args in sorted(real.items()):
            kind, name = key
            checked += 1
            if key not in documented:
                problems.append(f"{iface}: {kind} {name} is missing from the listing")
            elif documented[key] != args:
                problems.append(f"{iface}: {kind} {name}: listing says {documented[key]}, daemon has {args}")
            want = f"*{name}()*" if kind == "method" else f"*{name}*"
            if want not in prose:
                problems.append(f"{iface}: {kind} {name} is not described (no {want} in the prose)")
        for key in sorted(documented.keys() - real.keys()):
            problems.append(f"{iface}: the listing shows {key[0]} {key[1]}, which the daemon does not have")
    for p in problems:
        print("FAIL:", p)
    print(f"{checked} members checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


sys.exit(main())
