/*
 * libphonebridge — WSP assigned numbers (WAP-230-WSP Appendix A and the OMNA
 * registries that continue it).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "wap/wap-internal.h"

/* Content types: WSP Table 40, continued by the OMNA "WSP Content Type
 * Codes" registry (0x3C onwards, and the 0x0201+ range). */
static const char *const content_types[] = {
	[0x00] = "*/*",
	[0x01] = "text/*",
	[0x02] = "text/html",
	[0x03] = "text/plain",
	[0x04] = "text/x-hdml",
	[0x05] = "text/x-ttml",
	[0x06] = "text/x-vCalendar",
	[0x07] = "text/x-vCard",
	[0x08] = "text/vnd.wap.wml",
	[0x09] = "text/vnd.wap.wmlscript",
	[0x0A] = "text/vnd.wap.wta-event",
	[0x0B] = "multipart/*",
	[0x0C] = "multipart/mixed",
	[0x0D] = "multipart/form-data",
	[0x0E] = "multipart/byteranges",
	[0x0F] = "multipart/alternative",
	[0x10] = "application/*",
	[0x11] = "application/java-vm",
	[0x12] = "application/x-www-form-urlencoded",
	[0x13] = "application/x-hdmlc",
	[0x14] = "application/vnd.wap.wmlc",
	[0x15] = "application/vnd.wap.wmlscriptc",
	[0x16] = "application/vnd.wap.wta-eventc",
	[0x17] = "application/vnd.wap.uaprof",
	[0x18] = "application/vnd.wap.wtls-ca-certificate",
	[0x19] = "application/vnd.wap.wtls-user-certificate",
	[0x1A] = "application/x-x509-ca-cert",
	[0x1B] = "application/x-x509-user-cert",
	[0x1C] = "image/*",
	[0x1D] = "image/gif",
	[0x1E] = "image/jpeg",
	[0x1F] = "image/tiff",
	[0x20] = "image/png",
	[0x21] = "image/vnd.wap.wbmp",
	[0x22] = "application/vnd.wap.multipart.*",
	[0x23] = "application/vnd.wap.multipart.mixed",
	[0x24] = "application/vnd.wap.multipart.form-data",
	[0x25] = "application/vnd.wap.multipart.byteranges",
	[0x26] = "application/vnd.wap.multipart.alternative",
	[0x27] = "application/xml",
	[0x28] = "text/xml",
	[0x29] = "application/vnd.wap.wbxml",
	[0x2A] = "application/x-x968-cross-cert",
	[0x2B] = "application/x-x968-ca-cert",
	[0x2C] = "application/x-x968-user-cert",
	[0x2D] = "text/vnd.wap.si",
	[0x2E] = "application/vnd.wap.sic",
	[0x2F] = "text/vnd.wap.sl",
	[0x30] = "application/vnd.wap.slc",
	[0x31] = "text/vnd.wap.co",
	[0x32] = "application/vnd.wap.coc",
	[0x33] = "application/vnd.wap.multipart.related",
	[0x34] = "application/vnd.wap.sia",
	[0x35] = "text/vnd.wap.connectivity-xml",
	[0x36] = "application/vnd.wap.connectivity-wbxml",
	[0x37] = "application/pkcs7-mime",
	[0x38] = "application/vnd.wap.hashed-certificate",
	[0x39] = "application/vnd.wap.signed-certificate",
	[0x3A] = "application/vnd.wap.cert-response",
	[0x3B] = "application/xhtml+xml",
	[0x3C] = "application/wml+xml",
	[0x3D] = "text/css",
	[0x3E] = "application/vnd.wap.mms-message",
	[0x3F] = "application/vnd.wap.rollover-certificate",
	[0x40] = "application/vnd.wap.locc+wbxml",
	[0x41] = "application/vnd.wap.loc+xml",
	[0x42] = "application/vnd.syncml.dm+wbxml",
	[0x43] = "application/vnd.syncml.dm+xml",
	[0x44] = "application/vnd.syncml.notification",
	[0x45] = "application/vnd.wap.xhtml+xml",
	[0x46] = "application/vnd.wv.csp.cir",
	[0x47] = "application/vnd.oma.dd+xml",
	[0x48] = "application/vnd.oma.drm.message",
	[0x49] = "application/vnd.oma.drm.content",
	[0x4A] = "application/vnd.oma.drm.rights+xml",
	[0x4B] = "application/vnd.oma.drm.rights+wbxml",
	[0x4C] = "application/vnd.wv.csp+xml",
	[0x4D] = "application/vnd.wv.csp+wbxml",
	[0x4E] = "application/vnd.syncml.ds.notification",
	[0x4F] = "audio/*",
	[0x50] = "video/*",
	[0x51] = "application/vnd.oma.dd2+xml",
	[0x52] = "application/mikey",
	[0x53] = "application/vnd.oma.dcd",
	[0x54] = "application/vnd.oma.dcdc",
};

