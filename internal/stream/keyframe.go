package stream

// SetKeyframeRequest registers how to ask the publisher for a new video keyframe (the WebRTC
// ingest sends PLI/FIR); nil: it cannot.
func (s *Stream) SetKeyframeRequest(fn func()) {
	if fn == nil {
		s.keyframe.Store(nil)
		return
	}
	s.keyframe.Store(&fn)
}

// KeyframeRequest returns how to ask the publisher for a new video keyframe, nil when it
// cannot (an RTMP or RTSP publisher sends keyframes at its own pace). A subscriber that needs
// to start at a keyframe soon (a recording started on demand) calls it.
func (s *Stream) KeyframeRequest() func() {
	if fn := s.keyframe.Load(); fn != nil {
		return *fn
	}
	return nil
}
