// The small C side of package audio: one decoder, one resampler, one FIFO and one encoder
// behind a handful of calls, so that Go makes one cgo call per input frame.
#ifndef STREAMREC_AUDIO_TRANSCODE_H
#define STREAMREC_AUDIO_TRANSCODE_H

#include <stdint.h>
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

// One encoded packet of the last call; its bytes are out[offset : offset+size].
typedef struct {
	int64_t pts;      // encoder timeline, in output samples (may be negative: priming)
	int64_t duration; // output samples
	int64_t offset;
	int64_t size;
} st_packet;

typedef struct {
	AVCodecContext *dec, *enc;

	// swr converts the decoder's output to the encoder's format, rate and layout. It is built
	// for the first decoded frame and rebuilt whenever the decoded format changes or a gap
	// is filled (the old one is drained first).
	SwrContext *swr;
	int swr_rate, swr_fmt;
	AVChannelLayout swr_layout;

	AVAudioFifo *fifo;       // resampled samples waiting for a whole encoder frame
	AVPacket *in_pkt, *out_pkt;
	AVFrame *dec_frame, *enc_frame;
	uint8_t **conv;          // resampler output buffer, conv_cap samples per channel
	int conv_cap;
	uint8_t **zero;          // frame_size samples of silence in the encoder's format
	int frame_size;          // samples per encoder frame (AAC 1024, libvorbis 64)
	int64_t next_pts;        // encoder pts of the next sample handed to the encoder

	// Results of the last call, read (and reset) by Go.
	uint8_t *out;
	int64_t out_len, out_cap;
	st_packet *pkts;
	int npkts, pkts_cap;
	int64_t decoded;         // input samples decoded by the last st_decode
	int decoded_rate;        // their sample rate
	int gap_done;            // st_decode applied the requested silence/alignment
	int64_t gap_pos;         // encoder position right after that silence/alignment

	int64_t cpu_ns;          // CPU time of the calling thread spent in st_decode and st_flush so far
} st_transcoder;

st_transcoder *st_open(int in_codec, int in_rate, int in_channels, const uint8_t *extra, int extra_len,
                       const char *encoder, const char *enc_opts, int out_rate, int out_channels, int64_t bit_rate,
                       int vorbis_quality, char *err, int errlen);
int st_decode(st_transcoder *t, const uint8_t *data, int size, int64_t silence, int align);
int st_flush(st_transcoder *t);
void st_close(st_transcoder *t);
void st_quiet(void);

#endif
