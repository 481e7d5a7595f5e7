// C side of package audio. Every function returns 0 or a negative AVERROR code; the Go side
// turns codes into errors with context. Nothing here keeps a pointer to Go memory.
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <libavutil/dict.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include "transcode.h"

void st_quiet(void) { av_log_set_level(AV_LOG_QUIET); }

// thread_ns is the CPU time of the calling thread. A cgo call runs on one thread from start to
// end, so the difference across a call is the CPU time of that call alone.
static int64_t thread_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// append_packet copies an encoded packet into the result buffers of the current call.
static int append_packet(st_transcoder *t, const AVPacket *p) {
	if (t->out_len + p->size > t->out_cap) {
		int64_t cap = t->out_cap ? t->out_cap : 4096;
		while (cap < t->out_len + p->size) cap *= 2;
		uint8_t *b = av_realloc(t->out, cap);
		if (!b) return AVERROR(ENOMEM);
		t->out = b;
		t->out_cap = cap;
	}
	if (t->npkts == t->pkts_cap) {
		int cap = t->pkts_cap ? t->pkts_cap * 2 : 16;
		st_packet *q = av_realloc_array(t->pkts, cap, sizeof(*q));
		if (!q) return AVERROR(ENOMEM);
		t->pkts = q;
		t->pkts_cap = cap;
	}
	st_packet *d = &t->pkts[t->npkts++];
	d->pts = p->pts;
	d->duration = p->duration;
	d->offset = t->out_len;
	d->size = p->size;
	memcpy(t->out + t->out_len, p->data, p->size);
	t->out_len += p->size;
	return 0;
}

