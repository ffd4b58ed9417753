/*
 * libphonebridge — connectionless WSP push PDU (WAP-230-WSP §8.2.4.1,
 * WAP-235 Push OTA §7).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "wap/wap-internal.h"

#define WSP_PDU_PUSH 0x06
#define WSP_HDR_APP_ID 0x2F

/* X-Wap-Application-Id numbers (OMNA Push Application ID registry). */
static const char *const app_ids[] = {
	[0x00] = "x-wap-application:*",
	[0x01] = "x-wap-application:push.sia",
	[0x02] = "x-wap-application:wml.ua",
	[0x03] = "x-wap-application:wta.ua",
	[0x04] = "x-wap-application:mms.ua",
	[0x05] = "x-wap-application:push.syncml",
	[0x06] = "x-wap-application:loc.ua",
	[0x07] = "x-wap-application:syncml.dm",
	[0x08] = "x-wap-application:drm.ua",
	[0x09] = "x-wap-application:emn.ua",
	[0x0A] = "x-wap-application:wv.ua",
	[0x1A] = "x-wap-microsoft:localcontent.ua",
	[0x1B] = "x-wap-microsoft:IMclient.ua",
	[0x1C] = "x-wap-docomo:imode.mail.ua",
	[0x1D] = "x-wap-docomo:imode.mr.ua",
	[0x1E] = "x-wap-docomo:imode.mf.ua",
	[0x1F] = "x-motorola:location.ua",
	[0x20] = "x-motorola:now.ua",
	[0x21] = "x-motorola:otaprov.ua",
	[0x22] = "x-motorola:browser.ua",
	[0x23] = "x-motorola:splash.ua",
	[0x25] = "x-wap-nai:mvsw.command",
	[0x30] = "x-wap-openwave:iota.ua",
};

static const struct {
	const char *prefix;
	pb_wsp_push_kind kind;
} kinds[] = {
	{ "application/vnd.wap.mms-message", PB_WSP_PUSH_MMS },
	{ "text/vnd.wap.si", PB_WSP_PUSH_SI },
	{ "application/vnd.wap.sic", PB_WSP_PUSH_SI },
	{ "text/vnd.wap.sl", PB_WSP_PUSH_SL },
	{ "application/vnd.wap.slc", PB_WSP_PUSH_SL },
	{ "text/vnd.wap.co", PB_WSP_PUSH_CO },
	{ "application/vnd.wap.coc", PB_WSP_PUSH_CO },
	{ "application/vnd.wap.connectivity-wbxml", PB_WSP_PUSH_PROVISIONING },
	{ "text/vnd.wap.connectivity-xml", PB_WSP_PUSH_PROVISIONING },
	{ "application/vnd.syncml", PB_WSP_PUSH_SYNCML },
	{ "application/vnd.oma.drm", PB_WSP_PUSH_DRM },
	{ "application/vnd.wap.emn+wbxml", PB_WSP_PUSH_EMN },
	{ "text/vnd.wap.emn+xml", PB_WSP_PUSH_EMN },
};

static pb_wsp_push_kind kind_of(const char *media)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(kinds); i++)
		if (!pb_ascii_ncasecmp(media, kinds[i].prefix, strlen(kinds[i].prefix)))
			return kinds[i].kind;
	return PB_WSP_PUSH_OTHER;
}

PB_API const char *pb_wsp_push_kind_name(pb_wsp_push_kind kind)
{
	static const char *const names[] = {
		[PB_WSP_PUSH_OTHER] = "other", [PB_WSP_PUSH_MMS] = "mms",
		[PB_WSP_PUSH_SI] = "si", [PB_WSP_PUSH_SL] = "sl",
		[PB_WSP_PUSH_PROVISIONING] = "provisioning", [PB_WSP_PUSH_SYNCML] = "syncml",
		[PB_WSP_PUSH_DRM] = "drm", [PB_WSP_PUSH_CO] = "co", [PB_WSP_PUSH_EMN] = "emn",
	};
	return (unsigned)kind < PB_ARRAY_SIZE(names) && names[kind] ? names[kind] : "other";
}

