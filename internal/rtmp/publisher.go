package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"

	"github.com/streamrec/streamrec/internal/audio"
	"github.com/streamrec/streamrec/internal/ingest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/stream"
)

// FLV codec ids (video_file_format_spec_v10, E.4.2 and E.4.3).
const (
	flvCodecAVC   = 7
	flvSoundAAC   = 10
	flvKeyframe   = 1
	flvSeqHeader  = 0
	flvMediaFrame = 1
)

// stageConfig: until the publisher has said what it sends (metadata and sequence headers),
// frames wait in the ingest stage; its limits bound the wait so a publisher that never sends a
// sequence header cannot hold memory (past them the stream publishes what is configured).
// RTMP carries one clock for both tracks: no sender reports to wait for.
var stageConfig = ingest.Config{Limits: ingest.Limits{Frames: 600, Media: 5 * time.Second, Bytes: 8 << 20}, Timer: true}

// publisher turns one RTMP publication's FLV tags into the stream's tracks and frames.
type publisher struct {
	st    *stream.Stream
	stage *ingest.Stage

	// What metadata announced (onMetaData): nil when there was none.
	expectVideo, expectAudio *bool

	vtrack, atrack *media.Track // configured from sequence headers
	newParams      *media.Track // a sequence header changed the video's description: set on the next keyframe
	nalLen         int          // AVC NAL length size of the sequence header
	published      bool
	audioSeen      int  // audio frames seen while no video message arrived
	videoSeen      bool // any video message arrived
	warned         map[string]bool
	refused        string // why the audio is not recorded, until the publisher is told

	clock timestamps
}

func newPublisher(st *stream.Stream) *publisher {
	return &publisher{st: st, stage: ingest.New(st, st.Log(), stageConfig), warned: map[string]bool{}}
}

// metadata reads onMetaData ("@setDataFrame", "onMetaData", {...} as ffmpeg and OBS send it, or
// "onMetaData", {...}) to learn which tracks to wait for.
func (p *publisher) metadata(vals []any) {
	if len(vals) > 0 && vals[0] == "@setDataFrame" {
		vals = vals[1:]
	}
	if len(vals) < 2 || vals[0] != "onMetaData" {
		return
	}
	meta, ok := vals[1].(amf0.Object)
	if !ok {
		return
	}
	v := isCodec(meta.Get("videocodecid"), flvCodecAVC, "avc1")
	a := isCodec(meta.Get("audiocodecid"), flvSoundAAC, "mp4a") || recordableSound(meta.Get("audiocodecid"))
	p.expectVideo, p.expectAudio = &v, &a
}

// recordableSound tells whether a metadata audio codec id is a sound format transcoded to AAC.
func recordableSound(v any) bool {
	id, ok := v.(float64)
	if !ok || id != float64(int(id)) {
		return false
	}
	c, ok := flvCodecs[int(id)]
	return ok && audio.Supported(c)
}

// isCodec reads a metadata codec id given as a number or as a FourCC string.
func isCodec(v interface{}, id float64, fourcc string) bool {
	switch v := v.(type) {
	case float64:
		return v == id
	case string:
		return v == fourcc
	}
	return false
}

// video takes one video tag; buf, when set, is the pooled buffer holding b, which frames made
// of it share (they take their own references).
func (p *publisher) video(ts uint32, b []byte, buf *media.Buffer) error {
	p.videoSeen = true
	if len(b) == 0 {
		return nil
	}
	if b[0]&0x80 != 0 || b[0]&0x0f != flvCodecAVC {
		reason := fmt.Sprintf("video codec %s over RTMP cannot be recorded: publish H.264", flvVideoCodec(b))
		p.st.Fail(reason)
		return errors.New(reason)
	}
	if len(b) < 5 {
		return nil
	}
	switch b[1] {
	case flvSeqHeader:
		return p.videoConfig(b[5:])
	case flvMediaFrame:
		if p.vtrack == nil {
			return nil // no decoder configuration yet: undecodable
		}
		cts := int32(uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4])) << 8 >> 8 // signed 24-bit
		dts := p.clock.at(ts)
		f := media.Frame{DTS: dts, PTS: dts + time.Duration(cts)*time.Millisecond, Key: b[0]>>4 == flvKeyframe}
		if err := p.samples(&f, b[5:], buf); err != nil {
			p.warnOnce("video", "bad video frame dropped", err)
			return nil
		}
		if f.Key {
			p.keyParams(&f)
		}
		p.frame(media.Video, f)
	}
	return nil
}

