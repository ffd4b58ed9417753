/*
 * libphonebridge — call media: RTP, G.711, DTMF (RFC 4733, SIP INFO,
 * in-band), prompts and playout.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * No loop and no threads: the host (pb-screend on its su_root loop) reads
 * datagrams (from a pb_rtp_socket, the one socket type here) and hands them
 * in, and every 20 ms asks for the next packet to send. docs/media.md shows
 * the loop.
 *
 *     pb_media_call *mc;
 *     pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
 *     o.prompts = set;
 *     pb_media_call_new(&mc, &o);
 *     pb_media_call_play(mc, names, n);
 *     every 20 ms:   pb_media_call_tick(mc, &pkt, &events);  send pkt
 *     on a datagram: pb_media_call_receive(mc, buf, len, digits, sizeof(digits), &nd);
 */
#ifndef PHONEBRIDGE_MEDIA_H
#define PHONEBRIDGE_MEDIA_H

#include <stdbool.h>

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

#define PB_MEDIA_RATE 8000   /**< samples per second: everything here is narrowband */
#define PB_MEDIA_FRAME 160   /**< samples in a 20 ms packet */

/** Audio codecs, by their static RTP payload type (RFC 3551). */
typedef enum pb_media_codec {
	PB_CODEC_PCMU = 0, /**< G.711 mu-law */
	PB_CODEC_PCMA = 8, /**< G.711 A-law */
} pb_media_codec;

/* --- G.711 (spandsp) ----------------------------------------------------------- */

/** Encode @p n linear samples to @p n G.711 bytes. @return 0, or PB_EINVAL for another codec */
PB_API int pb_g711_encode(pb_media_codec codec, uint8_t *out, const int16_t *in, size_t n);

/** Decode @p n G.711 bytes to @p n linear samples. @return 0, or PB_EINVAL for another codec */
PB_API int pb_g711_decode(pb_media_codec codec, int16_t *out, const uint8_t *in, size_t n);

/* --- RTP (RFC 3550) ------------------------------------------------------------ */

/** An RTP packet. Decoded packets point into the caller's buffer (zero copy). */
typedef struct pb_rtp_packet {
	bool marker;
	uint8_t payload_type;      /**< 0..127 */
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	uint8_t csrc_count;        /**< 0..15 */
	uint32_t csrc[15];
	bool extension;            /**< a header extension was present */
	uint16_t ext_profile;
	const uint8_t *ext_data;   /**< borrowed from the input; ext_len bytes */
	size_t ext_len;
	const uint8_t *payload;    /**< borrowed from the input (encode: from the caller) */
	size_t payload_len;        /**< without padding */
} pb_rtp_packet;

/**
 * Decode an RTP packet: version 2, CSRC list, header extension and padding
 * checked against the bytes that are there.
 *
 * @param out  filled in; its pointers borrow from @p buf
 * @param perr may be NULL
 * @return 0, or PB_EMALFORMED with the offset of the bad byte
 */
PB_API int pb_rtp_parse(pb_rtp_packet *out, const uint8_t *buf, size_t len, pb_parse_error *perr);

/** Append an RTP packet (header, CSRCs, extension, payload; no padding) to @p out.
 *  @return 0, PB_EINVAL (payload type > 127, csrc_count > 15, extension not a
 *  multiple of 4 bytes), PB_ENOMEM */
PB_API int pb_rtp_encode(pb_buf *out, const pb_rtp_packet *pkt);

/** The sending side of one RTP stream: sequence numbers, timestamps, SSRC. */
typedef struct pb_rtp_sender {
	uint32_t ssrc;
	uint16_t seq;        /**< of the next packet */
	uint32_t timestamp;  /**< of the next packet */
	uint8_t payload_type;
	bool started;        /**< the first packet (with the marker bit) went out */
} pb_rtp_sender;

