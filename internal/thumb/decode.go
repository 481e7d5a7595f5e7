// Package thumb makes a recording's thumbnail: its first video keyframe, decoded in-process by
// FFmpeg's libavcodec (the library the audio transcoder links), scaled down and encoded as a
// JPEG by Go's image/jpeg. No program is run.
package thumb

/*
#cgo pkg-config: libavcodec libavutil
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libavutil/pixfmt.h>
#include <stdlib.h>
#include <string.h>

// decode_key decodes one packet (a keyframe) with the decoder of codec and returns the picture's
// planes in *y, *u, *v (malloc'd: the caller frees them), 8-bit 4:2:0. It returns 0, or a
// negative AVERROR, or -1000 for a picture of another pixel format.
static int decode_key(int codec, const uint8_t *extra, int extra_len, const uint8_t *pkt, int pkt_len,
                      uint8_t **y, uint8_t **u, uint8_t **v, int *w, int *h) {
	const AVCodec *c = avcodec_find_decoder(codec);
	if (!c) return AVERROR_DECODER_NOT_FOUND;
	AVCodecContext *ctx = avcodec_alloc_context3(c);
	if (!ctx) return AVERROR(ENOMEM);
	int ret = 0;
	AVPacket *p = NULL;
	AVFrame *f = NULL;
	ctx->thread_count = 1;
	if (extra_len > 0) {
		ctx->extradata = av_mallocz(extra_len + AV_INPUT_BUFFER_PADDING_SIZE);
		if (!ctx->extradata) { ret = AVERROR(ENOMEM); goto out; }
		memcpy(ctx->extradata, extra, extra_len);
		ctx->extradata_size = extra_len;
	}
	if ((ret = avcodec_open2(ctx, c, NULL)) < 0) goto out;
	p = av_packet_alloc();
	f = av_frame_alloc();
	if (!p || !f) { ret = AVERROR(ENOMEM); goto out; }
	if ((ret = av_new_packet(p, pkt_len)) < 0) goto out;
	memcpy(p->data, pkt, pkt_len);
	p->flags = AV_PKT_FLAG_KEY;
	if ((ret = avcodec_send_packet(ctx, p)) < 0) goto out;
	avcodec_send_packet(ctx, NULL); // flush: the one picture comes out now
	if ((ret = avcodec_receive_frame(ctx, f)) < 0) goto out;
	if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P) { ret = -1000; goto out; }
	*w = f->width;
	*h = f->height;
	int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	*y = malloc((size_t)f->width * f->height);
	*u = malloc((size_t)cw * ch);
	*v = malloc((size_t)cw * ch);
	if (!*y || !*u || !*v) { free(*y); free(*u); free(*v); ret = AVERROR(ENOMEM); goto out; }
	for (int r = 0; r < f->height; r++) memcpy(*y + (size_t)r * f->width, f->data[0] + (size_t)r * f->linesize[0], f->width);
	for (int r = 0; r < ch; r++) {
		memcpy(*u + (size_t)r * cw, f->data[1] + (size_t)r * f->linesize[1], cw);
		memcpy(*v + (size_t)r * cw, f->data[2] + (size_t)r * f->linesize[2], cw);
	}
	ret = 0;
out:
	av_frame_free(&f);
	av_packet_free(&p);
	avcodec_free_context(&ctx);
	return ret;
}

static int codec_h264(void) { return AV_CODEC_ID_H264; }
static int codec_vp8(void) { return AV_CODEC_ID_VP8; }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// maxPixels bounds the picture decoded (8K).
const maxPixels = 7680 * 4320

// decode decodes one keyframe of codec ("H264" with its avcC as config, or "VP8") into a
// 4:2:0 picture.
func decode(codec string, config, data []byte) (*image.YCbCr, error) {
	var id C.int
	switch codec {
	case "H264":
		id = C.codec_h264()
	case "VP8":
		id = C.codec_vp8()
	default:
		return nil, fmt.Errorf("thumb: codec %q not decoded", codec)
	}
	if len(data) == 0 {
		return nil, errors.New("thumb: empty keyframe")
	}
	var extra *C.uint8_t
	if len(config) > 0 {
		extra = (*C.uint8_t)(C.CBytes(config))
		defer C.free(unsafe.Pointer(extra))
	}
	pkt := (*C.uint8_t)(C.CBytes(data))
	defer C.free(unsafe.Pointer(pkt))
	var y, u, v *C.uint8_t
	var w, h C.int
	ret := C.decode_key(id, extra, C.int(len(config)), pkt, C.int(len(data)), &y, &u, &v, &w, &h)
	if ret == -1000 {
		return nil, errors.New("thumb: the picture is not 8-bit 4:2:0")
	}
	if ret < 0 {
		return nil, fmt.Errorf("thumb: decode %s: error %d", codec, int(ret))
	}
	defer C.free(unsafe.Pointer(y))
	defer C.free(unsafe.Pointer(u))
	defer C.free(unsafe.Pointer(v))
	width, height := int(w), int(h)
	if width <= 0 || height <= 0 || width*height > maxPixels {
		return nil, fmt.Errorf("thumb: picture of %d×%d", width, height)
	}
	cw, ch := (width+1)/2, (height+1)/2
	img := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	copy(img.Y, C.GoBytes(unsafe.Pointer(y), C.int(width*height)))
	copy(img.Cb, C.GoBytes(unsafe.Pointer(u), C.int(cw*ch)))
	copy(img.Cr, C.GoBytes(unsafe.Pointer(v), C.int(cw*ch)))
	return img, nil
}