/* The registry's second range, numbers above 0x7F (written as long integers). */
static const struct {
	unsigned int code;
	const char *name;
} content_types_ext[] = {
	{ 0x0201, "application/vnd.uplanet.cacheop-wbxml" },
	{ 0x0202, "application/vnd.uplanet.signal" },
	{ 0x0203, "application/vnd.uplanet.alert-wbxml" },
	{ 0x0204, "application/vnd.uplanet.list-wbxml" },
	{ 0x0205, "application/vnd.uplanet.listcmd-wbxml" },
	{ 0x0206, "application/vnd.uplanet.channel-wbxml" },
	{ 0x0207, "application/vnd.uplanet.provisioning-status-uri" },
	{ 0x0208, "x-wap.multipart/vnd.uplanet.header-set" },
	{ 0x0209, "application/vnd.uplanet.bearer-choice-wbxml" },
	{ 0x020A, "application/vnd.phonecom.mmc-wbxml" },
	{ 0x020B, "application/vnd.nokia.syncset+wbxml" },
	{ 0x020C, "image/x-up-wpng" },
	{ 0x0300, "application/iota.mmc-wbxml" },
	{ 0x0301, "application/iota.mmc-xml" },
	{ 0x0302, "application/vnd.syncml+xml" },
	{ 0x0303, "application/vnd.syncml+wbxml" },
	{ 0x0304, "text/vnd.wap.emn+xml" },
	{ 0x0305, "text/calendar" },
	{ 0x0306, "application/vnd.omads-email+xml" },
	{ 0x0307, "application/vnd.omads-file+xml" },
	{ 0x0308, "application/vnd.omads-folder+xml" },
	{ 0x0309, "text/directory;profile=vCard" },
	{ 0x030A, "application/vnd.wap.emn+wbxml" },
	{ 0x030B, "application/vnd.nokia.ipdc-purchase-response" },
	{ 0x030C, "application/vnd.motorola.screen3+xml" },
	{ 0x030D, "application/vnd.motorola.screen3+gzip" },
	{ 0x030E, "application/vnd.cmcc.setting+wbxml" },
	{ 0x030F, "application/vnd.cmcc.bombing+wbxml" },
	{ 0x0310, "application/vnd.docomo.pf" },
	{ 0x0311, "application/vnd.docomo.ub" },
	{ 0x0312, "application/vnd.omaloc-supl-init" },
	{ 0x0313, "application/vnd.oma.group-usage-list+xml" },
	{ 0x0314, "application/oma-directory+xml" },
	{ 0x0315, "application/vnd.docomo.pf2" },
	{ 0x0316, "application/vnd.oma.drm.roap-trigger+wbxml" },
	{ 0x0317, "application/vnd.sbm.mid2" },
	{ 0x0318, "application/vnd.wmf.bootstrap" },
	{ 0x0319, "application/vnc.cmcc.dcd+xml" },
	{ 0x031A, "application/vnd.sbm.cid" },
	{ 0x031B, "application/vnd.oma.bcast.provisioningtrigger" },
};

PB_API const char *pb_wsp_content_type_name(unsigned code)
{
	if (code < PB_ARRAY_SIZE(content_types))
		return content_types[code];
	for (size_t i = 0; i < PB_ARRAY_SIZE(content_types_ext); i++)
		if (content_types_ext[i].code == code)
			return content_types_ext[i].name;
	return NULL;
}

PB_API int pb_wsp_content_type_code(const char *name)
{
	if (!name)
		return pb_error_set(PB_EINVAL, "pb_wsp_content_type_code: NULL name");
	for (size_t i = 0; i < PB_ARRAY_SIZE(content_types); i++)
		if (content_types[i] && pb_ascii_casecmp(content_types[i], name) == 0)
			return (int)i;
	for (size_t i = 0; i < PB_ARRAY_SIZE(content_types_ext); i++)
		if (pb_ascii_casecmp(content_types_ext[i].name, name) == 0)
			return (int)content_types_ext[i].code;
	return PB_ENOTFOUND;
}

