package rtmp

import "fmt"

// FLV sound formats (video_file_format_spec_v10, E.4.2.1) other than AAC.
const (
	flvSoundADPCM       = 1
	flvSoundMP3         = 2
	flvSoundNelly16k    = 4
	flvSoundNelly8k     = 5
	flvSoundNelly       = 6
	flvSoundALaw        = 7
	flvSoundMuLaw       = 8
	flvSoundSpeex       = 11
	flvSoundMP3At8k     = 14
	flvSoundDeviceAudio = 15
)

// flvAudioHeader is what the first byte of an FLV audio tag says about its audio.
type flvAudioHeader struct {
	Format     int // sound format, E.4.2.1
	SampleRate int // Hz, as far as the header tells; MP3's real rate is in its frame header
	Channels   int
}

// flvRates are the SoundRate bits' rates (0: 5.5 kHz, 1: 11 kHz, 2: 22 kHz, 3: 44 kHz).
var flvRates = [4]int{5512, 11025, 22050, 44100}

// parseFLVAudioHeader reads an FLV audio tag's first byte. Some formats have fixed rates and
// channels whatever the bits say (Adobe's spec and what ffmpeg's flv demuxer does): Speex is
// 16 kHz mono, the Nellymoser 8/16 kHz variants and format 14 are mono at their rate, G.711 is
// 8 kHz.
func parseFLVAudioHeader(b byte) flvAudioHeader {
	h := flvAudioHeader{Format: int(b >> 4), SampleRate: flvRates[(b>>2)&3], Channels: int(b&1) + 1}
	switch h.Format {
	case flvSoundSpeex:
		h.SampleRate, h.Channels = 16000, 1
	case flvSoundNelly16k:
		h.SampleRate, h.Channels = 16000, 1
	case flvSoundNelly8k, flvSoundMP3At8k:
		h.SampleRate, h.Channels = 8000, 1
	case flvSoundALaw, flvSoundMuLaw:
		h.SampleRate = 8000
	}
	return h
}

// flvSoundName names a sound format for the publisher and the log.
func flvSoundName(format int) string {
	switch format {
	case 0, 3:
		return "Linear PCM"
	case flvSoundADPCM:
		return "ADPCM"
	case flvSoundMP3, flvSoundMP3At8k:
		return "MP3"
	case flvSoundNelly16k, flvSoundNelly8k, flvSoundNelly:
		return "Nellymoser"
	case flvSoundALaw:
		return "G.711 A-law"
	case flvSoundMuLaw:
		return "G.711 mu-law"
	case flvSoundAAC:
		return "AAC"
	case flvSoundSpeex:
		return "Speex"
	case flvSoundDeviceAudio:
		return "device-specific sound"
	}
	return fmt.Sprintf("sound format %d", format)
}

// mp3Header is what an MPEG audio frame header says.
type mp3Header struct {
	SampleRate int
	Channels   int
	Size       int // the frame's length in bytes, header included
}

var mp3Rates = [3]int{44100, 48000, 32000} // MPEG-1; MPEG-2 halves them, MPEG-2.5 quarters

// Bitrates in kbit/s by bitrate index, for MPEG-1 Layer III and MPEG-2/2.5 Layer III.
var (
	mp3Bitrates1 = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	mp3Bitrates2 = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
)

// parseMP3Header reads the 4-byte header of an MPEG-1/2/2.5 Layer III frame. Free-format and
// reserved values are refused: the frame length cannot be known from them.
func parseMP3Header(b []byte) (mp3Header, error) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return mp3Header{}, fmt.Errorf("no MPEG audio frame sync")
	}
	version, layer := (b[1]>>3)&3, (b[1]>>1)&3
	brIdx, srIdx, pad := b[2]>>4, (b[2]>>2)&3, int(b[2]>>1)&1
	if version == 1 || layer != 1 || srIdx == 3 || brIdx == 0 || brIdx == 15 {
		return mp3Header{}, fmt.Errorf("not an MPEG Layer III frame header: % x", b[:4])
	}
	h := mp3Header{SampleRate: mp3Rates[srIdx], Channels: 2}
	if b[3]>>6 == 3 {
		h.Channels = 1
	}
	if version == 3 { // MPEG-1: 1152 samples a frame
		h.Size = 144*mp3Bitrates1[brIdx]*1000/h.SampleRate + pad
		return h, nil
	}
	h.SampleRate /= 2 // MPEG-2: 576 samples a frame
	if version == 0 {
		h.SampleRate /= 2 // MPEG-2.5
	}
	h.Size = 72*mp3Bitrates2[brIdx]*1000/h.SampleRate + pad
	return h, nil
}
