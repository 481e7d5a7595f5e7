package mp4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/streamrec/streamrec/internal/media"
)

const (
	// movieTimescale is the mvhd timescale: tkhd, mvhd and mehd durations are in milliseconds.
	movieTimescale = 1000
	// videoTimescale is the mdhd timescale of the H.264 track.
	videoTimescale = 90000
	// aacFrameSamples is the number of (core-rate) PCM samples one AAC frame decodes to.
	aacFrameSamples = 1024
)

// trackConfig is what the fragment writer needs to know about one track.
type trackConfig struct {
	id        uint32
	video     bool
	timescale uint32
	// frameDur is the nominal duration of one audio frame in timescale units.
	frameDur uint32
}

// initSegment is the encoded ftyp+moov plus the positions of the duration fields that Close patches.
type initSegment struct {
	data []byte
	// offsets (relative to the start of data) of the 8-byte duration fields.
	mvhdDur  int
	mehdDur  int
	tkhdDurs []int // indexed like the tracks
}

// buildInit validates tracks and encodes the init segment. Duration fields are written as
// version-1 (64-bit) boxes holding zero so that Close can patch them in place.
func buildInit(tracks []media.Track, now time.Time) (*initSegment, []trackConfig, error) {
	if len(tracks) == 0 {
		return nil, nil, errors.New("mp4: no tracks")
	}
	var nVideo, nAudio int
	created := uint64(now.Unix() + mp4ff.EpochDiffS)

	moov := mp4ff.NewMoovBox()
	mvhd := mp4ff.CreateMvhd()
	mvhd.Version = 1
	mvhd.Timescale = movieTimescale
	mvhd.CreationTime = created
	mvhd.ModificationTime = created
	mvhd.NextTrackID = uint32(len(tracks) + 1)
	moov.AddChild(mvhd)

	mvex := mp4ff.NewMvexBox()
	mvex.AddChild(&mp4ff.MehdBox{Version: 1})

	cfgs := make([]trackConfig, len(tracks))
	for i := range tracks {
		tr := &tracks[i]
		id := uint32(i + 1)
		var (
			trak *mp4ff.TrakBox
			cfg  trackConfig
			err  error
		)
		switch {
		case tr.Kind == media.Video && tr.Codec == media.H264:
			nVideo++
			trak, err = videoTrak(id, tr)
			cfg = trackConfig{id: id, video: true, timescale: videoTimescale}
		case tr.Kind == media.Audio && tr.Codec == media.AAC:
			nAudio++
			trak, cfg, err = audioTrak(id, tr)
		default:
			return nil, nil, fmt.Errorf("mp4: track %d: unsupported %s codec %q", i, tr.Kind, tr.Codec)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mp4: track %d: %w", i, err)
		}
		trak.Tkhd.Version = 1
		trak.Tkhd.Flags = 0x000003 // enabled, in movie
		trak.Tkhd.CreationTime = created
		trak.Tkhd.ModificationTime = created
		trak.Mdia.Mdhd.CreationTime = created
		trak.Mdia.Mdhd.ModificationTime = created
		moov.AddChild(trak)
		trex := mp4ff.CreateTrex(id)
		mvex.AddChild(trex)
		cfgs[i] = cfg
	}
	if nVideo > 1 || nAudio > 1 {
		return nil, nil, fmt.Errorf("mp4: at most one video and one audio track (got %d video, %d audio)", nVideo, nAudio)
	}
	moov.AddChild(mvex)

	brands := []string{"iso6", "isom", "iso2", "mp41"}
	if nVideo > 0 {
		brands = append(brands, "avc1")
	}
	ftyp := mp4ff.NewFtyp("iso6", 0, brands)

	var buf bytes.Buffer
	if err := ftyp.Encode(&buf); err != nil {
		return nil, nil, fmt.Errorf("mp4: encode ftyp: %w", err)
	}
	if err := moov.Encode(&buf); err != nil {
		return nil, nil, fmt.Errorf("mp4: encode moov: %w", err)
	}
	seg := &initSegment{data: buf.Bytes()}
	if err := seg.locateDurations(len(tracks)); err != nil {
		return nil, nil, err
	}
	return seg, cfgs, nil
}

