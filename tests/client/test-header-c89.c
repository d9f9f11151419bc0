/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Compiled with -std=c89 -pedantic: both public headers must be usable from old C. Never run. */

#include <jetsnap/esent.h>
#include <jetsnap/jetsnap.h>

int main(void) {
        jetsnap_client *c = 0;
        JET_INSTANCE_INFO *info = 0;
        unsigned long n = 0;

        if (jetsnap_client_open_system(&c) >= 0)
                jetsnap_client_unrefp(&c);
        if (JetGetInstanceInfo(&n, &info) == JET_errSuccess)
                JetFreeBuffer((char *) info);
        return 0;
}