/** Start a stream. RFC 3550 wants the three values random: see pb_rtp_sender_random(). */
PB_API void pb_rtp_sender_init(pb_rtp_sender *s, uint8_t payload_type, uint32_t ssrc,
			       uint16_t seq, uint32_t timestamp);

/** Start a stream with SSRC, sequence number and timestamp from getrandom(2). @return 0 or PB_EIO */
PB_API int pb_rtp_sender_random(pb_rtp_sender *s, uint8_t payload_type);

/**
 * Append the next packet carrying @p payload (borrowed) to @p out, then
 * advance the sequence number by one and the timestamp by @p samples. The
 * first packet of the stream, and any with @p marker, carry the marker bit.
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_rtp_sender_next(pb_rtp_sender *s, pb_buf *out, const uint8_t *payload, size_t len,
			      uint32_t samples, bool marker);

/** How the receiver classed a packet. */
typedef enum pb_rtp_rx_class {
	PB_RTP_RX_NEXT = 0,    /**< newer than anything before (maybe after a gap) */
	PB_RTP_RX_LATE,        /**< older than the newest, not seen before: reordered */
	PB_RTP_RX_DUPLICATE,   /**< seen before */
	PB_RTP_RX_TOO_OLD,     /**< too far behind to tell; dropped */
} pb_rtp_rx_class;

/** Counters of one received stream. */
typedef struct pb_rtp_rx_stats {
	uint64_t received;      /**< packets accepted (NEXT or LATE) */
	uint64_t lost;          /**< gaps not filled by late packets */
	uint64_t reordered;     /**< LATE packets */
	uint64_t duplicates;
	uint64_t too_old;
	uint64_t ssrc_changes;  /**< the sender's SSRC changed (a re-INVITE, a transfer) */
	uint64_t resyncs;       /**< the sequence jumped and the receiver followed */
} pb_rtp_rx_stats;

/** The receiving side of one RTP stream. Members are private; read pb_rtp_rx.stats. */
typedef struct pb_rtp_rx {
	pb_rtp_rx_stats stats;
	bool have;
	uint32_t ssrc;
	uint32_t max_seq;      /* extended (cycles << 16 | seq) */
	uint64_t window;       /* bit i: max_seq - i received */
	int32_t probation;     /* expected next seq of a restarting source; -1 none */
} pb_rtp_rx;

/** Reset a receiver (no packet seen). */
PB_API void pb_rtp_rx_init(pb_rtp_rx *rx);

/**
 * Account for a received packet. Tolerates loss, reordering (up to 63
 * packets), duplicates, a new SSRC (the receiver starts over) and a
 * sequence jump of a restarted source.
 *
 * @param gap if not NULL, receives the number of packets missing just before
 *            a PB_RTP_RX_NEXT packet (0 otherwise): the audio to conceal
 * @return a pb_rtp_rx_class
 */
PB_API pb_rtp_rx_class pb_rtp_rx_push(pb_rtp_rx *rx, const pb_rtp_packet *pkt, uint32_t *gap);

/* --- DTMF ------------------------------------------------------------------------ */

/** The digit of an RFC 4733 DTMF event (0-9 -> '0'-'9', 10 '*', 11 '#', 12-15 'A'-'D'), or 0. */
PB_API char pb_dtmf_event_digit(unsigned event);

/** The RFC 4733 event code of a digit, or -1. */
PB_API int pb_dtmf_digit_event(char digit);

/** One telephone-event payload (RFC 4733 section 2.3). */
typedef struct pb_rfc4733_event {
	uint8_t event;     /**< 0-255; 0-15 are DTMF */
	bool end;          /**< E bit */
	uint8_t volume;    /**< 0-63, -dBm0 */
	uint16_t duration; /**< in timestamp units (1/8000 s) */
} pb_rfc4733_event;

/**
 * Decode a telephone-event payload. Several events in one payload (RFC 4733
 * 2.5.1.5 redundancy) are allowed; the last one, the newest, is returned.
 * @return 0, or PB_EMALFORMED (length not a multiple of 4, or 0)
 */