func (p *publisher) videoConfig(rec []byte) error {
	rec = append([]byte(nil), rec...) // the decoded parameter sets point into it; the payload buffer is reused
	conf, err := avc.DecodeAVCDecConfRec(rec)
	if err != nil || len(conf.SPSnalus) == 0 || len(conf.PPSnalus) == 0 || len(rec) < 5 {
		p.warnOnce("avcC", "bad H.264 sequence header ignored", err)
		return nil
	}
	if _, err := media.ParseSPS(conf.SPSnalus[0]); err != nil {
		p.warnOnce("avcC", "bad H.264 sequence header ignored", err)
		return nil
	}
	p.nalLen = int(rec[4]&3) + 1
	cur := media.Track{Kind: media.Video, Codec: media.H264}
	if p.vtrack != nil {
		cur = *p.vtrack
	}
	t := media.ChangedParams(cur, conf.SPSnalus, conf.PPSnalus)
	if t == nil {
		return nil // the same again (encoders repeat it)
	}
	if p.published {
		// The new parameters apply from the next keyframe on: the recorder begins a new file there.
		p.newParams = t
	}
	p.vtrack = t
	return nil
}

// keyParams sets a keyframe's Params when the video's description changed: by a sequence
// header since the last keyframe, or by parameter sets sent in-band in this keyframe.
func (p *publisher) keyParams(f *media.Frame) {
	if !p.published {
		return // the stream is published with the latest description
	}
	if t := media.InBandParams(*p.vtrack, f.Data); t != nil {
		p.vtrack, p.newParams = t, t
	}
	f.Params, p.newParams = p.newParams, nil
}

// audio takes one audio tag; buf, when set, is the pooled buffer holding b (as for video).
func (p *publisher) audio(ts uint32, b []byte, buf *media.Buffer) error {
	if len(b) < 2 {
		return nil
	}
	if b[0]>>4 != flvSoundAAC {
		return p.otherAudio(ts, b, buf)
	}
	switch b[1] {
	case flvSeqHeader:
		asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(b[2:]))
		if err != nil {
			p.warnOnce("asc", "bad AAC sequence header ignored", err)
			return nil
		}
		p.atrack = &media.Track{
			Kind: media.Audio, Codec: media.AAC, SampleRate: asc.SamplingFrequency,
			Channels: max(int(asc.ChannelConfiguration), 1), Config: append([]byte(nil), b[2:]...),
		}
	case flvMediaFrame:
		if p.atrack == nil || p.atrack.Codec != media.AAC || len(b) == 2 {
			return nil
		}
		p.audioFrame(ts, b[2:], buf)
	}
	return nil
}

// flvCodecs are the sound formats other than AAC that are recorded (transcoded to AAC).
var flvCodecs = map[int]media.Codec{
	flvSoundMP3: media.MP3, flvSoundMP3At8k: media.MP3,
	flvSoundNelly16k: media.Nellymoser, flvSoundNelly8k: media.Nellymoser, flvSoundNelly: media.Nellymoser,
	flvSoundALaw: media.PCMA, flvSoundMuLaw: media.PCMU, flvSoundSpeex: media.Speex,
}

// otherAudio takes a tag of a sound format without sequence headers: the track is configured
// from the first tag's header (and, for MP3, its frame header, which has the real rate).
func (p *publisher) otherAudio(ts uint32, b []byte, buf *media.Buffer) error {
	h := parseFLVAudioHeader(b[0])
	codec, ok := flvCodecs[h.Format]
	if !ok || !audio.Supported(codec) {
		p.refuseAudio(flvSoundName(h.Format))
		return nil
	}
	if codec == media.MP3 {
		mh, err := parseMP3Header(b[1:])
		if err != nil {
			p.warnOnce("mp3", "MP3 tag without a frame header ignored", err)
			return nil
		}
		h.SampleRate, h.Channels = mh.SampleRate, mh.Channels
	}
	if p.atrack == nil {
		p.atrack = &media.Track{Kind: media.Audio, Codec: codec, SampleRate: h.SampleRate, Channels: h.Channels}
	} else if p.atrack.Codec != codec {
		p.warnOnce("audiochange", "audio codec changed mid-stream: the new one is ignored", fmt.Errorf("%s", flvSoundName(h.Format)))
		return nil
	}
	p.audioFrame(ts, b[1:], buf)
	return nil
}

// refuseAudio says, once, that the publisher's audio cannot be recorded: in the log, to the
// publisher (onStatus) and in the stream's info; the video still records.
func (p *publisher) refuseAudio(codec string) {
	if p.warned["audiocodec"] {
		return
	}
	msg := "audio is not recorded: " + codec + " over RTMP cannot be decoded; the video is recorded"
	p.warnOnce("audiocodec", msg, nil)
	p.st.Note(msg)
	p.refused = msg
}

// takeRefusal returns, once, why the audio is refused, for the connection to tell the publisher.
func (p *publisher) takeRefusal() string {
	msg := p.refused
	p.refused = ""
	return msg
}

// audioFrame passes one audio tag's payload on as a frame at the tag's timestamp.
func (p *publisher) audioFrame(ts uint32, payload []byte, buf *media.Buffer) {
	if !p.videoSeen {
		p.audioSeen++
	}
	dts := p.clock.at(ts)
	f := media.Frame{DTS: dts, PTS: dts, Key: true}
	p.share(&f, payload, buf)
	p.frame(media.Audio, f)
}

