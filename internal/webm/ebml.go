package webm

import (
	"encoding/binary"
	"math"
)

// Element IDs (Matroska/WebM), with their length-marker bits as they appear in the file.
const (
	idEBML               = 0x1A45DFA3
	idEBMLVersion        = 0x4286
	idEBMLReadVersion    = 0x42F7
	idEBMLMaxIDLength    = 0x42F2
	idEBMLMaxSizeLength  = 0x42F3
	idDocType            = 0x4282
	idDocTypeVersion     = 0x4287
	idDocTypeReadVersion = 0x4285

	idSegment      = 0x18538067
	idSeekHead     = 0x114D9B74
	idSeek         = 0x4DBB
	idSeekID       = 0x53AB
	idSeekPosition = 0x53AC
	idVoid         = 0xEC

	idInfo          = 0x1549A966
	idTimecodeScale = 0x2AD7B1
	idMuxingApp     = 0x4D80
	idWritingApp    = 0x5741
	idDuration      = 0x4489

	idTracks            = 0x1654AE6B
	idTrackEntry        = 0xAE
	idTrackNumber       = 0xD7
	idTrackUID          = 0x73C5
	idTrackType         = 0x83
	idFlagLacing        = 0x9C
	idCodecID           = 0x86
	idCodecPrivate      = 0x63A2
	idVideo             = 0xE0
	idPixelWidth        = 0xB0
	idPixelHeight       = 0xBA
	idAudio             = 0xE1
	idSamplingFrequency = 0xB5
	idChannels          = 0x9F

	idCluster     = 0x1F43B675
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3

	idCues               = 0x1C53BB6B
	idCuePoint           = 0xBB
	idCueTime            = 0xB3
	idCueTrackPositions  = 0xB7
	idCueTrack           = 0xF7
	idCueClusterPosition = 0xF1
)

// appendID appends an element ID.
func appendID(b []byte, id uint32) []byte {
	switch {
	case id > 0xFFFFFF:
		return append(b, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFFFF:
		return append(b, byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFF:
		return append(b, byte(id>>8), byte(id))
	}
	return append(b, byte(id))
}

// sizeLen is the length of the shortest EBML variable-size integer holding n
// (the all-ones value of each length is reserved for "unknown").
func sizeLen(n uint64) int {
	l := 1
	for l < 8 && n >= 1<<(7*l)-1 {
		l++
	}
	return l
}

// appendSize appends a data size as the shortest EBML variable-size integer.
func appendSize(b []byte, n uint64) []byte {
	l := sizeLen(n)
	v := n | 1<<(7*l)
	for i := l - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// putSize8 writes n as an 8-byte EBML size into p[:8], so it can be patched in place later.
func putSize8(p []byte, n uint64) {
	binary.BigEndian.PutUint64(p, n|1<<56)
}

// unknownSize8 is the 8-byte "unknown size" marker.
var unknownSize8 = []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// appendUint appends an unsigned-integer element in its shortest form.
func appendUint(b []byte, id uint32, v uint64) []byte {
	n := 1
	for n < 8 && v>>(8*n) != 0 {
		n++
	}
	return appendUintFixed(b, id, v, n)
}

// appendUintFixed appends an unsigned-integer element always n bytes long, so it can be patched.
func appendUintFixed(b []byte, id uint32, v uint64, n int) []byte {
	b = appendID(b, id)
	b = append(b, 0x80|byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// appendFloat appends an 8-byte float element.
func appendFloat(b []byte, id uint32, f float64) []byte {
	b = appendID(b, id)
	b = append(b, 0x88)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// appendBytes appends a binary or string element.
func appendBytes(b []byte, id uint32, p []byte) []byte {
	b = appendID(b, id)
	b = appendSize(b, uint64(len(p)))
	return append(b, p...)
}

// appendMaster appends a master element whose children are already encoded in content.
func appendMaster(b []byte, id uint32, content []byte) []byte {
	b = appendID(b, id)
	b = appendSize(b, uint64(len(content)))
	return append(b, content...)
}

// appendVoid appends a Void element exactly n bytes long (2 <= n <= 128).
func appendVoid(b []byte, n int) []byte {
	b = append(b, idVoid, 0x80|byte(n-2))
	return append(b, make([]byte, n-2)...)
}

// uintValue reads an unsigned-integer element's data.
func uintValue(p []byte) uint64 {
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v
}

// floatValue reads a float element's data (4 or 8 bytes; anything else reads as 0).
func floatValue(p []byte) float64 {
	switch len(p) {
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(p))
	}
	return 0
}