PB_API int pb_rfc4733_parse(pb_rfc4733_event *out, const uint8_t *buf, size_t len,
			    pb_parse_error *perr);

/** Append a 4-byte telephone-event payload. @return 0, PB_EINVAL (volume > 63), PB_ENOMEM */
PB_API int pb_rfc4733_encode(pb_buf *out, const pb_rfc4733_event *ev);

/**
 * Turns telephone-event packets into digits, each once. An event is known
 * by its SSRC and RTP timestamp, not by sequence numbers: senders repeat the
 * end packet (sometimes with the same sequence number), and some (sipp's
 * pcaps) number their events apart from the audio stream. Members are private.
 */
typedef struct pb_rfc4733_rx {
	bool have;
	uint32_t ssrc, timestamp;
	uint8_t event;
	bool ended;
	uint16_t duration;
	uint64_t duplicates;   /**< packets of an event already reported */
} pb_rfc4733_rx;

/** Reset an RFC 4733 receiver. */
PB_API void pb_rfc4733_rx_init(pb_rfc4733_rx *rx);

/**
 * Feed a telephone-event packet (already parsed as RTP).
 * @param digit receives the digit when a new DTMF event starts
 * @return 1 for a new digit, 0 for nothing new (continuation, end,
 *         retransmission, a non-DTMF event), PB_EMALFORMED for a bad payload
 */
PB_API int pb_rfc4733_rx_push(pb_rfc4733_rx *rx, const pb_rtp_packet *pkt, char *digit,
			      pb_parse_error *perr);

/**
 * Read a SIP INFO DTMF body: application/dtmf-relay ("Signal=5\r\nDuration=160")
 * or application/dtmf ("5", or an event code "11").
 *
 * @param content_type borrowed; parameters after ';' are ignored
 * @param digit    receives '0'-'9', '*', '#', 'A'-'D'
 * @param duration_ms if not NULL, receives Duration (0 when absent)
 * @return 0; PB_EMALFORMED (no or bad Signal, bad Duration) with the offset
 *         in @p body; PB_EUNSUPPORTED for another content type or a non-DTMF
 *         signal (hook flash)
 */
PB_API int pb_dtmf_info_parse(const char *content_type, const uint8_t *body, size_t len,
			      char *digit, unsigned *duration_ms, pb_parse_error *perr);

/** In-band DTMF detector (spandsp's dtmf_rx, ITU-T Q.24 limits). Opaque. */
typedef struct pb_dtmf_detector pb_dtmf_detector;

/** @param out receives a new detector (pb_dtmf_detector_free()). @return 0 or PB_ENOMEM */
PB_API int pb_dtmf_detector_new(pb_dtmf_detector **out);

/** Free a detector. NULL is fine. */
PB_API void pb_dtmf_detector_free(pb_dtmf_detector *d);

/**
 * Run 8 kHz linear audio through the detector.
 * @param digits receives the digits recognised (not NUL-terminated), at most @p cap
 *               (more are kept for the next call)
 * @return the number of digits written
 */
PB_API size_t pb_dtmf_detector_feed(pb_dtmf_detector *d, const int16_t *samples, size_t n,
				    char *digits, size_t cap);

/** Tell the detector @p n samples were lost (so a tone does not seem to go on). */
PB_API void pb_dtmf_detector_skip(pb_dtmf_detector *d, size_t n);

/* --- prompts ---------------------------------------------------------------------- */

/** A prompt: 8 kHz mono linear samples. */
typedef struct pb_prompt {
	int16_t *samples; /**< owned by the prompt */
	size_t count;
} pb_prompt;

