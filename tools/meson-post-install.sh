#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# meson install hook: on a real install (no DESTDIR) as root, create the
# "jetsnap" group at once and make dbus and systemd see the new files.
# Packages and images (DESTDIR set) get the group from systemd-sysusers at boot.
set -eu

sysusers_conf="$1"

if [ -n "${DESTDIR:-}" ] || [ "$(id -u)" != 0 ]; then
    exit 0
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers "$sysusers_conf" || echo "meson-post-install: systemd-sysusers failed; create group 'jetsnap' by hand" >&2
fi
# Only when they run: in a container or a chroot there may be no systemd or bus.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if command -v busctl >/dev/null 2>&1 && [ -S /run/dbus/system_bus_socket ]; then
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null 2>&1 || true
fi
exit 0