// share makes payload, held by buf, f's data, with a reference of f's own; without buf (a
// caller whose payload is not pooled) it is copied into a pooled buffer.
func (p *publisher) share(f *media.Frame, payload []byte, buf *media.Buffer) {
	if buf == nil {
		buf = media.NewBuffer(len(payload))
		copy(buf.Bytes(), payload)
		f.Data, f.Buf = buf.Bytes(), buf
		return
	}
	f.Data, f.Buf = payload, buf
	f.Retain()
}

// samples makes an AVC frame's payload f's data, with 4-byte NAL lengths as the media model
// uses: shared with the tag when they are already (as encoders send them), else rewritten.
func (p *publisher) samples(f *media.Frame, b []byte, buf *media.Buffer) error {
	if p.nalLen == 4 {
		p.share(f, b, buf)
		return nil
	}
	out, err := avcSamples(b, p.nalLen)
	if err != nil {
		return err
	}
	f.Data, f.Buf = out.Bytes(), out
	return nil
}

// frame passes a frame to the ingest stage, and publishes the tracks once they are known. It
// drops the frame's reference to its pooled payload: the stage takes its own.
func (p *publisher) frame(kind media.Kind, f media.Frame) {
	p.stage.Write(kind, f, time.Now())
	f.Release()
	if !p.published && (p.stage.Full() || p.ready(kind, f)) {
		p.publish() // when full: waited long enough, go with what is configured
	}
}

// ready tells whether every track the publisher sends is configured, given the frame just written.
func (p *publisher) ready(kind media.Kind, f media.Frame) bool {
	if p.expectVideo != nil {
		return (!*p.expectVideo || p.vtrack != nil) && (!*p.expectAudio || p.atrack != nil)
	}
	// No metadata: a video keyframe means video is flowing (with audio if its header came);
	// a run of audio with no video at all means an audio-only publisher.
	return (kind == media.Video && f.Key) || (!p.videoSeen && p.audioSeen >= 25)
}

func (p *publisher) publish() {
	var tracks []media.Track
	for _, t := range []*media.Track{p.vtrack, p.atrack} {
		if t != nil {
			tracks = append(tracks, *t)
		}
	}
	p.published = true
	p.stage.Publish(tracks, time.Now())
}

// end unpublishes: the frames still in the stage are written, and the recording is finished
// before this returns.
func (p *publisher) end() {
	p.stage.Flush()
	p.st.Unpublish()
}

func (p *publisher) warnOnce(key, msg string, err error) {
	if p.warned[key] {
		return
	}
	p.warned[key] = true
	if err == nil {
		p.st.Log().Warn(msg)
		return
	}
	p.st.Log().Warn(msg, "err", err)
}

// avcSamples copies an AVC frame into a pooled buffer, rewriting its NAL lengths of nalLen
// bytes to the 4 bytes the media model uses.
func avcSamples(b []byte, nalLen int) (*media.Buffer, error) {
	// Walk the NAL units once for the size, then copy them with 4-byte lengths.
	size := 0
	for rest := b; len(rest) > 0; {
		if len(rest) < nalLen {
			return nil, errors.New("truncated NAL length")
		}
		n := nalSize(rest, nalLen)
		rest = rest[nalLen:]
		if n > len(rest) {
			return nil, errors.New("NAL unit longer than the frame")
		}
		size += 4 + n
		rest = rest[n:]
	}
	buf := media.NewBuffer(size)
	out := buf.Bytes()[:0]
	for len(b) > 0 {
		n := nalSize(b, nalLen)
		b = b[nalLen:]
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return buf, nil
}

func nalSize(b []byte, nalLen int) int {
	n := 0
	for _, c := range b[:nalLen] {
		n = n<<8 | int(c)
	}
	return n
}

// flvVideoCodec names the codec of a video tag (b is not empty). Enhanced RTMP (OBS 30 and
// later for HEVC and AV1) marks its tags with the high bit and names the codec by FourCC.
func flvVideoCodec(b []byte) string {
	if b[0]&0x80 != 0 {
		if len(b) < 5 {
			return "(enhanced RTMP)"
		}
		fourcc := string(b[1:5])
		names := map[string]string{"hvc1": "HEVC", "av01": "AV1", "vp09": "VP9", "avc1": "H.264"}
		if n, ok := names[fourcc]; ok {
			return fmt.Sprintf("%s (enhanced RTMP %q)", n, fourcc)
		}
		return fmt.Sprintf("%q (enhanced RTMP)", fourcc)
	}
	names := map[byte]string{2: "Sorenson H.263", 3: "Screen video", 4: "VP6", 5: "VP6 alpha", 6: "Screen video 2", 7: "H.264"}
	if n, ok := names[b[0]&0x0f]; ok {
		return n
	}
	return fmt.Sprintf("id %d", b[0]&0x0f)
}

// timestamps extends RTMP's 32-bit millisecond clock, which wraps after 49 days.
type timestamps struct {
	last  uint32
	epoch int64
	seen  bool
}

func (t *timestamps) at(ts uint32) time.Duration {
	if t.seen && ts < t.last && t.last-ts > 1<<31 {
		t.epoch += 1 << 32
	}
	t.last, t.seen = ts, true
	return time.Duration(t.epoch+int64(ts)) * time.Millisecond
}