/**
 * Load a prompt with libsndfile: a WAV (or any container libsndfile reads)
 * holding 8 kHz mono 16-bit PCM, mu-law or A-law.
 *
 * @param path borrowed
 * @return 0; PB_EIO when the file cannot be read; PB_EUNSUPPORTED for another
 *         rate, channel count or encoding (the message names the file and what
 *         it holds, e.g. "x.wav: 44100 Hz, 2 channels: prompts must be 8000 Hz mono");
 *         PB_ETOOBIG past 10 minutes; PB_ENOMEM
 */
PB_API int pb_prompt_load(pb_prompt **out, const char *path);

/** A prompt holding a copy of @p n samples. @return 0, PB_EINVAL, PB_ENOMEM */
PB_API int pb_prompt_from_samples(pb_prompt **out, const int16_t *samples, size_t n);

/** Tones made with spandsp's tone generator. */
typedef enum pb_tone {
	PB_TONE_BEEP = 0,  /**< 1000 Hz, 250 ms */
	PB_TONE_SIT,       /**< special information tone: 913.8, 1370.6, 1776.7 Hz (ITU-T E.180) */
	PB_TONE_SILENCE,   /**< 500 ms of silence */
} pb_tone;

/** Make a tone prompt. @return 0, PB_EINVAL (unknown tone), PB_ENOMEM */
PB_API int pb_prompt_tone(pb_prompt **out, pb_tone tone);

/** Free a prompt. NULL is fine. */
PB_API void pb_prompt_free(pb_prompt *p);

/** Prompts by name. Opaque. */
typedef struct pb_prompt_set pb_prompt_set;

/** A set holding the tones "beep", "sit" and "silence". @return 0 or PB_ENOMEM */
PB_API int pb_prompt_set_new(pb_prompt_set **out);

/**
 * Load every prompt listed in @p dir/prompts.txt ("name: text" lines, '#'
 * comments) from @p dir/NAME.wav.
 * @return 0, or the first failure of pb_prompt_load() (nothing is added then);
 *         PB_EMALFORMED for a bad line of prompts.txt
 */
PB_API int pb_prompt_set_load_dir(pb_prompt_set *set, const char *dir);

/** Add (or replace) a prompt. @p prompt is stolen, also on failure. @return 0, PB_EINVAL, PB_ENOMEM */
PB_API int pb_prompt_set_add(pb_prompt_set *set, const char *name, pb_prompt *prompt);

/** @return borrowed (valid as long as @p set and the name is not replaced), or NULL */
PB_API const pb_prompt *pb_prompt_set_find(const pb_prompt_set *set, const char *name);

/** Number of prompts in the set. */
PB_API size_t pb_prompt_set_count(const pb_prompt_set *set);

/** Free a set and its prompts. NULL is fine. */
PB_API void pb_prompt_set_free(pb_prompt_set *set);

/** A queue of prompts played out sample by sample. Opaque. */
typedef struct pb_playout pb_playout;

/** @return 0 or PB_ENOMEM */
PB_API int pb_playout_new(pb_playout **out);

/** Free a playout queue. NULL is fine. */
PB_API void pb_playout_free(pb_playout *p);

/** Append a prompt (borrowed: it must live until played or cleared). @return 0 or PB_ETOOBIG (64 queued) */
PB_API int pb_playout_queue(pb_playout *p, const pb_prompt *prompt);

/** Drop everything queued. */
PB_API void pb_playout_clear(pb_playout *p);

/** True while something is queued. */
PB_API bool pb_playout_busy(const pb_playout *p);

/** Fill @p out with the next @p n samples, silence after the end. @return prompt samples written */
PB_API size_t pb_playout_read(pb_playout *p, int16_t *out, size_t n);

/* --- a call's media ----------------------------------------------------------------- */

/** Options of a call's media. */
typedef struct pb_media_call_options {
	unsigned version;             /**< PB_MEDIA_CALL_OPTIONS_VERSION */
	pb_media_codec codec;         /**< what we send */
	uint8_t event_payload_type;   /**< telephone-event PT from the SDP (96..127); 0: none */
	bool inband_dtmf;             /**< detect tones in the received audio */
	const pb_prompt_set *prompts; /**< borrowed: must outlive the call */
	bool random_start;            /**< SSRC, seq and timestamp from getrandom (RFC 3550) */
	uint32_t ssrc;                /**< used when random_start is false (tests) */
	uint16_t seq;
	uint32_t timestamp;
} pb_media_call_options;