// videoTrak builds the trak for an H.264 track (avc1 sample entry with SPS/PPS in avcC).
func videoTrak(id uint32, tr *media.Track) (trak *mp4ff.TrakBox, err error) {
	if len(tr.SPS) == 0 || len(tr.SPS[0]) == 0 || len(tr.PPS) == 0 || len(tr.PPS[0]) == 0 {
		return nil, errors.New("H.264 track without SPS/PPS")
	}
	if len(tr.SPS) > 31 || len(tr.PPS) > 255 {
		return nil, fmt.Errorf("too many parameter sets (%d SPS, %d PPS)", len(tr.SPS), len(tr.PPS))
	}
	for _, ps := range append(append([][]byte(nil), tr.SPS...), tr.PPS...) {
		if len(ps) == 0 || len(ps) > 0xffff {
			return nil, fmt.Errorf("parameter set of invalid length %d", len(ps))
		}
	}
	// The SPS parser works on untrusted bytes; never let a malformed SPS take the process down.
	defer func() {
		if r := recover(); r != nil {
			trak, err = nil, fmt.Errorf("malformed SPS: %v", r)
		}
	}()
	sps, err := media.ParseSPS(tr.SPS[0])
	if err != nil {
		return nil, fmt.Errorf("parse SPS: %w", err)
	}
	avcC, err := mp4ff.CreateAvcC(tr.SPS, tr.PPS, true)
	if err != nil {
		return nil, err
	}
	avcC.ChromaFormat = sps.ChromaFormatIDC
	avcC.BitDepthLumaMinus1 = byte(sps.BitDepthLumaMinus8)     // field holds bit_depth_luma_minus8
	avcC.BitDepthChromaMinus1 = byte(sps.BitDepthChromaMinus8) // field holds bit_depth_chroma_minus8
	switch avcC.AVCProfileIndication {
	case 66, 77, 88, 100, 110, 122, 144:
	default:
		// mp4ff sizes the avcC with the 4 trailing chroma/bit-depth bytes for every profile past
		// Main but writes them only for these; for the rest (High 4:4:4 = 244, CAVLC 4:4:4 = 44,
		// ...) the box would be 4 bytes short of its header. Leave them out: decoders read the
		// same values from the SPS.
		avcC.NoTrailingInfo = true
	}

	// The SPS is authoritative for the picture size (it is what decoders output); the track's
	// Width/Height are only a fallback.
	codedW, codedH := int(sps.Width), int(sps.Height)
	if codedW <= 0 || codedH <= 0 || codedW > 0xffff || codedH > 0xffff {
		codedW, codedH = tr.Width, tr.Height
	}
	if codedW <= 0 || codedH <= 0 || codedW > 0xffff || codedH > 0xffff {
		return nil, fmt.Errorf("unknown or invalid picture size %dx%d", codedW, codedH)
	}
	dispW, dispH := codedW, codedH
	if vui := sps.VUI; vui != nil && vui.SampleAspectRatioWidth > 0 && vui.SampleAspectRatioHeight > 0 {
		// tkhd carries the display size: apply the sample aspect ratio.
		if w := codedW * int(vui.SampleAspectRatioWidth) / int(vui.SampleAspectRatioHeight); w > 0 && w <= 0xffff {
			dispW = w
		}
	}

	trak = mp4ff.CreateEmptyTrak(id, videoTimescale, "video", "und")
	trak.Mdia.Hdlr.Name = "VideoHandler"
	entry := mp4ff.CreateVisualSampleEntryBox("avc1", uint16(codedW), uint16(codedH), avcC)
	entry.CompressorName = "streamrec"
	trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	trak.Tkhd.Width = mp4ff.Fixed32(dispW << 16)
	trak.Tkhd.Height = mp4ff.Fixed32(dispH << 16)
	return trak, nil
}