/* Header field names: WSP Table 39 (encoding versions 1.1-1.4). */
static const char *const header_names[] = {
	[0x00] = "Accept",
	[0x01] = "Accept-Charset",
	[0x02] = "Accept-Encoding",
	[0x03] = "Accept-Language",
	[0x04] = "Accept-Ranges",
	[0x05] = "Age",
	[0x06] = "Allow",
	[0x07] = "Authorization",
	[0x08] = "Cache-Control",
	[0x09] = "Connection",
	[0x0A] = "Content-Base",
	[0x0B] = "Content-Encoding",
	[0x0C] = "Content-Language",
	[0x0D] = "Content-Length",
	[0x0E] = "Content-Location",
	[0x0F] = "Content-MD5",
	[0x10] = "Content-Range",
	[0x11] = "Content-Type",
	[0x12] = "Date",
	[0x13] = "Etag",
	[0x14] = "Expires",
	[0x15] = "From",
	[0x16] = "Host",
	[0x17] = "If-Modified-Since",
	[0x18] = "If-Match",
	[0x19] = "If-None-Match",
	[0x1A] = "If-Range",
	[0x1B] = "If-Unmodified-Since",
	[0x1C] = "Location",
	[0x1D] = "Last-Modified",
	[0x1E] = "Max-Forwards",
	[0x1F] = "Pragma",
	[0x20] = "Proxy-Authenticate",
	[0x21] = "Proxy-Authorization",
	[0x22] = "Public",
	[0x23] = "Range",
	[0x24] = "Referer",
	[0x25] = "Retry-After",
	[0x26] = "Server",
	[0x27] = "Transfer-Encoding",
	[0x28] = "Upgrade",
	[0x29] = "User-Agent",
	[0x2A] = "Vary",
	[0x2B] = "Via",
	[0x2C] = "Warning",
	[0x2D] = "WWW-Authenticate",
	[0x2E] = "Content-Disposition",
	[0x2F] = "X-Wap-Application-Id",
	[0x30] = "X-Wap-Content-URI",
	[0x31] = "X-Wap-Initiator-URI",
	[0x32] = "Accept-Application",
	[0x33] = "Bearer-Indication",
	[0x34] = "Push-Flag",
	[0x35] = "Profile",
	[0x36] = "Profile-Diff",
	[0x37] = "Profile-Warning",
	[0x38] = "Expect",
	[0x39] = "TE",
	[0x3A] = "Trailer",
	[0x3B] = "Accept-Charset",
	[0x3C] = "Accept-Encoding",
	[0x3D] = "Cache-Control",
	[0x3E] = "Content-Range",
	[0x3F] = "X-Wap-Tod",
	[0x40] = "Content-ID",
	[0x41] = "Set-Cookie",
	[0x42] = "Cookie",
	[0x43] = "Encoding-Version",
	[0x44] = "Profile-Warning",
	[0x45] = "Content-Disposition",
	[0x46] = "X-WAP-Security",
	[0x47] = "Cache-Control",
};

const char *pb_wap__header_name(unsigned int field)
{
	return field < PB_ARRAY_SIZE(header_names) ? header_names[field] : NULL;
}

/* Does @s start with the lower-case ASCII @prefix of @n bytes, in any case? */
static inline bool prefix_ci(const char *s, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if ((uint8_t)(c - 'A') < 26)
			c |= 0x20;
		if (c != (uint8_t)prefix[i])
			return false;
	}
	return true;
}

bool pb_wap__is_multipart(const char *media_type)
{
	if (!media_type)
		return false;
	char c = (char)(media_type[0] | 0x20); /* most types fail here, at their first letter */
	return (c == 'm' && prefix_ci(media_type, "multipart/", 10)) ||
	       (c == 'a' && prefix_ci(media_type, "application/vnd.wap.multipart.", 30));
}

bool pb_wap__ct_is_multipart(const pb_wsp_content_type *ct)
{
	int code = ct->well_known;
	if (code >= 0 && code < 0x80) /* by its number: no string to compare */
		return (code >= 0x0B && code <= 0x0F) || (code >= 0x22 && code <= 0x26) || code == 0x33;
	return pb_wap__is_multipart(ct->media_type);
}
