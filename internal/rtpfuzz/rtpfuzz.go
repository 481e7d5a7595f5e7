// Package rtpfuzz turns fuzz input into a sequence of RTP packets, for the fuzz targets of the
// RTP depacketizers (internal/rtp, and RTSP's use of them): each packet is a small header of
// three bytes (flags and sequence step, timestamp step, payload length) and then its payload,
// so the fuzzer can mutate payloads and the order, loss, duplication and framing of packets
// alike.
package rtpfuzz

import "github.com/pion/rtp"

// Packet is one packet from the input and what the input says happened before it.
type Packet struct {
	*rtp.Packet
	LostBefore bool // the packet follows a gap (as a jitter buffer reports it)
}

// Packets decodes data. Record: flags (bit 0 marker, bit 1 lost before, bits 4-7 the sequence
// step minus 2: -2 to 13, so reordering, duplicates and gaps), timestamp step in units of
// 300 (90 kHz: 1/300 s), payload length; then the payload (cut short at the end of data).
func Packets(data []byte) []Packet {
	var out []Packet
	seq, ts := uint16(1000), uint32(90000)
	for len(data) >= 3 {
		flags, step, n := data[0], data[1], int(data[2])
		data = data[3:]
		n = min(n, len(data))
		seq += uint16(int(flags>>4) - 2)
		ts += uint32(step) * 300
		out = append(out, Packet{
			Packet: &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: flags&1 != 0, SSRC: 1},
				Payload: append([]byte(nil), data[:n]...),
			},
			LostBefore: flags&2 != 0,
		})
		data = data[n:]
	}
	return out
}

// Encode is the inverse of Packets for seeds: packets of consecutive sequence numbers, their
// timestamp steps given in units of 300 (payloads over 255 bytes are cut).
func Encode(pkts []*rtp.Packet) []byte {
	var out []byte
	var lastTS uint32
	for i, p := range pkts {
		flags := byte(3 << 4) // step 1
		if p.Marker {
			flags |= 1
		}
		step := byte(0)
		if i > 0 {
			step = byte((p.Timestamp - lastTS) / 300)
		}
		lastTS = p.Timestamp
		pl := p.Payload[:min(len(p.Payload), 255)]
		out = append(out, flags, step, byte(len(pl)))
		out = append(out, pl...)
	}
	return out
}