// audioTrak builds the trak for an AAC track (mp4a sample entry with the AudioSpecificConfig in esds).
func audioTrak(id uint32, tr *media.Track) (trak *mp4ff.TrakBox, cfg trackConfig, err error) {
	defer func() {
		if r := recover(); r != nil {
			trak, err = nil, fmt.Errorf("malformed AudioSpecificConfig: %v", r)
		}
	}()
	sampleRate, channels := tr.SampleRate, tr.Channels
	asc := tr.Config
	var parsed *aac.AudioSpecificConfig
	if len(asc) > 0 {
		if p, perr := aac.DecodeAudioSpecificConfig(bytes.NewReader(asc)); perr == nil {
			parsed = p
		}
	} else {
		// No config from the source: synthesise an AAC-LC one from the stream parameters.
		if sampleRate <= 0 || channels <= 0 || channels > 7 {
			return nil, cfg, errors.New("AAC track without AudioSpecificConfig, sample rate or channel count")
		}
		p := &aac.AudioSpecificConfig{ObjectType: aac.AAClc, ChannelConfiguration: byte(channels), SamplingFrequency: sampleRate}
		var b bytes.Buffer
		if err := p.Encode(&b); err != nil {
			return nil, cfg, fmt.Errorf("build AudioSpecificConfig: %w", err)
		}
		asc, parsed = b.Bytes(), p
	}
	if sampleRate <= 0 && parsed != nil {
		sampleRate = parsed.SamplingFrequency
		if parsed.SBRPresentFlag && parsed.ExtensionFrequency > 0 {
			sampleRate = parsed.ExtensionFrequency
		}
	}
	if channels <= 0 && parsed != nil {
		channels = int(parsed.ChannelConfiguration)
		if parsed.PSPresentFlag {
			channels = 2
		}
	}
	if sampleRate <= 0 {
		return nil, cfg, errors.New("AAC track with unknown sample rate")
	}
	if channels <= 0 {
		channels = 2
	}
	frameDur := uint32(aacFrameSamples)
	if parsed != nil && parsed.SamplingFrequency > 0 && sampleRate%parsed.SamplingFrequency == 0 {
		// HE-AAC: a frame is 1024 samples at the core rate, 2048 at the output rate.
		frameDur = uint32(aacFrameSamples * (sampleRate / parsed.SamplingFrequency))
	}
	entryRate := sampleRate
	if entryRate > 0xffff {
		entryRate = 0 // does not fit the 16.16 field; decoders take the rate from the esds
	}
	trak = mp4ff.CreateEmptyTrak(id, uint32(sampleRate), "audio", "und")
	trak.Mdia.Hdlr.Name = "SoundHandler"
	esds := mp4ff.CreateEsdsBox(asc)
	entry := mp4ff.CreateAudioSampleEntryBox("mp4a", uint16(channels), 16, uint16(entryRate), esds)
	trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	return trak, trackConfig{id: id, timescale: uint32(sampleRate), frameDur: frameDur}, nil
}

// locateDurations walks the encoded init segment and records where the mvhd, tkhd and mehd
// 64-bit duration fields are.
func (s *initSegment) locateDurations(nTracks int) error {
	s.mvhdDur, s.mehdDur = -1, -1
	s.tkhdDurs = make([]int, nTracks)
	for i := range s.tkhdDurs {
		s.tkhdDurs[i] = -1
	}
	err := walkBoxes(s.data, 0, len(s.data), func(typ string, start, end int) error {
		switch typ {
		case "moov", "trak", "mvex":
			return errDescend
		case "mvhd":
			if end-start < 40 || s.data[start+8] != 1 {
				return errors.New("mp4: mvhd is not version 1")
			}
			s.mvhdDur = start + 32 // header 8, version/flags 4, creation 8, modification 8, timescale 4
		case "tkhd":
			if end-start < 44 || s.data[start+8] != 1 {
				return errors.New("mp4: tkhd is not version 1")
			}
			id := int(binary.BigEndian.Uint32(s.data[start+28:]))
			if id < 1 || id > nTracks {
				return fmt.Errorf("mp4: unexpected track id %d", id)
			}
			s.tkhdDurs[id-1] = start + 36 // ... track_ID 4, reserved 4
		case "mehd":
			if end-start < 20 || s.data[start+8] != 1 {
				return errors.New("mp4: mehd is not version 1")
			}
			s.mehdDur = start + 12
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.mvhdDur < 0 || s.mehdDur < 0 {
		return errors.New("mp4: init segment lacks mvhd or mehd")
	}
	for i, off := range s.tkhdDurs {
		if off < 0 {
			return fmt.Errorf("mp4: init segment lacks tkhd for track %d", i+1)
		}
	}
	return nil
}

var errDescend = errors.New("descend")

// walkBoxes calls fn for every box in data[start:end]; fn returning errDescend walks into the box.
func walkBoxes(data []byte, start, end int, fn func(typ string, start, end int) error) error {
	for pos := start; pos < end; {
		if end-pos < 8 {
			return fmt.Errorf("mp4: truncated box header at %d", pos)
		}
		size := int(binary.BigEndian.Uint32(data[pos:]))
		if size < 8 || pos+size > end {
			return fmt.Errorf("mp4: bad box size %d at %d", size, pos)
		}
		typ := string(data[pos+4 : pos+8])
		switch err := fn(typ, pos, pos+size); {
		case errors.Is(err, errDescend):
			if err := walkBoxes(data, pos+8, pos+size, fn); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		pos += size
	}
	return nil
}
