/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authorization from the sender's credentials: root, or a member of one of the given groups. */

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/*
 * auth_check() - may the sender of @m do @what?
 * Return: 0 allowed; -EACCES denied (AccessDenied set in @error, logged);
 * other negative errno when the credentials cannot be read.
 */
int auth_check(sd_bus_message *m, const gid_t *gids, size_t n_gids, const char *what, sd_bus_error *error);