#define PB_MEDIA_CALL_OPTIONS_VERSION 1u
#define PB_MEDIA_CALL_OPTIONS_INIT { PB_MEDIA_CALL_OPTIONS_VERSION, PB_CODEC_PCMU, 101, true, NULL, true, 0, 0, 0 }

/** The media of one call: playout, RTP out, RTP in, DTMF from every source. Opaque. */
typedef struct pb_media_call pb_media_call;

/** @param opts copied (the prompt set is borrowed). @return 0, PB_EINVAL, PB_EIO, PB_ENOMEM */
PB_API int pb_media_call_new(pb_media_call **out, const pb_media_call_options *opts);

/** Free a call's media. NULL is fine. */
PB_API void pb_media_call_free(pb_media_call *c);

/**
 * Queue prompts by name (the names a screening session asks for).
 * @return 0; PB_ENOTFOUND naming the first unknown prompt (nothing is queued);
 *         PB_ETOOBIG when the queue is full
 */
PB_API int pb_media_call_play(pb_media_call *c, const char *const *names, size_t n);

/** Stop playing and drop the queue. */
PB_API void pb_media_call_stop(pb_media_call *c);

/** True while prompts are queued. */
PB_API bool pb_media_call_playing(const pb_media_call *c);

/** Bits of pb_media_call_tick()'s @p events. */
#define PB_MEDIA_PROMPT_DONE 0x1u /**< the queue played out during this tick */

/**
 * Every 20 ms: append the next RTP packet (160 samples of prompt or
 * silence, encoded with the call's codec) to @p packet.
 * @param events receives PB_MEDIA_* bits; may be NULL
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_media_call_tick(pb_media_call *c, pb_buf *packet, unsigned *events);

/**
 * A datagram arrived on the call's RTP port. Telephone events become digits
 * (each once); G.711 audio goes to the in-band detector, which stops
 * listening once the caller has sent an RFC 4733 event (so a phone that
 * sends both is not heard twice). Audio goes to the detector in sequence
 * order through a reorder buffer of 60 ms; lost packets are concealed.
 * Other payload types are ignored.
 *
 * @param digits receives the digits found (not NUL-terminated), at most @p cap
 * @param n      receives how many
 * @return 0, or PB_EMALFORMED (the datagram is ignored) with @p perr filled
 */
PB_API int pb_media_call_receive(pb_media_call *c, const uint8_t *buf, size_t len,
				 char *digits, size_t cap, size_t *n, pb_parse_error *perr);

/** Counters of the received audio stream. @return borrowed; valid as long as @p c */
PB_API const pb_rtp_rx_stats *pb_media_call_stats(const pb_media_call *c);

/* --- a call leg's RTP socket -------------------------------------------------------- */

/**
 * One UDP socket for a call leg's RTP, bound on a numeric address within a
 * port range. The program's loop watches pb_rtp_socket_fd() for reading
 * and calls pb_rtp_socket_recv(); nothing here waits or runs a loop. The
 * SIP agent (phonebridge/sip.h) opens one per leg. Opaque.
 */
typedef struct pb_rtp_socket pb_rtp_socket;

/**
 * Open and bind one.
 * @param address   numeric IPv4 or IPv6 address (borrowed)
 * @param port_min, port_max  the range (even ports are used); 0, 0: a port the system chooses
 * @param next_port where to start looking within the range, advanced past
 *        the port taken (several sockets share one counter); may be NULL for 0, 0
 * @param out receives the socket (pb_rtp_socket_close())
 * @return 0; PB_EINVAL (not numeric, a bad range); PB_EIO (no free port); PB_ENOMEM
 */
