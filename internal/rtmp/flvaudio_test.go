package rtmp

import "testing"

func TestParseFLVAudioHeader(t *testing.T) {
	for _, c := range []struct {
		b            byte
		format, rate int
		channels     int
	}{
		{0x2f, flvSoundMP3, 44100, 2},      // MP3, 44 kHz, 16-bit, stereo
		{0x2a, flvSoundMP3, 22050, 1},      // MP3, 22 kHz, mono
		{0xb6, flvSoundSpeex, 16000, 1},    // ffmpeg writes Speex as 11 kHz bits: it is 16 kHz
		{0x42, flvSoundNelly16k, 16000, 1}, // fixed rate
		{0x52, flvSoundNelly8k, 8000, 1},
		{0x6e, flvSoundNelly, 44100, 1},
		{0x72, flvSoundALaw, 8000, 1}, // ffmpeg writes G.711 with 5.5 kHz bits
		{0x83, flvSoundMuLaw, 8000, 2},
		{0xe2, flvSoundMP3At8k, 8000, 1},
		{0xaf, flvSoundAAC, 44100, 2},
	} {
		h := parseFLVAudioHeader(c.b)
		if h.Format != c.format || h.SampleRate != c.rate || h.Channels != c.channels {
			t.Errorf("%#x: got %+v, want format %d %d Hz %d ch", c.b, h, c.format, c.rate, c.channels)
		}
	}
}

func TestParseMP3Header(t *testing.T) {
	for _, c := range []struct {
		hdr                  []byte
		rate, channels, size int
	}{
		{[]byte{0xff, 0xfb, 0x90, 0x64}, 44100, 2, 417}, // MPEG-1, 128 kbit/s, joint stereo
		{[]byte{0xff, 0xfb, 0x92, 0xc4}, 44100, 1, 418}, // padded, mono
		{[]byte{0xff, 0xfb, 0x94, 0x00}, 48000, 2, 384},
		{[]byte{0xff, 0xf3, 0x80, 0xc4}, 22050, 1, 208}, // MPEG-2, 64 kbit/s
		{[]byte{0xff, 0xe3, 0x18, 0xc4}, 8000, 1, 72},   // MPEG-2.5, 8 kbit/s
	} {
		h, err := parseMP3Header(c.hdr)
		if err != nil || h.SampleRate != c.rate || h.Channels != c.channels || h.Size != c.size {
			t.Errorf("% x: got %+v %v, want %d Hz %d ch %d bytes", c.hdr, h, err, c.rate, c.channels, c.size)
		}
	}
	for _, bad := range [][]byte{
		nil, {0xff, 0xfb, 0x90}, {0xfe, 0xfb, 0x90, 0x64},
		{0xff, 0xfd, 0x90, 0x64}, // layer II
		{0xff, 0xeb, 0x90, 0x64}, // reserved version
		{0xff, 0xfb, 0x0c, 0x64}, // free format, reserved rate
		{0xff, 0xfb, 0xf0, 0x64}, // bad bitrate
	} {
		if h, err := parseMP3Header(bad); err == nil {
			t.Errorf("% x: accepted as %+v", bad, h)
		}
	}
}

// FuzzParseMP3Header checks that no input panics and that a header accepted gives a sane frame.
func FuzzParseMP3Header(f *testing.F) {
	f.Add([]byte{0xff, 0xfb, 0x90, 0x64})
	f.Add([]byte{0xff, 0xe3, 0x18, 0xc4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseMP3Header(b)
		if err != nil {
			return
		}
		if h.Size < 4 || h.Size > 2000 || h.SampleRate < 8000 || h.SampleRate > 48000 || h.Channels < 1 || h.Channels > 2 {
			t.Fatalf("% x: %+v", b, h)
		}
		parseFLVAudioHeader(b[0])
	})
}
