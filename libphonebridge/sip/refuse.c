/*
 * libphonebridge — INVITEs the agent refuses by itself (source, digest, SDP
 * guard, media, draining), reported to the program so that every call can
 * be logged. A report is queued where the refusal is made (deep inside
 * sofia-sip for the SDP guard) and delivered from the loop afterwards.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

void pb_sip__refused(pb_sip *ua, int status, const char *rule, const sip_t *sip, const struct sockaddr *sa)
{
	if (!ua->refused_cb)
		return;
	if (ua->nrefusals == PB_SIP__REFUSALS) {
		ua->refusals_dropped++;  /* counted into the next report */
		return;
	}
	pb_sip_refused_item *it = &ua->refusals[ua->nrefusals];
	memset(it, 0, sizeof(*it));
	it->home = su_home_new(sizeof(su_home_t));
	if (!it->home) {
		ua->refusals_dropped++;
		return;
	}
	if (sip)
		pb_sip__caller_read(it->home, &it->caller, sip, sa);
	else
		pb_sip__caller_read(it->home, &it->caller, &(sip_t){ 0 }, sa);
	it->status = status;
	it->rule = rule;
	ua->nrefusals++;
}

void pb_sip__refused_deliver(pb_sip *ua)
{
	if (ua->delivering || (!ua->nrefusals && !ua->refusals_dropped))
		return;
	ua->delivering = true; /* a handler stepping the loop must not deliver again */
	size_t n = ua->nrefusals;
	pb_sip_refused_item items[PB_SIP__REFUSALS];
	memcpy(items, ua->refusals, n * sizeof(items[0]));
	ua->nrefusals = 0;
	unsigned long dropped = ua->refusals_dropped;
	ua->refusals_dropped = 0;
	for (size_t i = 0; i < n; i++) {
		pb_sip_refusal r = { items[i].status, items[i].rule, &items[i].caller, 1 };
		if (i == n - 1) { /* the ones that found the queue full: like the last one */
			r.count += dropped;
			dropped = 0;
		}
		if (ua->refused_cb)
			ua->refused_cb(&r, ua->refused_ud);
		su_home_unref(items[i].home);
	}
	if (dropped && ua->refused_cb) {
		/* every slot failed to allocate: a report with what is known */
		pb_sip_caller c = { 0 };
		pb_sip_refusal r = { 500, "internal-error", &c, dropped };
		ua->refused_cb(&r, ua->refused_ud);
	}
	ua->delivering = false;
}

void pb_sip__refused_clear(pb_sip *ua)
{
	for (size_t i = 0; i < ua->nrefusals; i++)
		su_home_unref(ua->refusals[i].home);
	ua->nrefusals = 0;
	ua->refusals_dropped = 0;
}

PB_API void pb_sip_set_refused_handler(pb_sip *ua, pb_sip_refused_cb cb, void *userdata)
{
	if (!ua)
		return;
	ua->refused_cb = cb;
	ua->refused_ud = userdata;
	if (!cb)
		pb_sip__refused_clear(ua);
}