PB_API int pb_rtp_socket_open(pb_rtp_socket **out, const char *address, unsigned port_min, unsigned port_max,
			      unsigned *next_port);

/** Close it. NULL is fine. */
PB_API void pb_rtp_socket_close(pb_rtp_socket *s);

/** The descriptor to watch for reading. @return borrowed: closed by pb_rtp_socket_close() */
PB_API int pb_rtp_socket_fd(const pb_rtp_socket *s);

/** The local port (for our SDP). */
PB_API uint16_t pb_rtp_socket_port(const pb_rtp_socket *s);

/**
 * Where RTP goes (the c= address and m= port of the other side's SDP).
 * @param address numeric (borrowed); NULL: nowhere (on hold: nothing is sent)
 * @return 0; PB_EINVAL (the address or port is not numeric or out of range)
 */
PB_API int pb_rtp_socket_set_remote(pb_rtp_socket *s, const char *address, unsigned port);

/** True once there is somewhere to send to. */
PB_API bool pb_rtp_socket_has_remote(const pb_rtp_socket *s);

/**
 * Send one whole RTP packet (our own stream: a later relay continues it).
 * @param packet borrowed
 * @return 0; PB_ESTATE without a remote; PB_EIO on a send error
 */
PB_API int pb_rtp_socket_send(pb_rtp_socket *s, const uint8_t *packet, size_t len);

/**
 * Read one datagram, without waiting.
 * @return its length; PB_EAGAIN when none is waiting; PB_EIO
 */
PB_API long pb_rtp_socket_recv(pb_rtp_socket *s, uint8_t *buf, size_t cap);

/** How a relayed packet's payload types map from one leg's negotiation to the other's (-1: none). */
typedef struct pb_rtp_relay_map {
	int from_codec_pt, from_event_pt;
	int to_codec_pt, to_event_pt;
} pb_rtp_relay_map;

/**
 * Relay a packet received on one leg to @p to (a B2BUA bridge): the codec
 * and telephone-event payload types are mapped, and the stream @p to
 * already receives (our prompts before the bridge) is continued — same
 * SSRC, sequence numbers and timestamps running on — because receivers drop
 * packets whose sequence numbers go back. @p p is rewritten in place.
 * @return 0 (nothing is sent while @p to has no remote); PB_EMALFORMED (not
 *         RTP version 2, or shorter than its header); PB_EIO
 */
PB_API int pb_rtp_socket_relay(pb_rtp_socket *to, uint8_t *p, size_t len, const pb_rtp_relay_map *map);
/**
 * Receives the caller's audio of a call (pb_media_call_set_audio_sink()):
 * @p n samples of 8 kHz 16-bit linear audio, borrowed for the call only.
 */
typedef void (*pb_media_audio_cb)(const int16_t *samples, size_t n, void *userdata);

/**
 * Hand the received audio of @p c, decoded, to @p cb from now on: in
 * sequence order (after the reorder buffer of pb_media_call_receive()),
 * 20 ms of silence for each lost packet (up to 1 s; a longer gap is a pause
 * and is not filled), whichever of PCMU and PCMA each packet holds. A
 * recorder (pb_recorder_feed()) is such a consumer. Called from inside
 * pb_media_call_receive(); @p cb NULL stops it.
 * @param userdata borrowed: must outlive the sink
 */
PB_API void pb_media_call_set_audio_sink(pb_media_call *c, pb_media_audio_cb cb, void *userdata);

/* --- recording ---------------------------------------------------------------------- */

/** Container and encoding of a recording (pb_recorder_options.format). */
typedef enum pb_recorder_format {
	PB_RECORDER_WAV = 0,  /**< RIFF WAVE, 8 kHz mono 16-bit PCM ("audio/wav") */
	PB_RECORDER_OPUS = 1, /**< Ogg Opus (RFC 7845) through libsndfile ("audio/ogg") */
} pb_recorder_format;

