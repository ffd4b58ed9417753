/*
 * libphonebridge — umbrella header: include this one.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     #include <phonebridge/phonebridge.h>
 *
 * Headers under phonebridge/sys/ are for people who write backends and
 * challenges; they are not included here.
 */
#ifndef PHONEBRIDGE_H
#define PHONEBRIDGE_H

#include <phonebridge/common.h>
#include <phonebridge/version.h>
#include <phonebridge/library.h>
#include <phonebridge/error.h>
#include <phonebridge/alloc.h>
#include <phonebridge/log.h>
#include <phonebridge/buffer.h>
#include <phonebridge/encoding.h>
#include <phonebridge/charset.h>
#include <phonebridge/random.h>
#include <phonebridge/secret.h>
/* the modules, bottom layer first: the codec component */
#include <phonebridge/sms.h>
#include <phonebridge/wap.h>
#include <phonebridge/mms.h>
#include <phonebridge/phone.h>
/* the messaging component */
#if PB_HAVE_MESSAGING
#include <phonebridge/listener.h>
#include <phonebridge/modem.h>
#include <phonebridge/mmsc.h>
#include <phonebridge/matrix.h>
#include <phonebridge/matrix-crypto.h>
#include <phonebridge/store.h>
#endif
/* the voice component */
#if PB_HAVE_VOICE
#include <phonebridge/screen.h>
#include <phonebridge/media.h>
#include <phonebridge/sip.h>
#include <phonebridge/screener.h>
#endif

#endif