// drain_encoder collects every packet the encoder has ready.
static int drain_encoder(st_transcoder *t) {
	for (;;) {
		int ret = avcodec_receive_packet(t->enc, t->out_pkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
		if (ret < 0) return ret;
		ret = append_packet(t, t->out_pkt);
		av_packet_unref(t->out_pkt);
		if (ret < 0) return ret;
	}
}

// encode_ready hands every whole frame in the FIFO to the encoder; with final, also the
// short remainder followed by the end-of-stream signal.
static int encode_ready(st_transcoder *t, int final) {
	int ret;
	for (;;) {
		int n = av_audio_fifo_size(t->fifo);
		if (n == 0 || (n < t->frame_size && !final)) break;
		if (n > t->frame_size) n = t->frame_size;
		t->enc_frame->nb_samples = t->frame_size; // make_writable reallocates at this size
		if ((ret = av_frame_make_writable(t->enc_frame)) < 0) return ret;
		t->enc_frame->nb_samples = n;
		if (av_audio_fifo_read(t->fifo, (void **)t->enc_frame->extended_data, n) < n) return AVERROR_BUG;
		t->enc_frame->pts = t->next_pts;
		t->next_pts += n;
		if ((ret = avcodec_send_frame(t->enc, t->enc_frame)) < 0) return ret;
		if ((ret = drain_encoder(t)) < 0) return ret;
	}
	if (final) {
		if ((ret = avcodec_send_frame(t->enc, NULL)) < 0) return ret;
		return drain_encoder(t);
	}
	return 0;
}

// resample converts n input samples (in == NULL: drain the resampler) into the FIFO and
// encodes what is whole.
static int resample(st_transcoder *t, const uint8_t **in, int n) {
	int cap = swr_get_out_samples(t->swr, n);
	if (cap < 0) return cap;
	if (cap == 0) return 0;
	if (cap > t->conv_cap) {
		if (t->conv) av_freep(&t->conv[0]);
		av_freep(&t->conv);
		t->conv_cap = 0;
		int ret = av_samples_alloc_array_and_samples(&t->conv, NULL, t->enc->ch_layout.nb_channels, cap,
		                                             t->enc->sample_fmt, 0);
		if (ret < 0) return ret;
		t->conv_cap = cap;
	}
	int got = swr_convert(t->swr, t->conv, t->conv_cap, in, n);
	if (got < 0) return got;
	if (got > 0 && av_audio_fifo_write(t->fifo, (void **)t->conv, got) < got) return AVERROR(ENOMEM);
	return encode_ready(t, 0);
}

// drop_resampler drains the resampler's delayed samples into the FIFO and frees it.
static int drop_resampler(st_transcoder *t) {
	int ret = 0;
	if (t->swr) ret = resample(t, NULL, 0);
	swr_free(&t->swr);
	av_channel_layout_uninit(&t->swr_layout);
	return ret;
}

// setup_resampler makes t->swr match the format of frame f.
static int setup_resampler(st_transcoder *t, const AVFrame *f) {
	AVChannelLayout in = {0};
	int ret;
	if (f->ch_layout.order == AV_CHANNEL_ORDER_NATIVE) {
		if ((ret = av_channel_layout_copy(&in, &f->ch_layout)) < 0) return ret;
	} else {
		av_channel_layout_default(&in, f->ch_layout.nb_channels);
	}
	if (t->swr && t->swr_rate == f->sample_rate && t->swr_fmt == f->format &&
	    av_channel_layout_compare(&t->swr_layout, &in) == 0) {
		av_channel_layout_uninit(&in);
		return 0;
	}
	if ((ret = drop_resampler(t)) < 0) goto done;
	ret = swr_alloc_set_opts2(&t->swr, &t->enc->ch_layout, t->enc->sample_fmt, t->enc->sample_rate, &in,
	                          f->format, f->sample_rate, 0, NULL);
	if (ret < 0) goto done;
	if ((ret = swr_init(t->swr)) < 0) {
		swr_free(&t->swr);
		goto done;
	}
	t->swr_rate = f->sample_rate;
	t->swr_fmt = f->format;
	ret = av_channel_layout_copy(&t->swr_layout, &in);
done:
	av_channel_layout_uninit(&in);
	return ret;
}

// fill_silence appends n output samples of silence (after draining the resampler, so the
// silence follows all audio decoded so far); with align it then pads to a frame boundary.
static int fill_silence(st_transcoder *t, int64_t n, int align) {
	int ret = drop_resampler(t);
	if (ret < 0) return ret;
	if (align) {
		int64_t end = t->next_pts + av_audio_fifo_size(t->fifo) + n;
		int64_t rem = end % t->frame_size;
		if (rem < 0) rem += t->frame_size;
		if (rem) n += t->frame_size - rem;
	}
	while (n > 0) {
		int k = n < t->frame_size ? (int)n : t->frame_size;
		if (av_audio_fifo_write(t->fifo, (void **)t->zero, k) < k) return AVERROR(ENOMEM);
		n -= k;
		if ((ret = encode_ready(t, 0)) < 0) return ret;
	}
	t->gap_pos = t->next_pts + av_audio_fifo_size(t->fifo);
	return 0;
}

static int decode(st_transcoder *t, const uint8_t *data, int size, int64_t silence, int align);

// st_decode decodes one packet and encodes what it can. silence (output samples) and align
// are applied just before the first decoded frame, so a packet that fails to decode changes
// nothing. Results are appended to t->out / t->pkts; t->decoded counts the decoded samples.
int st_decode(st_transcoder *t, const uint8_t *data, int size, int64_t silence, int align) {
	int64_t start = thread_ns();
	int ret = decode(t, data, size, silence, align);
	t->cpu_ns += thread_ns() - start;
	return ret;
}

static int decode(st_transcoder *t, const uint8_t *data, int size, int64_t silence, int align) {
	int ret;
	t->decoded = 0;
	t->gap_done = 0;
	t->in_pkt->data = (uint8_t *)data; // not reference counted: send_packet copies it
	t->in_pkt->size = size;
	ret = avcodec_send_packet(t->dec, t->in_pkt);
	t->in_pkt->data = NULL;
	t->in_pkt->size = 0;
	if (ret < 0) return ret;
	for (;;) {
		ret = avcodec_receive_frame(t->dec, t->dec_frame);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
		if (ret < 0) return ret;
		if (t->dec_frame->nb_samples > 0) {
			if (!t->gap_done && (silence > 0 || align)) {
				if ((ret = fill_silence(t, silence, align)) < 0) goto fail;
				t->gap_done = 1;
			}
			if ((ret = setup_resampler(t, t->dec_frame)) < 0) goto fail;
			if ((ret = resample(t, (const uint8_t **)t->dec_frame->extended_data, t->dec_frame->nb_samples)) < 0)
				goto fail;
			t->decoded += t->dec_frame->nb_samples;
			t->decoded_rate = t->dec_frame->sample_rate;
		}
		av_frame_unref(t->dec_frame);
	}
fail:
	av_frame_unref(t->dec_frame);
	return ret;
}

// st_flush drains the resampler, encodes the remaining samples and drains the encoder.
int st_flush(st_transcoder *t) {
	int64_t start = thread_ns();
	int ret = drop_resampler(t);
	if (ret >= 0) ret = encode_ready(t, 1);
	t->cpu_ns += thread_ns() - start;
	return ret;
}

void st_close(st_transcoder *t) {
	if (!t) return;
	avcodec_free_context(&t->dec);
	avcodec_free_context(&t->enc);
	swr_free(&t->swr);
	av_channel_layout_uninit(&t->swr_layout);
	av_audio_fifo_free(t->fifo);
	av_packet_free(&t->in_pkt);
	av_packet_free(&t->out_pkt);
	av_frame_free(&t->dec_frame);
	av_frame_free(&t->enc_frame);
	if (t->conv) av_freep(&t->conv[0]);
	av_freep(&t->conv);
	if (t->zero) av_freep(&t->zero[0]);
	av_freep(&t->zero);
	av_freep(&t->out);
	av_freep(&t->pkts);
	av_free(t);
}

#define FAIL(code, ...)                              \
	do {                                             \
		snprintf(err, errlen, __VA_ARGS__);          \
		if ((code) < 0) {                            \
			size_t l = strlen(err);                  \
			snprintf(err + l, errlen - l, ": ");     \
			l = strlen(err);                         \
			av_strerror((code), err + l, errlen - l); \
		}                                            \
		st_close(t);                                 \
		return NULL;                                 \
	} while (0)

// st_open builds the decoder for in_codec (extra: its extradata), the encoder named encoder
// at out_rate/out_channels (0: the decoder's) with the private options enc_opts
// ("key=value:key=value", may be empty; an option the encoder does not know is an error), and
// the FIFO. The resampler waits for the first decoded frame. On failure it returns NULL with a
// message in err.
st_transcoder *st_open(int in_codec, int in_rate, int in_channels, const uint8_t *extra, int extra_len,
                       const char *encoder, const char *enc_opts, int out_rate, int out_channels, int64_t bit_rate,
                       int vorbis_quality, char *err, int errlen) {
	int ret;
	st_transcoder *t = av_mallocz(sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}

	const AVCodec *dc = avcodec_find_decoder(in_codec);
	if (!dc) FAIL(0, "no decoder for %s", avcodec_get_name(in_codec));
	if (!(t->dec = avcodec_alloc_context3(dc))) FAIL(AVERROR(ENOMEM), "decoder");
	t->dec->thread_count = 1;
	if (in_rate > 0) t->dec->sample_rate = in_rate;
	if (in_channels > 0) av_channel_layout_default(&t->dec->ch_layout, in_channels);
	if (extra_len > 0) {
		if (!(t->dec->extradata = av_mallocz(extra_len + AV_INPUT_BUFFER_PADDING_SIZE)))
			FAIL(AVERROR(ENOMEM), "decoder config");
		memcpy(t->dec->extradata, extra, extra_len);
		t->dec->extradata_size = extra_len;
	}
	if ((ret = avcodec_open2(t->dec, dc, NULL)) < 0) FAIL(ret, "open %s decoder", dc->name);

	const AVCodec *ec = avcodec_find_encoder_by_name(encoder);
	if (!ec) FAIL(0, "no %s encoder in this libavcodec", encoder);
	if (out_rate <= 0) out_rate = t->dec->sample_rate;
	if (out_channels <= 0) out_channels = t->dec->ch_layout.nb_channels;
	if (out_rate <= 0 || out_channels <= 0) FAIL(0, "input rate/channels unknown: give them in the track");
	if (ec->supported_samplerates) {
		const int *r = ec->supported_samplerates;
		while (*r && *r != out_rate) r++;
		if (!*r) FAIL(0, "%s encoder does not support %d Hz", ec->name, out_rate);
	}
	if (!(t->enc = avcodec_alloc_context3(ec))) FAIL(AVERROR(ENOMEM), "encoder");
	t->enc->thread_count = 1;
	t->enc->sample_rate = out_rate;
	t->enc->time_base = (AVRational){1, out_rate};
	av_channel_layout_default(&t->enc->ch_layout, out_channels);
	t->enc->sample_fmt = ec->sample_fmts ? ec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
	t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER; // AudioSpecificConfig / Vorbis headers in extradata
	if (bit_rate > 0) t->enc->bit_rate = bit_rate;
	if (vorbis_quality > 0) {
		t->enc->flags |= AV_CODEC_FLAG_QSCALE;
		t->enc->global_quality = vorbis_quality * FF_QP2LAMBDA;
	}
	AVDictionary *opts = NULL;
	if (enc_opts && *enc_opts && (ret = av_dict_parse_string(&opts, enc_opts, "=", ":", 0)) < 0) {
		av_dict_free(&opts);
		FAIL(ret, "encoder options \"%s\"", enc_opts);
	}
	ret = avcodec_open2(t->enc, ec, &opts);
	const AVDictionaryEntry *unknown = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
	if (ret >= 0 && unknown) {
		snprintf(err, errlen, "%s encoder has no option %s", ec->name, unknown->key);
		av_dict_free(&opts);
		st_close(t);
		return NULL;
	}
	av_dict_free(&opts);
	if (ret < 0) FAIL(ret, "open %s encoder (%d Hz, %d ch)", ec->name, out_rate, out_channels);
	t->frame_size = t->enc->frame_size > 0 ? t->enc->frame_size : 1024;

	if (!(t->fifo = av_audio_fifo_alloc(t->enc->sample_fmt, out_channels, 4 * t->frame_size)))
		FAIL(AVERROR(ENOMEM), "fifo");
	if (!(t->in_pkt = av_packet_alloc()) || !(t->out_pkt = av_packet_alloc())) FAIL(AVERROR(ENOMEM), "packet");
	if (!(t->dec_frame = av_frame_alloc()) || !(t->enc_frame = av_frame_alloc())) FAIL(AVERROR(ENOMEM), "frame");
	t->enc_frame->format = t->enc->sample_fmt;
	t->enc_frame->sample_rate = out_rate;
	t->enc_frame->nb_samples = t->frame_size;
	if ((ret = av_channel_layout_copy(&t->enc_frame->ch_layout, &t->enc->ch_layout)) < 0) FAIL(ret, "frame");
	if ((ret = av_frame_get_buffer(t->enc_frame, 0)) < 0) FAIL(ret, "frame buffer");
	if ((ret = av_samples_alloc_array_and_samples(&t->zero, NULL, out_channels, t->frame_size, t->enc->sample_fmt, 0)) < 0)
		FAIL(ret, "silence buffer");
	av_samples_set_silence(t->zero, 0, t->frame_size, out_channels, t->enc->sample_fmt);
	return t;
}
