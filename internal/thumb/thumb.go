package thumb

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamrec/streamrec/internal/mp4"
	"github.com/streamrec/streamrec/internal/webm"
)

// ErrNoVideo: the file has no video track to take a picture of (audio only).
var ErrNoVideo = errors.New("thumb: no video")

// ErrUnsupported: this package does not read that container (the caller may try another way).
var ErrUnsupported = errors.New("thumb: container not read in-process")

// Make returns a JPEG of the first video keyframe of the recording at path, width pixels wide
// (the height keeps the picture's aspect). It reads at most limit bytes into the file looking for
// that keyframe.
func Make(path string, width int, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	codec, config, data, err := keyframe(f, fi.Size(), strings.ToLower(filepath.Ext(path)), limit)
	if err != nil {
		return nil, err
	}
	pic, err := decode(codec, config, data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, scale(pic, width), &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("thumb: jpeg: %w", err)
	}
	return out.Bytes(), nil
}

// keyframe reads the first video keyframe of a recording by its container (ext): the codec, its
// decoder configuration and the frame as stored.
func keyframe(f *os.File, size int64, ext string, limit int64) (codec string, config, data []byte, err error) {
	switch ext {
	case ".mp4":
		s, err := mp4.FirstVideoSample(f, size, limit)
		return s.Codec, s.Config, s.Data, noVideo(err, mp4.ErrNoVideo)
	case ".webm":
		frame, err := webm.FirstVP8Keyframe(f, size, limit)
		return "VP8", nil, frame, noVideo(err, webm.ErrNoVideo)
	}
	return "", nil, nil, ErrUnsupported
}

// noVideo turns a container's "no video track" into ErrNoVideo.
func noVideo(err, none error) error {
	if errors.Is(err, none) {
		return ErrNoVideo
	}
	return err
}

// scale shrinks a picture to width pixels wide (never enlarges it), each pixel the mean of the
// source pixels it covers (a box filter: no aliasing of fine detail).
func scale(src *image.YCbCr, width int) *image.YCbCr {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	if width <= 0 || width >= sw {
		return src
	}
	height := max(2, (sh*width/sw+1)&^1)
	dst := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	box(dst.Y, dst.YStride, width, height, src.Y, src.YStride, sw, sh)
	cw, ch := (width+1)/2, (height+1)/2
	scw, sch := (sw+1)/2, (sh+1)/2
	box(dst.Cb, dst.CStride, cw, ch, src.Cb, src.CStride, scw, sch)
	box(dst.Cr, dst.CStride, cw, ch, src.Cr, src.CStride, scw, sch)
	return dst
}

// box fills a w×h plane with the means of the matching areas of a sw×sh plane.
func box(dst []byte, dstride, w, h int, src []byte, sstride, sw, sh int) {
	for y := range h {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			sum := 0
			for yy := y0; yy < y1; yy++ {
				row := src[yy*sstride:]
				for xx := x0; xx < x1; xx++ {
					sum += int(row[xx])
				}
			}
			dst[y*dstride+x] = byte(sum / ((y1 - y0) * (x1 - x0)))
		}
	}
}