/** Why a recorder stopped taking audio (pb_recorder_feed(), pb_recorder_state()). */
typedef enum pb_recorder_status {
	PB_RECORDER_RECORDING = 0, /**< still taking audio */
	PB_RECORDER_FULL = 1,      /**< max_ms reached */
	PB_RECORDER_SILENCE = 2,   /**< silence_ms of unbroken silence */
} pb_recorder_status;

/** Options of a recorder. */
typedef struct pb_recorder_options {
	unsigned version;     /**< PB_RECORDER_OPTIONS_VERSION */
	unsigned max_ms;      /**< longest recording; 0 = 120000; at most 600000 */
	/** End after this much unbroken silence (also before anything was heard,
	 *  as a caller who says nothing); 0 = never on silence. */
	unsigned silence_ms;
	/** Below this level (dBm0, measured by spandsp's power meter) audio is
	 *  silence; 0 = -40. */
	int silence_dbm0;
	pb_recorder_format format; /**< the file written (pb_recorder_finish()) */
} pb_recorder_options;

#define PB_RECORDER_OPTIONS_VERSION 1u
#define PB_RECORDER_OPTIONS_INIT { PB_RECORDER_OPTIONS_VERSION, 120000, 5000, -40, PB_RECORDER_WAV }

/**
 * A recording of a call's received audio, encoded as it comes (so that the
 * end of a message costs its host next to nothing), into memory. Opaque.
 */
typedef struct pb_recorder pb_recorder;

/**
 * Make a recorder; the file is begun (libsndfile, into memory).
 * @param opts borrowed; copied
 * @return 0; PB_EINVAL (NULL, a bad version, max_ms over 600000, a level
 *         above 0 dBm0, an unknown format); PB_EUNSUPPORTED (this
 *         libsndfile cannot write Ogg Opus); PB_EIO (libsndfile failed:
 *         its message); PB_ENOMEM
 */
PB_API int pb_recorder_new(pb_recorder **out, const pb_recorder_options *opts);

/** Free a recorder. NULL is fine. */
PB_API void pb_recorder_free(pb_recorder *r);

/**
 * Append @p n samples (8 kHz linear), encoding them; silence is held back
 * until sound follows it (silence at the end is not kept beyond half a
 * second). Once the recorder has stopped (full, silence, or finished)
 * further audio is ignored.
 * @return the state after these samples: PB_RECORDER_RECORDING (0),
 *         PB_RECORDER_FULL or PB_RECORDER_SILENCE; PB_ENOMEM (the samples
 *         are dropped, the recording so far stays)
 */
PB_API int pb_recorder_feed(pb_recorder *r, const int16_t *samples, size_t n);

/** A pb_media_audio_cb that feeds the recorder given as @p userdata. */
PB_API void pb_recorder_sink(const int16_t *samples, size_t n, void *userdata);

/** @return the recorder's pb_recorder_status */
PB_API int pb_recorder_state(const pb_recorder *r);

/** True once any audio above the silence level was heard. */
PB_API bool pb_recorder_heard(const pb_recorder *r);

/**
 * Length of the recording in ms: the audio taken, less the silence at its
 * end beyond half a second (the silence that ended a recording, or the
 * caller's pause before hanging up, is not kept).
 */
PB_API uint64_t pb_recorder_duration_ms(const pb_recorder *r);

/**
 * End the recording (no more audio is taken) and append the whole file to
 * @p out. Once only.
 * @return 0; PB_ESTATE (finished already); PB_EIO (libsndfile failed: its
 *         message, or an earlier write failed); PB_EINVAL; PB_ENOMEM
 */
PB_API int pb_recorder_finish(pb_recorder *r, pb_buf *out);

/** "audio/wav" or "audio/ogg". @return static; NULL for an unknown format */
PB_API const char *pb_recorder_mimetype(pb_recorder_format format);

PB_END_DECLS

#endif
