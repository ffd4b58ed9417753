/*
 * pb-bridged — the daemon's one HTTP listener (libmicrohttpd through
 * pb_listener): what the homeserver pushes in appservice mode
 * (appservice.c adds its routes); other endpoints join the same listener.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"

int pbb_listener_new(const pbb_config *c, pb_listener **out)
{
	pb_listener_options o = PB_LISTENER_OPTIONS_INIT;
	o.address = pbb_as_listen(c);
	/* a transaction holds up to 100 events of up to 64 KiB each (Synapse) */
	o.max_body = 8u << 20;
	return pb_listener_new(out, &o);
}