/* X-Wap-Application-Id (WAP-235 §7.2.2.1): Uri-value | App-assigned-code. */
static int app_id(pb_wap__ctx *ctx, const pb_wsp_header *h, pb_wsp_push *push)
{
	pb_cur v = { h->value, h->value, h->value + h->value_len };
	if (h->text) {
		push->app_id_name = h->text;
		for (size_t i = 0; i < PB_ARRAY_SIZE(app_ids); i++)
			if (app_ids[i] && !pb_ascii_casecmp(app_ids[i], h->text))
				push->app_id = (int)i;
		return 0;
	}
	uint64_t code;
	int rc = pb_wap__integer(ctx, &v, &code);
	if (rc < 0)
		return rc;
	push->app_id = code <= 0xFFFF ? (int)code : -1;
	push->app_id_name = code < PB_ARRAY_SIZE(app_ids) ? app_ids[code] : NULL;
	if (!push->app_id_name) {
		char tmp[40];
		int n = snprintf(tmp, sizeof(tmp), "x-wap-application:0x%llx", (unsigned long long)code);
		if (!(push->app_id_name = pb_wap__strndup(ctx->arena, tmp, (size_t)n)))
			return PB_ENOMEM;
	}
	return 0;
}

int pb_wap__push_decode(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_push *push)
{
	uint32_t hlen;
	int rc;
	pb_cur h;
	push->app_id = -1;
	if (!pb_cur_u8(c, &push->tid))
		return pb_wap__fail(ctx, c, "push PDU is empty (no TID)");
	if (!pb_cur_peek(c, &push->pdu_type))
		return pb_wap__fail(ctx, c, "push PDU type missing");
	if (push->pdu_type != WSP_PDU_PUSH)
		return pb_wap__fail(ctx, c, "WSP PDU type 0x%02x is not a connectionless Push (0x06)",
				    push->pdu_type);
	c->p++;
	const uint8_t *at = c->p;
	if ((rc = pb_wap__uintvar(ctx, c, &hlen)) < 0)
		return rc;
	if (hlen == 0) {
		c->p = at;
		return pb_wap__fail(ctx, c, "push header length is 0 (no content type)");
	}
	if (!pb_cur_sub(c, hlen, &h)) {
		size_t left = pb_cur_left(c);
		c->p = at;
		return pb_wap__fail(ctx, c, "push headers of %u bytes beyond end of data (%zu left)",
				    (unsigned)hlen, left);
	}
	if ((rc = pb_wap__content_type(ctx, &h, &push->content_type)) < 0)
		return rc;
	pb_wsp_header *hdrs;
	if ((rc = pb_wap__headers(ctx, &h, &hdrs, &push->n_headers)) < 0)
		return rc;
	push->headers = hdrs;
	for (size_t i = 0; i < push->n_headers; i++)
		if (hdrs[i].field == WSP_HDR_APP_ID && push->app_id_name == NULL &&
		    (rc = app_id(ctx, &hdrs[i], push)) < 0)
			return rc;
	push->kind = kind_of(push->content_type.media_type);
	push->body = c->p;
	push->body_len = pb_cur_left(c);
	push->body_offset = pb_cur_offset(c);
	c->p = c->end;
	return 0;
}

PB_API int pb_wsp_push_decode(pb_wsp_push **out, const uint8_t *buf, size_t len,
			      pb_parse_error *perr)
{
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "pb_wsp_push_decode: NULL argument");
	*out = NULL;
	pb_wap__arena *arena;
	pb_wsp_push *push = pb_wap__arena_object(sizeof(*push), 512, &arena);
	if (!push)
		return PB_ENOMEM;
	pb_wap__ctx ctx = { arena, perr, 0 };
	pb_cur c = pb_wap__cur(buf, len);
	int rc = pb_wap__push_decode(&ctx, &c, push);
	if (rc < 0) {
		pb_wap__object_free(push, sizeof(*push));
		return rc;
	}
	*out = push;
	return 0;
}

PB_API void pb_wsp_push_free(pb_wsp_push *push)
{
	pb_wap__object_free(push, sizeof(*push));
}

PB_API int pb_wsp_push_encode(pb_buf *out, uint8_t tid, const char *content_type, int app_id_code,
			      const uint8_t *body, size_t body_len)
{
	if (!out || !content_type || (!body && body_len))
		return pb_error_set(PB_EINVAL, "pb_wsp_push_encode: NULL argument");
	pb_buf h = PB_BUF_INIT;
	int rc = pb_wap__put_content_type(&h, content_type, 0, NULL, NULL, NULL);
	if (!rc && app_id_code >= 0 && !(rc = pb_buf_putc(&h, 0x80 | WSP_HDR_APP_ID)))
		rc = pb_wap__put_integer(&h, (uint64_t)app_id_code);
	if (!rc && !(rc = pb_buf_putc(out, tid)) && !(rc = pb_buf_putc(out, WSP_PDU_PUSH)) &&
	    !(rc = pb_wsp_uintvar_encode(out, (uint32_t)h.len)) && !(rc = pb_buf_put(out, h.data, h.len)))
		rc = pb_buf_put(out, body, body_len);
	pb_buf_dispose(&h);
	return rc;
}
